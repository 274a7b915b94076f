"""Validate patches by building and booting the real patched drivers in the model.

apply.py  apply a series to scratch copies of the files it touches (never the tree).
boot.py   build one driver file and run its scenario matrix; results as Findings.
"""
