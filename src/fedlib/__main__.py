"""``python -m fedlib`` runs the CLI."""

import sys

from fedlib.cli import main

sys.exit(main())
