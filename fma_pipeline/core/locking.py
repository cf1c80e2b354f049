"""Exclusive per-output locks between processes (``fcntl.flock`` on a lock file).

Two runs materialising the same partition at once would both read the same previous
output, both extract, and the later rename would win: no file is ever half-written
(writes are atomic), but work is doubled and a run may overwrite a newer result with
an older view. :func:`exclusive_locks` serialises them: the second run waits, then
reads the first run's output as its cache and has little left to do.

The kernel drops a ``flock`` when its holder exits, even on SIGKILL, so a killed run
never leaves a lock behind; the lock files themselves stay (they are empty apart from
the holder's pid, written for the waiting message). ``flock`` is per host: on a file
system shared by several machines (NFS) it may not exclude a process on another host.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path


class LockTimeout(TimeoutError):
    """A lock was not acquired within the allowed time.

    Parameters
    ----------
    *args
        The message: the lock file, its holder and the timeout.
    """


def _holder(handle) -> str:
    with contextlib.suppress(OSError, ValueError):
        handle.seek(0)
        text = handle.read().strip()
        if text:
            return f" (held by pid {text})"
    return ""


@contextlib.contextmanager
def exclusive_lock(path: Path | str, *, log: Callable[[str], None] | None = None,
                   timeout: float | None = None, poll: float = 0.2) -> Iterator[Path]:
    """Hold an exclusive ``flock`` on ``path`` (created if needed) for the ``with`` block.

    Does not wait when the lock is free. Otherwise calls ``log`` once with a line
    naming the lock and its holder, then waits: for ever (``timeout=None``), or raises
    :class:`LockTimeout` after ``timeout`` seconds.

    Parameters
    ----------
    path : pathlib.Path or str
        The lock file; this process's pid is written into it while held.
    log : Callable[[str], None] or None, default None
        Receives a line when the lock is busy and another when it is acquired.
    timeout : float or None, default None
        Seconds to wait; None = for ever.
    poll : float, default 0.2
        Seconds between attempts when ``timeout`` is set.

    Yields
    ------
    pathlib.Path
        ``path``, locked.

    Raises
    ------
    LockTimeout
        If the lock is not acquired within ``timeout`` seconds.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")  # noqa: SIM115 - closed in finally; a+ never truncates a holder's pid
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            started = time.monotonic()
            if log:
                log(f"waiting for lock {path}{_holder(handle)}: another run is writing this output")
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | (fcntl.LOCK_NB if timeout is not None else 0))
                    break
                except OSError as again:
                    if again.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                        raise
                    if time.monotonic() - started >= timeout:  # type: ignore[operator]
                        raise LockTimeout(f"lock {path}{_holder(handle)} not acquired "
                                          f"within {timeout:g} s") from None
                    time.sleep(poll)
            if log:
                log(f"acquired lock {path} after {time.monotonic() - started:.1f} s")
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield path
    finally:
        handle.close()  # releases the flock


@contextlib.contextmanager
def exclusive_locks(paths: Iterable[Path | str], **kwargs) -> Iterator[list[Path]]:
    """Hold several locks, taken in sorted order so that two callers cannot deadlock.

    Parameters
    ----------
    paths : Iterable[pathlib.Path or str]
        The lock files (duplicates are taken once).
    **kwargs
        Passed to :func:`exclusive_lock` (``log``, ``timeout``, ``poll``).

    Yields
    ------
    list of pathlib.Path
        The locked paths, sorted.

    Raises
    ------
    LockTimeout
        If a lock is not acquired within ``timeout`` seconds.
    """
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(exclusive_lock(p, **kwargs)) for p in sorted({Path(p) for p in paths})]
