"""HD95 and NSD against hand-derived values, the worst-case rules, and MONAI as an outside reference."""

from __future__ import annotations

import math

import numpy as np
import pytest

from segbench.metrics.distance import hd95, nsd, surface_distances, worst_case_distance


def _square(shape=(40, 40), lo=(10, 10), size=12):
    m = np.zeros(shape, dtype=bool)
    m[lo[0] : lo[0] + size, lo[1] : lo[1] + size] = True
    return m


def _cube(shape=(24, 24, 24), lo=(6, 6, 6), size=8):
    m = np.zeros(shape, dtype=bool)
    m[lo[0] : lo[0] + size, lo[1] : lo[1] + size, lo[2] : lo[2] + size] = True
    return m


# Two equal squares/cubes offset by k voxels along one axis: every surface point is at most k*spacing
# from the other surface and the two faces perpendicular to the shift (about half the surface) are at
# exactly k*spacing, so the 95th percentile (and the max) is k*spacing[axis] (derived by hand).
@pytest.mark.parametrize(
    ("k", "axis", "spacing", "expected"),
    [
        (1, 1, (1.0, 1.0), 1.0),
        (3, 1, (1.0, 1.0), 3.0),
        (3, 0, (1.0, 1.0), 3.0),
        (2, 0, (2.5, 1.0), 5.0),  # anisotropic: shift along the coarse axis
        (2, 1, (2.5, 0.5), 1.0),  # anisotropic: shift along the fine axis
    ],
)
def test_hd95_shifted_square(k, axis, spacing, expected):
    a = _square()
    b = np.roll(a, k, axis=axis)
    assert hd95(a, b, spacing) == pytest.approx(expected)
    assert hd95(b, a, spacing) == pytest.approx(expected)  # symmetric


@pytest.mark.parametrize(("k", "axis", "spacing"), [(2, 0, (2.0, 0.8, 0.8)), (3, 2, (2.0, 0.8, 0.8))])
def test_hd95_shifted_cube_3d(k, axis, spacing):
    a = _cube()
    b = np.roll(a, k, axis=axis)
    assert hd95(a, b, spacing) == pytest.approx(k * spacing[axis])


def test_hd95_scales_with_isotropic_spacing():
    a, b = _square(), np.roll(_square(), 2, axis=0)
    base = hd95(a, b, (1.0, 1.0))
    assert hd95(a, b, (0.5, 0.5)) == pytest.approx(0.5 * base)
    assert hd95(a, b, (3.0, 3.0)) == pytest.approx(3.0 * base)


def test_concentric_squares_directed_distances():
    # outer 12x12 square and inner 8x8 square at the same centre (hand-derived): every inner boundary
    # voxel is exactly 2 from the outer boundary; of the outer boundary's 44 voxels, 32 are 2 from the
    # inner one, the 8 next to a corner are sqrt(2^2 + 1) away and the 4 corners 2*sqrt(2). The 95th
    # percentile of the outer->inner distances interpolates between sorted positions 40 and 41
    # (0.95 * 43 = 40.85), both corners: 2*sqrt(2).
    outer = _square(lo=(10, 10), size=12)
    inner = _square(lo=(12, 12), size=8)
    d_io, d_oi = surface_distances(inner, outer, (1.0, 1.0))
    np.testing.assert_allclose(d_io, 2.0)
    assert np.sort(d_oi).tolist() == pytest.approx([2.0] * 32 + [math.sqrt(5)] * 8 + [2 * math.sqrt(2)] * 4)
    assert hd95(inner, outer, (1.0, 1.0)) == pytest.approx(2 * math.sqrt(2))


@pytest.mark.parametrize(
    ("shape", "spacing", "expected"),
    [
        ((3, 4), (1.0, 1.0), 5.0),
        ((10, 10), (2.0, 1.0), math.sqrt(20**2 + 10**2)),
        ((96, 96, 96), (1.5, 1.5, 2.0), math.sqrt(2 * 144**2 + 192**2)),
    ],
)
def test_worst_case_distance(shape, spacing, expected):
    assert worst_case_distance(shape, spacing) == pytest.approx(expected)


@pytest.mark.parametrize("ndim", [2, 3])
def test_empty_rules(ndim):
    shape = (12,) * ndim
    spacing = (1.0, 2.0, 0.5)[:ndim]
    empty = np.zeros(shape, dtype=bool)
    full = np.zeros(shape, dtype=bool)
    full[(slice(3, 6),) * ndim] = True
    assert math.isnan(hd95(empty, empty, spacing))
    assert math.isnan(nsd(empty, empty, spacing))
    # one side empty: worst case, never nan (MONAI issue 9095 would drop these)
    assert hd95(full, empty, spacing) == pytest.approx(worst_case_distance(shape, spacing))
    assert hd95(empty, full, spacing) == pytest.approx(worst_case_distance(shape, spacing))
    assert nsd(full, empty, spacing) == 0.0
    assert nsd(empty, full, spacing) == 0.0


@pytest.mark.parametrize("mask", [_square(), _cube()])
def test_identical_masks(mask):
    spacing = (1.3,) * mask.ndim
    assert hd95(mask, mask, spacing) == 0.0
    assert nsd(mask, mask, spacing, tolerance_mm=0.0) == 1.0


@pytest.mark.parametrize(
    ("tol", "expected"),
    [
        # b = a (12x12 square, 44 boundary voxels) shifted by 2 along axis 1. Counted by hand, per side
        # (symmetric): distance 0 for the 2 x 10 top/bottom-row voxels inside the overlap; distance 1 for
        # the 2 top/bottom voxels one column outside it plus the 2 voxels next to the corners on the
        # far column; distance 2 for the other 20. So NSD = 2*20/88 at tol 0, 2*24/88 at tol 1, 1 at 2.
        (0.0, 40 / 88),
        (1.0, 48 / 88),
        (2.0, 1.0),
        (5.0, 1.0),
    ],
)
def test_nsd_tolerance(tol, expected):
    a = _square()
    b = np.roll(a, 2, axis=1)
    got = nsd(a, b, (1.0, 1.0), tolerance_mm=tol)
    assert got == pytest.approx(expected)
    assert got == pytest.approx(_brute_force_nsd(a, b, (1.0, 1.0), tol))


def test_nsd_monotone_in_tolerance():
    a = _cube()
    b = np.roll(a, 3, axis=0)
    vals = [nsd(a, b, (1.0, 1.0, 1.0), t) for t in (0.0, 1.0, 2.0, 3.0)]
    assert vals == sorted(vals)
    assert vals[-1] == 1.0
    assert vals[0] < 1.0


def test_bruteforce_agreement_random_anisotropic():
    # independent reference: all-pairs distances between surface voxel coordinates (no EDT)
    rng = np.random.default_rng(3)
    spacing = (2.0, 0.7, 1.1)
    for _ in range(3):
        a = np.zeros((14, 15, 16), dtype=bool)
        b = np.zeros_like(a)
        a[_random_box(rng, 1, 5, 4, 8)] = True
        b[_random_box(rng, 2, 6, 3, 8)] = True
        d_ab, d_ba = _brute_force_distances(a, b, spacing)
        exp_hd95 = max(np.percentile(d_ab, 95), np.percentile(d_ba, 95))
        assert hd95(a, b, spacing) == pytest.approx(exp_hd95)
        assert nsd(a, b, spacing, 1.5) == pytest.approx(_brute_force_nsd(a, b, spacing, 1.5))


def test_matches_monai_on_spheres():
    monai_metrics = pytest.importorskip("monai.metrics")
    torch = pytest.importorskip("torch")
    z, y, x = np.mgrid[:32, :32, :32]
    a = (z - 16) ** 2 + (y - 15) ** 2 + (x - 16) ** 2 < 9**2
    b = (z - 17) ** 2 + (y - 16) ** 2 + (x - 14) ** 2 < 7**2
    spacing = (2.0, 1.0, 1.5)
    ta = torch.from_numpy(a[None, None].astype(np.float32))
    tb = torch.from_numpy(b[None, None].astype(np.float32))
    exp = monai_metrics.compute_hausdorff_distance(ta, tb, percentile=95, spacing=spacing).item()
    assert hd95(a, b, spacing) == pytest.approx(exp, rel=1e-6)
    exp_nsd = monai_metrics.compute_surface_dice(
        torch.cat([1 - ta, ta], 1), torch.cat([1 - tb, tb], 1), class_thresholds=[2.0], spacing=spacing
    ).item()
    assert nsd(a, b, spacing, 2.0) == pytest.approx(exp_nsd, rel=1e-6)


@pytest.mark.parametrize(
    ("pred", "ref", "spacing"),
    [
        (np.zeros((3, 3)), np.zeros((3, 4)), (1.0, 1.0)),
        (np.zeros((3, 3)), np.zeros((3, 3)), (1.0,)),
        (np.zeros((3, 3)), np.zeros((3, 3)), (1.0, 0.0)),
        (np.zeros(3), np.zeros(3), (1.0,)),
    ],
)
def test_bad_inputs_raise(pred, ref, spacing):
    with pytest.raises(ValueError):
        hd95(pred, ref, spacing)


def _random_box(rng, lo_min, lo_max, w_min, w_max):
    starts, widths = rng.integers(lo_min, lo_max, 3), rng.integers(w_min, w_max, 3)
    return tuple(slice(int(s), int(s) + int(w)) for s, w in zip(starts, widths, strict=True))


def _brute_force_surface(mask: np.ndarray) -> np.ndarray:
    # a foreground voxel is on the surface if any face neighbour is background or outside the image
    padded = np.pad(mask, 1)
    inner = np.ones_like(mask)
    for axis in range(mask.ndim):
        for step in (-1, 1):
            inner &= np.roll(padded, step, axis=axis)[tuple(slice(1, -1) for _ in range(mask.ndim))]
    return mask & ~inner


def _brute_force_distances(a, b, spacing):
    pa = np.argwhere(_brute_force_surface(a)) * np.asarray(spacing)
    pb = np.argwhere(_brute_force_surface(b)) * np.asarray(spacing)
    dist = np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(-1))
    return dist.min(1), dist.min(0)


def _brute_force_nsd(a, b, spacing, tol):
    d_ab, d_ba = _brute_force_distances(a, b, spacing)
    return ((d_ab <= tol).sum() + (d_ba <= tol).sum()) / (d_ab.size + d_ba.size)
