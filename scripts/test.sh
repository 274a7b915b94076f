#!/usr/bin/env bash
# Run the whole test suite (after installing what it needs) with this checkout's .venv.
# .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
python=$(bash scripts/setup.sh)
PATH="$(dirname "$python"):$PATH"
exec "$python" -m pytest -p no:cacheprovider "$@"
