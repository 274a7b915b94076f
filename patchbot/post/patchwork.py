"""Report a patchbot check to a Patchwork server (REST API, ``/api/patches/{id}/checks/``).

Patchwork finds a patch by Message-ID (``GET /api/patches/?msgid=ID``); the check carries
``state`` (pending, success, warning, fail), ``context`` (a slug naming the checker),
``target_url`` and ``description``.  Writing needs an API token, sent as
``Authorization: Token <token>``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import requests

from patchbot.errors import InputError
from patchbot.post.settings import PatchworkSettings

log = logging.getLogger(__name__)

STATES = ("pending", "success", "warning", "fail")


@dataclass(frozen=True)
class Check:
    message_id: str  # of the patch, without <>
    state: str
    description: str
    target_url: str | None = None


class Patchwork:
    def __init__(
        self,
        settings: PatchworkSettings,
        *,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self.http = session or requests.Session()
        self.http.headers["Accept"] = "application/json"
        if settings.token:
            self.http.headers["Authorization"] = f"Token {settings.token}"

    def _call(self, method: str, url: str, **kwargs: object) -> requests.Response:
        try:
            resp = self.http.request(method, url, timeout=self.timeout, **kwargs)  # type: ignore[arg-type]
        except requests.RequestException as exc:
            text = str(exc).strip().splitlines()
            raise InputError(
                f"patchwork {url}: {type(exc).__name__}: {text[0] if text else ''}"
            ) from None
        if resp.status_code >= 400:
            detail = " ".join(resp.text.split())[:200]
            raise InputError(f"patchwork {url}: HTTP {resp.status_code} {resp.reason}: {detail}")
        return resp

    def patch_id(self, message_id: str) -> int | None:
        url = f"{self.settings.url}/api/patches/"
        mid = f"<{message_id.strip().strip('<>')}>"
        found = self._call("GET", url, params={"msgid": mid}).json()
        if not isinstance(found, list):
            raise InputError(f"patchwork {url}: expected a list of patches")
        for item in found:
            if isinstance(item, dict) and isinstance(item.get("id"), int):
                return int(item["id"])
        return None

    def post_check(self, check: Check) -> int | None:
        """The patch id the check was recorded on, or None when Patchwork lacks the patch."""
        if check.state not in STATES:
            raise InputError(
                f"patchwork check state {check.state!r}: use one of {', '.join(STATES)}"
            )
        patch_id = self.patch_id(check.message_id)
        if patch_id is None:
            log.info("patchwork: no patch for <%s>; check not posted", check.message_id)
            return None
        body = {
            "state": check.state,
            "context": self.settings.context,
            "description": check.description[:255],
        }
        target = check.target_url or self.settings.target_url
        if target:
            body["target_url"] = target
        self._call("POST", f"{self.settings.url}/api/patches/{patch_id}/checks/", json=body)
        log.info("patchwork: check %s on patch %d (<%s>)", check.state, patch_id, check.message_id)
        return patch_id
