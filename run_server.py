"""Start brokerd (docs/configuration.md): ``python run_server.py [FLAGS]``, the same as the
installed ``brokerd [FLAGS]``; ``python run_server.py admin ...`` is ``brokerd admin ...``.
The server itself is ``server/main.py``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run from a checkout, installed or not

from server.main import main  # after the path is set

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], prog="run_server.py"))
