"""Series input: mbox, format-patch directory, single patch, stdin, git range, archive.

load.load_series() is the entry point; images.source_files() gives rules their C files.
mail.py decodes messages, commitmsg.py splits them, diffparse.py parses (and repairs)
diffs, assemble.py orders a series, apply.py applies hunks, gitrange.py and archive.py
fetch series from git and public-inbox.
"""
