"""mail._parse_email() skips the line-by-line body parse for one-part mails; it must
give the same headers and body as email.message_from_bytes() for every shape of mail."""

from __future__ import annotations

import email
from email.policy import compat32

import pytest

from patchbot.series.mail import _parse_email

PLAIN = (
    b"From: A Developer <dev@example.org>\n"
    b"Subject: [PATCH 1/2] virtio-mem: =?utf-8?q?unshare_=C3=A9?=\n"
    b" blocks before unplug\n"
    b"Content-Type: text/plain; charset=utf-8\n"
    b"\n"
    b"Commit message.\n\n---\n diff --git a/x.c b/x.c\n\xc3\xa9\n"
)
MULTIPART = (
    b"From: dev@example.org\n"
    b'Content-Type: multipart/mixed; boundary="b1"\n'
    b"\n"
    b"--b1\nContent-Type: text/plain\n\nbody\n--b1\n"
    b"Content-Type: text/x-patch\n\n--- a/x.c\n+++ b/x.c\n--b1--\n"
)
NO_SEPARATOR = b"From: dev@example.org\nSubject: x\nnot a header line\n\nbody\n"
CRLF = b"From: dev@example.org\r\nSubject: x\r\n\r\nbody\r\n"


@pytest.mark.parametrize("raw", [PLAIN, MULTIPART, NO_SEPARATOR, CRLF], ids=str)
def test_same_message_as_the_full_parse(raw: bytes) -> None:
    full = email.message_from_bytes(raw, policy=compat32)
    fast = _parse_email(raw)
    assert fast.items() == full.items()
    assert fast.is_multipart() == full.is_multipart()
    if full.is_multipart():
        leaves = [p.get_payload() for p in full.walk() if not p.is_multipart()]
        assert [p.get_payload() for p in fast.walk() if not p.is_multipart()] == leaves
    else:
        assert fast.get_payload() == full.get_payload()
        assert fast.get_payload(decode=True) == full.get_payload(decode=True)
