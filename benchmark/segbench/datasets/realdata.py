"""From a ``Listing`` to ``DatasetSplits``: check, decode (cached), split.  Shared by all adapters.

An adapter is a ``discover(**its params) -> Listing`` plus a factory that calls
``build_dataset``; ``registry_hooks`` gives it the registry ``check`` (run by
``segbench validate`` and again by the factory) and ``fingerprint`` (hashed into the job key
by ``segbench.plan``), both light: no torch, no MONAI.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from segbench.cases import Case, DatasetSplits
from segbench.datasets.cache import CACHE_VERSION, cached_cases
from segbench.datasets.checks import check_listing
from segbench.datasets.errors import DataError
from segbench.datasets.listing import Listing, fingerprint
from segbench.datasets.memory import memory_problem
from segbench.datasets.preprocess import (
    PREPROCESSING,
    RESAMPLING,
    Preprocess,
    parse_preprocess,
    parse_resampling,
    preprocess_pair,
)
from segbench.datasets.readers import EXTENSIONS_2D, extension, header_shape
from segbench.datasets.split import check_group, check_split, group_of, split_cases

__all__ = ["build_dataset", "load_all_cases", "registry_hooks"]

Discover = Callable[..., Listing]


def build_dataset(
    listing: Listing,
    rng: np.random.Generator,
    *,
    size: int | None,
    channels: str,
    intensity: str | Sequence[float],
    label_threshold: float | None,
    split: Sequence[float],
    group: str | None,
    label_resize: str = "nearest",
    image_resize: str = "bilinear",
    score_at: str = "native",
) -> DatasetSplits:
    """Check, decode (through the cache) and split a listing; the body of every real factory.

    ``rng`` is accepted for the uniform factory call and unused: see ``segbench.datasets.split``.

    Raises:
        DataError: the listing holds only test cases (usable as a test-only shift, not for training).

    Returns:
        ``DatasetSplits`` with ``scaling`` from ``intensity``, ``official_test`` from the
        layout and the listing's ``fingerprint``; case meta adds ``group`` (the subject).
    """
    prep = parse_resampling(
        parse_preprocess(size, channels, intensity, label_threshold), label_resize, image_resize, score_at
    )
    fractions = check_split(split)
    pattern = check_group(group)
    _require_training_cases(listing)
    cases, key = load_all_cases(listing, prep)
    for case in cases:
        case.meta["group"] = group_of(case.case_id, pattern)
    subsets = {p.case_id: p.subset for p in listing.pairs}
    parts = split_cases(cases, subsets, fractions, pattern)
    return DatasetSplits(
        parts["train"],
        parts["val"],
        parts["test"],
        scaling=prep.scaling,
        official_test=listing.official_test,
        fingerprint=key,
    )


def load_all_cases(listing: Listing, prep: Preprocess) -> tuple[list[Case], str]:
    """Every pair of ``listing`` as a preprocessed ``Case`` (sorted by id), via the disk cache.

    The files are checked (``check_listing``) before decoding; a cache hit skips the check,
    since the cache key holds the fingerprint of the files that passed it.

    Returns:
        ``(cases, fingerprint)``.
    """
    fp = fingerprint(listing)
    rule = json.dumps(listing.rule.__dict__, sort_keys=True, default=list)
    key_src = json.dumps([fp, prep.as_dict(), rule, CACHE_VERSION], sort_keys=True)
    key = hashlib.sha256(key_src.encode()).hexdigest()[:20]
    pairs = sorted(listing.pairs, key=lambda p: p.case_id)

    def build() -> list[Case]:
        # Checked only when decoding: a cache hit means these files (same fingerprint) passed.
        dims = check_listing(listing, prep)
        return [preprocess_pair(p, prep, listing.rule, dims) for p in pairs]

    cases, _status = cached_cases(listing.kind, key, build)
    return cases, fp


def _require_training_cases(listing: Listing) -> None:
    """A dataset trained on needs training cases; a test-only one is for shifts."""
    if listing.pairs and all(p.subset == "test" for p in listing.pairs):
        raise DataError(
            f"{listing.kind} {listing.root} has only test cases ({len(listing.pairs)}); it can be a "
            "dataset shift (test-only site) but training needs training cases (a 'training' list / imagesTr)"
        )


def registry_hooks(name: str, discover: Discover) -> dict[str, Callable[[dict[str, Any]], Any]]:
    """Registry meta for a real dataset: ``check``, ``fingerprint`` and ``test_cases`` of params.

    ``params`` are a suite's dataset params; factory defaults fill the rest.  ``check``
    returns the first problem as a one-line message (``[]`` when the files are fine), as
    ``suite.params`` expects of a registry ``check``; ``fingerprint`` never raises
    (a dataset that cannot be listed gets ``"unavailable"``; validation reports why).
    """
    # Keyword-only arguments of ``discover`` (e.g. ``use_monai``) are runner choices, not params.
    discover_keys = [
        k for k, p in inspect.signature(discover).parameters.items() if p.kind is not p.KEYWORD_ONLY
    ]

    def resolved(params: dict[str, Any]) -> dict[str, Any]:
        from segbench.registry import DATASETS

        factory = DATASETS.get(name).factory
        defaults = {
            k: p.default
            for k, p in inspect.signature(factory).parameters.items()
            if p.default is not inspect.Parameter.empty
        }
        return {**defaults, **params}

    def listing_of(full: dict[str, Any]) -> Listing:
        missing = [k for k in discover_keys if k not in full]
        if missing:
            raise ValueError(f"{name} needs {', '.join(missing)}")
        return discover(**{k: full[k] for k in discover_keys})

    def prep_of(full: dict[str, Any]) -> Preprocess:
        prep = parse_preprocess(*(full.get(k) for k in PREPROCESSING[:4]))
        return parse_resampling(prep, *(full.get(k, allowed[0]) for k, allowed in RESAMPLING.items()))

    def check(params: dict[str, Any]) -> list[str]:
        """Problems as one-line messages (``suite.params`` reports them at the params' line)."""
        try:
            _check(params)
        except (ValueError, OSError, LookupError) as exc:  # DataError is a ValueError
            return [str(exc)]
        return []

    def _check(params: dict[str, Any]) -> None:
        full = resolved(params)
        prep = prep_of(full)
        fractions = check_split(full.get("split", (0.7, 0.1, 0.2)))
        pattern = check_group(full.get("group"))
        listing = listing_of(full)
        check_listing(listing, prep)
        if all(p.subset == "test" for p in listing.pairs):
            return  # test-only: a shift dataset; training on it is refused by the factory
        if prep.size is not None and listing.pairs:
            first = listing.pairs[0].images[0]
            dims = 2 if extension(first) in EXTENSIONS_2D else 3
            n = len(listing.pairs)
            what = f"{n} cases resized to size={prep.size} ({dims}D)"
            too_big = memory_problem(n, (prep.size,) * dims, what, "lower size")
            if too_big:
                raise ValueError(too_big)
        # The split on placeholders: too few subjects for a split is found before any decoding.
        empty = np.zeros(0, np.float32)
        placeholders = [Case(p.case_id, empty, empty, ()) for p in listing.pairs]
        split_cases(placeholders, {p.case_id: p.subset for p in listing.pairs}, fractions, pattern)

    def test_cases(params: dict[str, Any]) -> list[Case]:
        """All labelled cases (or the layout's own test list) for a train-on-A / test-on-B shift."""
        full = resolved(params)
        listing = listing_of(full)
        cases, _ = load_all_cases(listing, prep_of(full))
        if listing.official_test:
            fixed = {p.case_id for p in listing.pairs if p.subset == "test"}
            cases = [c for c in cases if c.case_id in fixed]
        return cases

    def fingerprint_of(params: dict[str, Any]) -> str:
        try:
            return fingerprint(listing_of(resolved(params)))
        except (DataError, ValueError, OSError, LookupError):
            return "unavailable"

    def spatial_dims(params: dict[str, Any]) -> int | None:
        """2 or 3 from the first image's header (validation checks patch sizes with it)."""
        try:
            pair = listing_of(resolved(params)).pairs[0]
            shape = header_shape(pair.images[0])
        except (DataError, ValueError, OSError, LookupError, IndexError):
            return None
        return 2 if extension(pair.images[0]) in EXTENSIONS_2D else len(shape)

    def probe(params: dict[str, Any]) -> dict[str, Any] | None:
        """What a shift must share with the training dataset, from the first case's headers:
        ``dims``, ``channels`` (model input channels), ``file``; ``test_only`` (no training cases).
        None when the files cannot be listed (``check`` says why)."""
        try:
            full = resolved(params)
            listing = listing_of(full)
            pair = listing.pairs[0]
            shape = header_shape(pair.images[0])
        except (DataError, ValueError, OSError, LookupError, IndexError):
            return None
        is_2d = extension(pair.images[0]) in EXTENSIONS_2D
        per_file = 3 if full.get("channels") == "rgb" else 1
        return {
            "dims": 2 if is_2d else len(shape),
            "channels": per_file * len(pair.images),
            "file": str(pair.images[0]),
            "test_only": all(p.subset == "test" for p in listing.pairs),
        }

    def split_of(params: dict[str, Any]) -> dict[str, Any] | None:
        """Case ids per split without decoding (what ``run --dry-run`` prints as held out), plus
        ``val_listed``: the validation cases are the layout's own list; None when not listable."""
        try:
            full = resolved(params)
            listing = listing_of(full)
            fractions = check_split(full.get("split", (0.7, 0.1, 0.2)))
            empty = np.zeros(0, np.float32)
            placeholders = [Case(p.case_id, empty, empty, ()) for p in listing.pairs]
            subsets = {p.case_id: p.subset for p in listing.pairs}
            parts = split_cases(placeholders, subsets, fractions, check_group(full.get("group")))
        except (DataError, ValueError, OSError, LookupError):
            return None
        out: dict[str, Any] = {k: [c.case_id for c in v] for k, v in parts.items()}
        out["val_listed"] = any(p.subset == "val" for p in listing.pairs)
        return out

    return {
        "check": check,
        "probe": probe,
        "split": split_of,
        "fingerprint": fingerprint_of,
        "test_cases": test_cases,
        "spatial_dims": spatial_dims,
    }
