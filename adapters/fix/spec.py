"""Where the FIX 4.4 data dictionary is: ``$BROKERD_FIX_SPEC``, else the one quickfix
installs under ``<prefix>/share/quickfix/FIX44.xml``."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def fix44_dictionary() -> Path:
    configured = os.environ.get("BROKERD_FIX_SPEC")
    candidates = [Path(configured)] if configured else []
    candidates += [Path(prefix) / "share" / "quickfix" / "FIX44.xml" for prefix in (sys.prefix, sys.base_prefix, "/usr/local", "/usr")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("FIX44.xml not found; install quickfix (pip install quickfix) or set BROKERD_FIX_SPEC")
