#!/usr/bin/env bash
# Install everything patchbot needs on a fresh Debian 12 machine: Debian packages (the real
# kernel trees, their build tools, QEMU, public-inbox, busybox, gcc, bubblewrap) and a
# virtual environment in .venv/ of this checkout holding patchbot and its Python packages.
# Debian's python is "externally managed" (PEP 668), so nothing is pip-installed into it.
# Safe to run again: it installs only what is missing.  It prints the venv's python on
# stdout (and nothing else) so tour.sh and test.sh run with it.
set -euo pipefail
cd "$(dirname "$0")/.."
checkout=$(pwd -P)

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_updated=""
apt_install() {
    if [ -z "$apt_updated" ]; then
        $SUDO apt-get update -qq >&2
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >&2
}

# The interpreter the venv is made from: Debian's own, unless PATCHBOT_PYTHON names another.
# The first python3 on PATH may be a pyenv or conda build; that hid the PEP 668 refusal once.
base_python=${PATCHBOT_PYTHON:-/usr/bin/python3}

# 1. Python itself and its venv module, before anything else runs python.
if ! { [ -x "$base_python" ] && "$base_python" -c 'import venv, ensurepip' 2>/dev/null; }; then
    echo "setup: installing Debian packages: python3 python3-venv" >&2
    apt_install python3 python3-venv
fi

# 2. linux-source-6.12 comes from bookworm-backports on Debian 12: enable that suite once.
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/ \
   && grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release; then
    echo "setup: enabling bookworm-backports (for linux-source-6.12)" >&2
    printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' \
        'Suites: bookworm-backports' 'Components: main' \
        'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' \
        | $SUDO tee /etc/apt/sources.list.d/patchbot-bookworm-backports.sources >/dev/null
    apt_updated=""
fi

# 3. The host tools; the list lives in patchbot/hosttools.py (stdlib only) and the test
# session checks the same table, naming anything still missing.
read -r -a DEB_PACKAGES <<< "$("$base_python" patchbot/hosttools.py)"
missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}" >&2
    apt_install "${missing[@]}"
fi

# 4. This checkout's own virtual environment.  A second clone gets its own: the check
# below asks the venv where `import patchbot` comes from, run outside the checkout.
venv="$checkout/.venv"
if [ ! -x "$venv/bin/python" ]; then
    echo "setup: creating the virtual environment $venv" >&2
    "$base_python" -m venv "$venv" >&2
fi
stamp="$venv/.patchbot-install"
want="$checkout $(cat pyproject.toml setup.py | sha256sum | cut -d' ' -f1)"
have=$(cat "$stamp" 2>/dev/null || true)
where=$(cd / && "$venv/bin/python" -c 'import patchbot, tree_sitter_c, unidiff, git, hypothesis, aiosmtpd, b4; print(patchbot.__file__)' 2>/dev/null || true)
if [ "$have" != "$want" ] || [ "$where" != "$checkout/patchbot/__init__.py" ] \
   || [ "${PATCHBOT_REINSTALL:-}" = 1 ]; then
    echo "setup: installing patchbot and its Python dependencies into $venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[test]" >&2
    echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
