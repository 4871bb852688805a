"""Pre-run checks of a real dataset: the mess real collections have, found before training.

Why here and light: ``segbench validate`` calls these through the dataset's registry
``check`` (no torch, no MONAI: headers via PIL / nibabel, label values via PIL / nibabel),
and the factory calls them again before decoding, so a run fails in seconds with the file
to fix rather than after an hour.  Each problem is one ``DataError`` line naming the file.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from segbench.datasets.errors import DataError
from segbench.datasets.listing import Listing, Pair, missing_file
from segbench.datasets.preprocess import Preprocess, binarize
from segbench.datasets.readers import EXTENSIONS_2D, extension, header_shape, read_label_array

__all__ = ["check_listing"]


def check_listing(listing: Listing, prep: Preprocess, *, read_labels: bool = True) -> int:
    """Check every pair of ``listing``; return the spatial dims (2 or 3).

    Checks, in order: the list is not empty; case ids are unique; every file exists (with
    "did you mean" names), is non-empty and readable; all images are 2D or all 3D; each
    image's size equals its label's (and its other modalities'); ``channels`` fits the data;
    each label's values fit the dataset's label rule (unless ``label_threshold`` is set).

    Raises:
        DataError: the first problem found, as one line naming the file and the fix.
    """
    if not listing.pairs:
        raise DataError(f"{listing.kind} {listing.root}: no labelled cases found; check the path and layout")
    _check_unique(listing.pairs)
    dims_seen: dict[int, Path] = {}
    for pair in listing.pairs:
        roles = [*((p, "image file") for p in pair.images), *((p, "label file") for p in pair.labels)]
        for path, what in roles:
            if not path.is_file():
                raise missing_file(path, pair.where or pair.case_id, what)
        shapes = [header_shape(p) for p in pair.images]
        spatial = _spatial(shapes[0], pair.images[0])
        dims = len(spatial)
        dims_seen.setdefault(dims, pair.images[0])
        if len(dims_seen) > 1:
            first = {d: p for d, p in dims_seen.items()}
            raise DataError(
                f"{pair.images[0]} is {dims}D but {first[min(first)]} is {min(first)}D; "
                "a dataset must be all 2D or all 3D"
            )
        if dims == 3 and prep.channels != "gray":
            raise DataError(f"{pair.images[0]}: channels={prep.channels!r} is for 2D colour images; use gray")
        for path, shape in zip(pair.images[1:], shapes[1:], strict=True):
            if _spatial(shape, path) != spatial:
                raise DataError(
                    f"{path}: size {_spatial(shape, path)} differs from {pair.images[0].name}'s {spatial} "
                    "(all modalities of a case must match)"
                )
        for path in pair.labels:
            label_shape = header_shape(path)
            if label_shape[: len(spatial)] != spatial or len(label_shape) > dims + 1:
                raise DataError(
                    f"{path}: label size {label_shape} differs from its image {pair.images[0].name}'s "
                    f"{spatial}; re-export one of them"
                )
            if read_labels and prep.label_threshold is None:
                binarize(read_label_array(path), listing.rule, None, path)
    return next(iter(dims_seen))


def _spatial(shape: tuple[int, ...], path: Path) -> tuple[int, ...]:
    """Spatial part of a header shape: 2D files drop a trailing colour axis."""
    if extension(path) in EXTENSIONS_2D:
        return tuple(shape[:2])
    if len(shape) not in (2, 3):
        raise DataError(f"{path}: image of shape {shape} is not 2D or 3D; list each modality as its own file")
    return tuple(shape)


def _check_unique(pairs: list[Pair]) -> None:
    seen: dict[str, list[Pair]] = defaultdict(list)
    for pair in pairs:
        seen[pair.case_id].append(pair)
    for case_id, group in seen.items():
        if len(group) > 1:
            files = ", ".join(str(p.images[0]) for p in group[:3])
            raise DataError(
                f"duplicate case id {case_id!r} ({files}): case ids are file stems and must be "
                "unique; rename one of the files"
            )
