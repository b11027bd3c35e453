"""``python -m server.client``: the trader command line (``server/client/sdk.py``)."""

import sys

from server.client.sdk import main

sys.exit(main(sys.argv[1:]))
