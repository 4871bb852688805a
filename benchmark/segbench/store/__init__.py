"""The results store (SQLite): the only writer of ``results/segbench.sqlite``."""

from segbench.store.db import DB_NAME, Store

__all__ = ["DB_NAME", "Store"]
