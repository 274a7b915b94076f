"""Turning review replies into mail and getting each one to the list exactly once.

message.py builds the RFC 5322 message with a deterministic Message-ID, settings.py reads
the sender/SMTP/list settings (git's sendemail.* and [post]), policy.py decides whether a
list may be written to, ledger.py remembers every reply in SQLite, smtp.py delivers,
deliver.py ties them together, patchwork.py reports a check to a Patchwork server.
"""
