"""Deliver one message over SMTP the way git send-email does (sendemail.* semantics).

Every failure is a DeliveryError that says whether the message may nevertheless have
arrived (the connection broke after DATA was under way): the caller keeps the reply
queued either way, and checks the archive before it retries an uncertain one.
"""

from __future__ import annotations

import logging
import smtplib
import ssl

from patchbot.post.settings import SmtpSettings

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    def __init__(self, message: str, *, uncertain: bool) -> None:
        super().__init__(message)
        self.uncertain = uncertain


def _connect(settings: SmtpSettings) -> smtplib.SMTP:
    host, port, timeout = settings.server, settings.effective_port, settings.timeout
    if settings.encryption == "ssl":
        return smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
    client = smtplib.SMTP(host, port, timeout=timeout)
    if settings.encryption == "tls":
        client.starttls(context=ssl.create_default_context())
        client.ehlo()
    return client


def send(settings: SmtpSettings, envelope_from: str, rcpts: list[str], raw: bytes) -> None:
    """Hand ``raw`` (CRLF-terminated RFC 5322 bytes) to the server for ``rcpts``."""
    where = f"SMTP {settings.server}:{settings.effective_port}"
    handed_over = False  # True once DATA started: from then on the outcome is unknown
    try:
        client = _connect(settings)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{where}: cannot connect: {_short(exc)}", uncertain=False) from None
    try:
        client.ehlo_or_helo_if_needed()
        if settings.user:
            client.login(settings.user, settings.password or "")
        code, resp = client.mail(envelope_from)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, resp, envelope_from)
        accepted = 0
        for rcpt in rcpts:
            code, resp = client.rcpt(rcpt)
            if code in (250, 251):
                accepted += 1
            else:
                log.warning("%s refused recipient %s: %d %s", where, rcpt, code, _text(resp))
        if not accepted:
            raise smtplib.SMTPRecipientsRefused({r: (code, resp) for r in rcpts})
        handed_over = True
        code, resp = client.data(raw)
        if code != 250:
            raise smtplib.SMTPDataError(code, resp)
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"{where} refused the message: {exc.smtp_code} {_text(exc.smtp_error)}",
            uncertain=False,
        ) from None
    except smtplib.SMTPRecipientsRefused as exc:
        first = next(iter(exc.recipients.values()), (0, b""))
        raise DeliveryError(
            f"{where} refused every recipient: {first[0]} {_text(first[1])}", uncertain=False
        ) from None
    except (OSError, smtplib.SMTPException) as exc:
        stage = "during the message" if handed_over else "before the message"
        raise DeliveryError(
            f"{where}: connection lost {stage}: {_short(exc)}", uncertain=handed_over
        ) from None
    finally:
        try:
            client.quit()
        except (OSError, smtplib.SMTPException):
            client.close()


def _text(resp: bytes | str) -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return " ".join(text.split())


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
