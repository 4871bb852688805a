"""Pure metric functions of arrays: overlap, distance and task-complexity measures.

Why no imports here: each metric module is used on its own (``segbench.metrics.complexity``,
...), and keeping this file free of imports lets the modules be written independently.
"""
