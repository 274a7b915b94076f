"""Review replies: quoting, trimming and wrapping (quote.py), the mails (compose.py)."""
