"""segbench: reproducible robustness benchmarks for medical image segmentation."""

from segbench.core.version import __version__

__all__ = ["__version__", "load"]


def __getattr__(name: str) -> object:
    """``segbench.load`` without importing pandas on ``import segbench`` (commands stay light)."""
    if name == "load":
        from segbench.tools.loading import load

        return load
    raise AttributeError(f"module 'segbench' has no attribute {name!r}")
