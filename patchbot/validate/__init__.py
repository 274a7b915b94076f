"""Validate patches by building and booting the real patched drivers.

apply.py   read a series with patchbot.series.load and apply it, patch by patch, to
           scratch copies of the files it touches (never the tree).
boot.py    build one driver file against the model shim and run its scenario matrix;
           results as Findings (the schema `lint` uses).
output.py  render those findings with patchbot/report (text, json, sarif, b4).
qemu.py    the real thing: boot a bzImage built by patchbot.kernel.build under QEMU
           (TCG) with a virtio-mem-pci device and judge the console (panic, oops,
           WARNING, driver not bound, MemTotal not grown) -- `patchbot boot --qemu`.
"""
