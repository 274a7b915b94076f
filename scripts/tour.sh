#!/usr/bin/env bash
# The main job on the bundled example: install what is needed, then
#  1. lint the bundled RFC-shaped virtio-mem CoCo series against the real 6.1 tree, and
#  2. boot the unpatched virtio_mem.c of the default (newest) tree, 6.12, in the TDX model.
# It runs patchbot from this checkout's .venv (made by setup.sh); `patchbot` below is
# .venv/bin/patchbot.
set -uo pipefail
cd "$(dirname "$0")/.."
python=$(bash scripts/setup.sh) || exit $?
PATH="$(dirname "$python"):$PATH"

# the example series was written against Debian's 6.1 (`--tree 6.1`: the cached tree)
echo "\$ patchbot lint --tree 6.1 examples/virtio-mem-coco-rfc.mbox"
patchbot lint --tree 6.1 examples/virtio-mem-coco-rfc.mbox
lint_rc=$?
echo
echo "\$ patchbot boot --driver virtio-mem --platform tdx"
patchbot boot --driver virtio-mem --platform tdx
boot_rc=$?
echo
echo "tour: lint exit code $lint_rc, boot exit code $boot_rc (1 means findings were reported)"
# Findings are the expected outcome of the tour; only usage or internal errors fail it.
[ "$lint_rc" -le 1 ] && [ "$boot_rc" -le 1 ]
