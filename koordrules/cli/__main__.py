"""``python -m koordrules.cli``."""

import sys

from koordrules.cli import main

sys.exit(main())
