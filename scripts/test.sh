#!/usr/bin/env bash
# Run the whole test suite (after installing what it needs). .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec python3 -m pytest -p no:cacheprovider "$@"
