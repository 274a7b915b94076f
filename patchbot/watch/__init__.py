"""The archive-watching bot: poll, group into series, lint, reply (see loop.py)."""
