"""Run the tour and paste its real output into README.md between the tour markers.

Run it after changing a rule or the example: python3 scripts/update_readme_tour.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- tour:begin -->", "<!-- tour:end -->"


def main() -> int:
    result = subprocess.run(["bash", "scripts/tour.sh"], cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        return result.returncode
    readme = (REPO / "README.md").read_text()
    head, rest = readme.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    block = f"{BEGIN}\n```console\n{result.stdout.rstrip()}\n```\n{END}"
    (REPO / "README.md").write_text(head + block + tail)
    return 0


if __name__ == "__main__":
    sys.exit(main())
