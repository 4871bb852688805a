"""segbench: reproducible robustness benchmarks for medical image segmentation."""

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """``segbench.load`` without importing pandas on ``import segbench`` (commands stay light)."""
    if name == "load":
        from segbench.tools.loading import load

        return load
    raise AttributeError(f"module 'segbench' has no attribute {name!r}")
