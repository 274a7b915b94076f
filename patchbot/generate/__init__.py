"""Patch generation: jinja2 templates rendered onto a kernel tree (docs/GENERATE.md).

cfile.py finds top-level definitions and anchors in a C file; render.py loads templates
(user directory first, bundled second) with StrictUndefined; features.py says what each
feature series edits; series.py commits the edits with gitpython and runs format-patch.
"""
