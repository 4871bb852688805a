"""Reliability tests: make the fault-injection models and the tiny-suite builder importable.

Pool workers inherit ``sys.path`` (the executor passes it as PYTHONPATH), so suites can
name ``faulty_models:hangs`` in worker processes too.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
for folder in (HERE, HERE.parent / "runner"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
