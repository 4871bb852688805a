"""The results store (SQLite): the only writer of ``results/segbench.sqlite``."""

from segbench.store.db import DB_NAME, Store, StoreError, SuiteConflict
from segbench.store.lock import LockHeld, ResultsLock
from segbench.store.rebuild import rebuild as rebuild_database

__all__ = ["DB_NAME", "LockHeld", "ResultsLock", "Store", "StoreError", "SuiteConflict", "rebuild_database"]
