"""``python -m server.client``: the trader command line (``server/client/cli.py``)."""

import sys

from server.client.cli import main

sys.exit(main(sys.argv[1:]))
