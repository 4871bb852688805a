"""What a real dataset is before any pixel is read: its (image, label) file pairs.

Every adapter (``datalist``, ``nnunet``, ``busi``, ``glas``) turns its layout into a
``Listing``; everything after that (checks, fingerprint, decoding, cache, split) is shared.
Why: one place finds the real-world mess (misnamed label files, duplicates, empty
folders), so every layout reports it with the same one-line messages.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from segbench.datasets.errors import DataError
from segbench.datasets.readers import IMAGE_EXTENSIONS, is_image

__all__ = ["LabelRule", "Listing", "Pair", "fingerprint", "missing_file", "not_a_file", "require_dir"]

SUBSETS = ("train", "val", "test")


@dataclass(frozen=True)
class Pair:
    """One labelled case as files.

    Attributes:
        case_id: the file stem (nnU-Net: the case identifier); pairs results across models.
        images: one file per modality (channels are stacked in this order).
        labels: label files OR-ed into one mask (BUSI's extra ``_mask_1`` files); one usually.
        subset: ``"train"``/``"val"``/``"test"`` when the layout fixes it, else ``None``
            (the seeded split decides).
        where: where the pair was listed, for messages (``"siteA.json training[3]"``).
    """

    case_id: str
    images: tuple[Path, ...]
    labels: tuple[Path, ...]
    subset: str | None = None
    where: str = ""

    @property
    def files(self) -> tuple[Path, ...]:
        return (*self.images, *self.labels)


@dataclass(frozen=True)
class LabelRule:
    """Which label values exist and which count as foreground.

    Attributes:
        foreground: values that are foreground; ``None`` = every value > 0.
        allowed: values a label may hold; ``None`` = any.
        binary: at most two distinct values (0 and one foreground value: 0/1 or 0/255).
        hint: what to do when a label breaks the rule (appended to the message).
    """

    foreground: tuple[int, ...] | None = None
    allowed: tuple[int, ...] | None = None
    binary: bool = True
    hint: str = "binary masks need two values (0/1 or 0/255); set label_threshold (e.g. 127) for lossy masks"


@dataclass(frozen=True)
class Listing:
    """A dataset's pairs plus the files that define it (for the fingerprint)."""

    kind: str
    root: Path
    pairs: list[Pair]
    manifests: tuple[Path, ...] = ()
    rule: LabelRule = field(default_factory=LabelRule)
    official_test: bool = False  # the layout has its own labelled test list


def fingerprint(listing: Listing) -> str:
    """Content identity of a dataset on disk: relative paths, sizes and modification times.

    Why not file hashes: stat'ing is microseconds per file, hashing 10 GB of images is
    minutes; a copied or edited file gets a new mtime, which is what must retrain.  The
    case ids and fixed subsets are included, so a changed datalist split changes it too.

    Returns:
        16 hex characters (``"missing"``-prefixed when a file cannot be stat'ed).
    """
    rows = []
    for path in sorted({*listing.manifests, *(p for pair in listing.pairs for p in pair.files)}):
        try:
            st = path.stat()
            rows.append([_relative(path, listing.root), st.st_size, st.st_mtime_ns])
        except OSError:
            rows.append([_relative(path, listing.root), None, None])
    rows.append([[p.case_id, p.subset] for p in sorted(listing.pairs, key=lambda p: p.case_id)])
    digest = hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()[:16]
    return digest


def missing_file(path: Path, where: str, what: str = "label file") -> DataError:
    """A ``DataError`` for a file that does not exist, with the nearest existing names.

    Real collections misname files (``34manual1.gif`` next to ``33_manual1.gif``): the
    message lists the closest names in the same folder so the typo is obvious.
    """
    kind = not_a_file(path)
    if kind:  # "does not exist" would send the user looking for a file that is there
        return DataError(f"{where}: {what} {path} is {kind}, not a regular file; replace it with the {what}")
    folder = path.parent
    try:
        siblings = sorted(e.name for e in os.scandir(folder) if e.is_file())
    except OSError:
        return DataError(f"{where}: {what} {path} does not exist (nor does its folder {folder})")
    close = difflib.get_close_matches(path.name, siblings, n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; rename the file or fix the list"
    return DataError(f"{where}: {what} {path} does not exist{hint}")


def not_a_file(path: Path) -> str | None:
    """What ``path`` is when something other than a regular file is there; None if nothing is (or a file).

    Why: a folder, FIFO or device (often through a symbolic link) named like the expected file is
    not "missing", and the message must say what is in the way.
    """
    try:
        mode = path.stat().st_mode
    except OSError:
        return f"a broken symbolic link (to {os.readlink(path)})" if path.is_symlink() else None
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        kind = "a folder"
    elif stat.S_ISFIFO(mode):
        kind = "a FIFO (named pipe)"
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        kind = "a device"
    else:
        kind = "a socket or other special file"
    return f"{kind} (through a symbolic link to {os.readlink(path)})" if path.is_symlink() else kind


def require_dir(path: Path, what: str) -> Path:
    """``path`` as an existing folder, else a ``DataError`` naming it."""
    if not path.is_dir():
        raise DataError(f"{what} {path} is not an existing folder; check the path (is SEGBENCH_DATA set?)")
    return path


def list_images(folder: Path, what: str) -> list[Path]:
    """Image files directly in ``folder`` (sorted); a ``DataError`` when there are none."""
    require_dir(folder, what)
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_image(p))
    if not files:
        raise DataError(
            f"{what} {folder} holds no images (looked for {', '.join(IMAGE_EXTENSIONS)}); check the path"
        )
    return files


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()
