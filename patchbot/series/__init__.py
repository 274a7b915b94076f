"""Series input: mbox, format-patch directory, single patch, stdin, git range, archive."""
