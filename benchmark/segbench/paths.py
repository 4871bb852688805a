"""Output folder names derived from user-controlled strings (suite names), kept inside ``--out``.

Why one function: the report and ``segbench preview`` both write ``<out>/<suite name>/``; a name
such as ``..`` or ``a/../../b`` must never reach outside ``out``.  Both call :func:`safe_name`
and :func:`inside`, so the rule cannot drift between them.  ``preview`` also leaves the gallery's
caption there (:data:`GALLERY_CAPTION`) for the report, which reads it without the dataset stack.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = [
    "FILE_SUFFIXES",
    "GALLERY_CAPTION",
    "OVERLAYS",
    "PlantedLink",
    "check_folder",
    "gallery_caption",
    "inside",
    "refuse_links",
    "safe_name",
]

#: written by ``segbench preview`` beside gallery.png, read by the report
GALLERY_CAPTION = "gallery.txt"

#: ``<results>/overlays/<cond_key>/``: the worker's best/median/worst pictures of each condition
OVERLAYS = "overlays"

_PLAIN = re.compile(r"[A-Za-z0-9_.-]+")


def safe_name(name: str) -> str:
    """A single path component for ``name``: the name itself when it is plain, else a cleaned copy.

    Letters, digits, ``_``, ``-`` and ``.`` are kept; anything else becomes ``_``; leading and
    trailing dots are dropped, so ``.``, ``..`` and ``...`` cannot name a parent folder.

    Example:
        >>> safe_name("skip"), safe_name(".."), safe_name("a/../b")
        ('skip', 'suite', 'a_.._b')
    """
    if _PLAIN.fullmatch(name) and name.strip("."):
        return name
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).strip(".") or "suite"


def inside(out: str | Path, name: str) -> Path:
    """``out / safe_name(name)``, checked to resolve inside ``out`` (symlinks followed).

    Raises:
        ValueError: the folder would resolve outside ``out`` (e.g. a symlink planted there).
    """
    root = Path(out).resolve()
    folder = (Path(out) / safe_name(name)).resolve()
    if folder == root or root not in folder.parents:
        raise ValueError(f"refusing to write {folder}: it is not inside the output folder {root}")
    return Path(out) / safe_name(name)


#: suffixes that name a file, not a folder: ``--out x.png`` is a typo for a file, never a folder
FILE_SUFFIXES = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".svg",
        ".pdf",
        ".html",
        ".htm",
        ".json",
        ".csv",
        ".md",
        ".tex",
        ".txt",
        ".yaml",
    }
    | {".yml", ".zip", ".gz", ".nii", ".npz", ".npy", ".pt"}
)


def check_folder(path: str | Path, option: str = "--out") -> Path:
    """``path`` as an output folder; refuses a name that looks like a file (``x.png``).

    Why: ``segbench preview --out x.png`` used to create a *folder* named ``x.png`` silently. An
    existing folder is always accepted, whatever its name.

    Raises:
        ValueError: one line naming the option, the value and what to give instead.
    """
    path = Path(path)
    if path.is_dir():
        return path
    if path.exists():
        raise ValueError(
            f"{option} {path}: it is a file; give a folder (the command writes several files there)"
        )
    if path.suffix.lower() in FILE_SUFFIXES:
        raise ValueError(
            f"{option} {path} looks like a file name ({path.suffix}); it names a folder the command writes "
            f"into, e.g. {option} {path.with_suffix('')}"
        )
    return path


def gallery_caption(folder: Path) -> str | None:
    """The caption ``segbench preview`` wrote for this suite's gallery in ``folder``, if any."""
    path = folder / GALLERY_CAPTION
    return path.read_text(encoding="utf-8").strip() if path.is_file() else None


class PlantedLink(ValueError):
    """A symbolic link where segbench writes or reads its own files; the message names it."""


def refuse_links(folder: str | Path, max_depth: int = 3) -> None:
    """Refuse a folder that holds a symbolic link (at any of its first ``max_depth`` levels).

    Why: segbench writes reports, logs, checkpoints and shards into folders that may be shared;
    a link planted there (``index.html -> ~/.bashrc``) would redirect a write, or a read, outside
    the folder.  The folder itself may be a link (a results folder on another disk): only what is
    inside is checked.  Nothing is followed: links are seen with ``lstat``.

    Raises:
        PlantedLink: naming the first link found, its target and the fix.
    """
    root = Path(folder)
    stack = [(root, 0)]
    while stack:
        current, depth = stack.pop()
        try:
            entries = list(os.scandir(current))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.is_symlink():
                raise PlantedLink(
                    f"refusing to use {entry.path}: it is a symbolic link (to {os.readlink(entry.path)}), "
                    "and segbench never writes or reads its own files through one; remove the link"
                )
            if depth + 1 < max_depth and entry.is_dir(follow_symlinks=False):
                stack.append((Path(entry.path), depth + 1))
