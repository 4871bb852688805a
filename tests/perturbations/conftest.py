"""Fixtures of the perturbation tests."""

from __future__ import annotations

import numpy as np
import pytest
from perturbation_cases import SHAPES, textured_case


@pytest.fixture(params=sorted(SHAPES), ids=sorted(SHAPES))
def case(request: pytest.FixtureRequest) -> tuple[np.ndarray, np.ndarray]:
    """(image, label) in 2D and in 3D; a fresh, writable pair per test."""
    return textured_case(SHAPES[request.param])
