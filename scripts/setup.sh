#!/usr/bin/env bash
# Install everything patchbot needs on a fresh Debian 12 machine: Debian packages (the real
# kernel tree, its build tools, QEMU, public-inbox, busybox, gcc) and the Python package with
# its test extras. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# The package list lives in patchbot/hosttools.py (stdlib only, so it runs before pip
# install); the test session checks the same table and names anything still missing.
read -r -a DEB_PACKAGES <<< "$(python3 patchbot/hosttools.py)"

missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if ! python3 -c "import patchbot, tree_sitter_c, unidiff, git, hypothesis, aiosmtpd, b4" 2>/dev/null \
   || [ "${PATCHBOT_REINSTALL:-}" = 1 ]; then
    echo "setup: installing patchbot and its Python dependencies" >&2
    python3 -m pip install -q --disable-pip-version-check -e '.[test]' >&2
fi
