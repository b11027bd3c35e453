"""``python -m adapters.fix.simulator``: the FIX market-maker simulator (``app.py``)."""

import sys

from adapters.fix.simulator.app import main

sys.exit(main(sys.argv[1:]))
