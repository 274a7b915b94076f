import sys

from patchbot.cli import main

sys.exit(main())
