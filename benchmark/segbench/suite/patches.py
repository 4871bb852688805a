"""The training patch size of a patch budget (pure; shared by the plan, the worker and validation)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from segbench.suite.schema import PatchBudget

__all__ = ["patch_size"]


def patch_size(budget: PatchBudget, spatial_dims: int, multiple: int = 16) -> tuple[int, ...]:
    """The training patch: ``size`` as given, or the largest cube (a multiple of ``multiple``,
    so UNETR's 16-voxel tokens and four stride-2 levels fit) within ``voxels``.
    """
    if budget.size is not None:
        return tuple(budget.size)
    assert budget.voxels is not None
    side = int(round(budget.voxels ** (1 / spatial_dims), 6))
    side = max(multiple, side - side % multiple)
    return (side,) * spatial_dims
