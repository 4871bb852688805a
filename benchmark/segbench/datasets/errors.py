"""The one error type of the real-data loaders.

Why a ``ValueError`` subclass: suite validation reports a dataset's ``check`` failures as
``ValueError`` messages, and the runner records any exception as a failed job; a single
type lets tests and callers tell "the data on disk is wrong" from a bug.  Every message is
one line that names the file, what is wrong and what to do.
"""

from __future__ import annotations

__all__ = ["DataError"]


class DataError(ValueError):
    """A problem with the files of a dataset (missing, unreadable, inconsistent)."""
