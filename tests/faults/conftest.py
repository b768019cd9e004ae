"""Fault suite: real processes, real sockets on 127.0.0.1, each bounded in time.

Reuses the process helpers (`procs`) and the scripted fault server (`faultserver`).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for sub in ("process", "integration"):
    path = str(HERE.parent / sub)
    if path not in sys.path:
        sys.path.insert(0, path)
