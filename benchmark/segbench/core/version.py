"""segbench's version, where every stage can read it (``segbench/__init__`` re-exports it).

Why not only in ``segbench/__init__``: a stage that records the version (the import round trip) would
then import the package root, which sits above every stage.
"""

__version__ = "0.1.0"
