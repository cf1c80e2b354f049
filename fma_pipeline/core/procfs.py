"""Linux's ``/proc``, read in one place: a process's state, parent, start time and memory.

The killed-run recovery (is the process that ran a Dagster run still there, and is it the
same process?) and the benchmarks (a run's process tree and its peak memory, pool workers)
all need these few facts; each reader returns None where ``/proc`` cannot say (another
system, a process gone meanwhile), and its caller decides what that means.
"""

from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")


def stat_fields(pid: int | str) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name: ``[state, ppid, …]`` (``man 5 proc``
    numbers them from 3), or None when there is no such process or no ``/proc``.

    Parameters
    ----------
    pid : int or str
        The process.

    Returns
    -------
    list of str or None
    """
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()  # the command name may hold spaces and ")"


def parent_pid(pid: int | str) -> int | None:
    """The parent of ``pid``, or None.

    Parameters
    ----------
    pid : int or str
        The process.

    Returns
    -------
    int or None
    """
    fields = stat_fields(pid)
    try:
        return int(fields[1]) if fields else None
    except (IndexError, ValueError):
        return None


def children_by_parent() -> dict[int, list[int]]:
    """Every process's children, keyed by parent pid (empty without ``/proc``).

    Returns
    -------
    dict of int to list of int
    """
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir(PROC)
    except OSError:
        return children
    for entry in filter(str.isdigit, entries):
        parent = parent_pid(entry)
        if parent is not None:  # None: gone meanwhile
            children.setdefault(parent, []).append(int(entry))
    return children


def status_kib(pid: int | str, key: str) -> int | None:
    """One ``kB`` line of ``/proc/<pid>/status`` (``VmHWM``: peak resident memory, ``VmRSS`` …).

    Parameters
    ----------
    pid : int or str
        The process (``"self"`` for this one).
    key : str
        The line's name, without the colon.

    Returns
    -------
    int or None
        KiB, or None when the process, ``/proc`` or the line is missing.
    """
    try:
        lines = (PROC / str(pid) / "status").read_text().splitlines()
    except OSError:
        return None
    return next((int(line.split()[1]) for line in lines if line.startswith(f"{key}:")), None)


def rss_bytes(pid: int | str) -> int | None:
    """Resident memory of ``pid`` now (``/proc/<pid>/statm``), or None.

    Parameters
    ----------
    pid : int or str
        The process.

    Returns
    -------
    int or None
        Bytes.
    """
    try:
        return int((PROC / str(pid) / "statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return None
