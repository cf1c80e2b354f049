"""Failures of the machine, told apart from failures of the input.

A disk that is full, a quota reached, an I/O error of the device, too many open files or no
memory say nothing about the file being read or written: recorded as the file's fault, such
a failure would be carried forward for ever (an unchanged failed file is not retried). So
extraction records them as retryable and the CLI ends a run they stop with one line naming
the cause, not a traceback from deep inside Dagster's or MLflow's SQLite storage.

EIO is counted as the machine's: a failing disk, a dropped network mount or a USB device
gone away are far more often transient than a file whose sectors are permanently bad, and a
retry costs one decode.
"""

from __future__ import annotations

import errno
import os

#: errnos that are the machine's condition, not the file's content (see the module's docstring).
MACHINE_ERRNOS: frozenset[int] = frozenset(
    getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EIO", "ENOMEM", "EMFILE", "ENFILE", "ENOBUFS", "EROFS")
    if hasattr(errno, name))

#: SQLite's messages (through sqlite3 or SQLAlchemy) for the same conditions, with what they mean.
SQLITE_MACHINE_MESSAGES: dict[str, str] = {
    "database or disk is full": "the disk is full",
    "attempt to write a readonly database": "the database is read-only",
    "disk I/O error": "a disk I/O error",
    "unable to open database file": "the database file cannot be opened (read-only or missing folder?)",
}


def _chain(exc: BaseException):
    """``exc`` and every exception behind it: causes, contexts, and Dagster's ``user_exception``."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [current.__cause__, current.__context__, getattr(current, "user_exception", None),
                 getattr(current, "orig", None)]  # SQLAlchemy keeps the DB-API error in ``orig``


def machine_errno(exc: BaseException) -> int | None:
    """The errno of the first machine failure (:data:`MACHINE_ERRNOS`) behind ``exc`` (its causes
    and contexts searched too), or None.

    Parameters
    ----------
    exc : BaseException

    Returns
    -------
    int or None
    """
    found = next((c for c in _chain(exc) if isinstance(c, OSError) and c.errno in MACHINE_ERRNOS), None)
    return None if found is None else found.errno


def machine_failure(exc: BaseException) -> str | None:
    """One line saying which failure of the machine stopped things, or None if none did: e.g.
    ``"No space left on device: /data/pipeline/x.parquet"`` or
    ``"the disk is full (SQLite: database or disk is full)"``.

    Parameters
    ----------
    exc : BaseException
        Any exception; its causes and contexts are searched too.

    Returns
    -------
    str or None
    """
    for current in _chain(exc):
        if isinstance(current, OSError) and current.errno in MACHINE_ERRNOS:
            where = f": {os.fsdecode(current.filename)}" if current.filename else ""
            return f"{current.strerror or os.strerror(current.errno)}{where}"
        for message, meaning in SQLITE_MACHINE_MESSAGES.items():
            if type(current).__name__ == "OperationalError" and message in str(current):
                return f"{meaning} (SQLite: {message})"
    return None


def is_machine_reason(reason: str) -> bool:
    """Whether a recorded error reason names a machine failure (rows written before such
    failures were told apart say ``cannot read file: No space left on device``).

    Parameters
    ----------
    reason : str
        An error row's reason.

    Returns
    -------
    bool
    """
    return any(os.strerror(code) in reason for code in MACHINE_ERRNOS)
