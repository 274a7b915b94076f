"""The guest platform names `boot` and `validate` accept, in report order.

Kept apart from state.py (which holds each platform's page-state profile) so the
command line can offer them as choices without importing the model.
"""

PLATFORMS = ("none", "tdx", "snp")
