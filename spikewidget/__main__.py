"""``python -m spikewidget``: the command line (see :mod:`spikewidget.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
