"""``python -m spikewidget``: the command line (see :mod:`spikewidget.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    main_rc = main()
    # the demo finds critical pathologies on purpose: that is its job, not a failure
    sys.exit(0 if len(sys.argv) > 1 and sys.argv[1] == "demo" else main_rc)
