"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Each write goes to a temporary file in the same folder, is flushed to disk, then
renamed over the target (``os.replace`` is atomic on POSIX). An interrupted run leaves
the last good output in place and at worst a stray ``.tmp-*`` file, which the next
write of the same target removes.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd


@contextlib.contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".tmp-*-{target.name}"):
        with contextlib.suppress(OSError):
            if stale.stat().st_mtime < _now() - 3600:
                stale.unlink()
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=f"-{target.name}", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual mode
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _now() -> float:
    import time

    return time.time()


def write_parquet(frame: pd.DataFrame, target: Path | str) -> Path:
    """Write ``frame`` to Parquet atomically (pyarrow, zstd)."""
    target = Path(target)
    with atomic_path(target) as tmp:
        frame.to_parquet(tmp, engine="pyarrow", compression="zstd")
    return target


def read_parquet(path: Path | str) -> pd.DataFrame:
    """Read a Parquet file written by :func:`write_parquet`."""
    return pd.read_parquet(path, engine="pyarrow")


def parquet_rows(path: Path | str) -> int:
    """Row count from the Parquet footer, without reading any column."""
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows
