"""patchbot: review, generate and validate kernel patches for CoCo guest memory code."""

__version__ = "0.1.0"
