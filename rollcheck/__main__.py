"""``python -m rollcheck`` runs the CLI."""

import sys

from rollcheck.cli import main

sys.exit(main())
