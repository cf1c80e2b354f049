"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Each write goes to a temporary file in the same folder, is flushed to disk, then
renamed over the target (``os.replace`` is atomic on POSIX). An interrupted run leaves
the last good output in place and at worst a stray ``.tmp-<pid>-*`` file, which the next
write of the same target removes: the temporary name carries the writing process's id
and a tag of its host (``.tmp-<pid>@<host tag>-…``), so a file whose writer on this
host is dead (a killed run) is removed at once, while a live writer's file is left
alone. Temporary files of another host or container (whose process ids mean nothing
here) or without a process id (older versions) are removed once an hour old.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pandas as pd


@contextlib.contextmanager
def atomic_path(target: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` on success.

    Stale temporary files of the same target (dead writer, or older than :data:`STALE_SECONDS`)
    are removed first. If the ``with`` block raises, the temporary file is removed and ``target``
    is left as it was.

    Parameters
    ----------
    target : pathlib.Path or str
        The file to write (its folder is created if needed).

    Yields
    ------
    pathlib.Path
        The temporary file to write.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".tmp-*-{target.name}"):
        with contextlib.suppress(OSError):
            if _writer_is_dead(stale.name) or stale.stat().st_mtime < _now() - STALE_SECONDS:
                stale.unlink()
    fd, tmp_name = tempfile.mkstemp(prefix=_temp_prefix(os.getpid()), suffix=f"-{target.name}",
                                    dir=target.parent)
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


#: A temporary file whose writer cannot be identified is stale after this long.
STALE_SECONDS = 3600


def _host_tag() -> str:
    """Short, file-name-safe tag of this host (containers have their own hostnames)."""
    import hashlib
    import socket

    return hashlib.blake2b(socket.gethostname().encode(), digest_size=4).hexdigest()


def _temp_prefix(pid: int) -> str:
    return f".tmp-{pid}@{_host_tag()}-"


def _writer_is_dead(name: str) -> bool:
    """True when ``.tmp-<pid>@<host tag>-…`` names a process of this host that no longer exists."""
    pid_text, _, host = name[len(".tmp-"):].split("-", 1)[0].partition("@")
    if not pid_text.isdigit() or int(pid_text) <= 0 or host != _host_tag():
        return False  # an older name, or another host's: left to the age rule
    pid = int(pid_text)
    if pid == os.getpid():
        return False  # this process may have a write in progress (another thread)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False  # exists, owned by another user
    return False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _now() -> float:
    import time

    return time.time()


#: Encoded Parquet of empty tables, by schema: converting a 713-column table to Arrow costs
#: ~75 ms even with no rows, and a run over FMA's 156 folders writes three empty tables for
#: every folder without audio (the demo: 149 folders, 24 s of silence before this cache).
_EMPTY_PARQUET: dict[tuple, bytes] = {}


def _empty_parquet(frame: pd.DataFrame) -> bytes:
    key = (tuple(map(str, frame.columns)), tuple(map(str, frame.dtypes)), tuple(map(str, frame.columns.names)),
           tuple(map(str, frame.index.names)), str(frame.index.dtype), json.dumps(frame.attrs, sort_keys=True))
    if key not in _EMPTY_PARQUET:
        buffer = io.BytesIO()
        frame.to_parquet(buffer, engine="pyarrow", compression="zstd")
        _EMPTY_PARQUET[key] = buffer.getvalue()
    return _EMPTY_PARQUET[key]


def write_parquet(frame: pd.DataFrame, target: Path | str) -> Path:
    """Write ``frame`` to Parquet atomically (pyarrow, zstd); an empty table's bytes are
    encoded once per schema and reused. ``frame.attrs`` go into the file's metadata (pandas
    does this), :func:`read_parquet` restores them and :func:`parquet_attrs` reads them alone.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table, index included.
    target : pathlib.Path or str
        The file to write.

    Returns
    -------
    pathlib.Path
        ``target``.
    """
    target = Path(target)
    with atomic_path(target) as tmp:
        if frame.empty and len(frame.columns):
            tmp.write_bytes(_empty_parquet(frame))
        else:
            frame.to_parquet(tmp, engine="pyarrow", compression="zstd")
    return target


def write_parquet_parts(parts: Iterable[pd.DataFrame], target: Path | str) -> tuple[Path, int]:
    """Write DataFrames with one schema to one Parquet file, one row group each, atomically.

    Streams: only one part is in memory at a time (a 100,000-track window table is
    written folder by folder). Returns the path and the rows written. With no parts,
    ``ValueError`` is raised and the file is left as it was. The first part's ``attrs`` are
    the table's, stored as :func:`write_parquet` stores them.

    Parameters
    ----------
    parts : Iterable[pandas.DataFrame]
        The parts, each cast to the first one's schema.
    target : pathlib.Path or str
        The file to write.

    Returns
    -------
    path : pathlib.Path
        ``target``.
    rows : int
        Rows written.

    Raises
    ------
    ValueError
        If ``parts`` is empty.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    target, rows, writer = Path(target), 0, None
    with atomic_path(target) as tmp:
        try:
            for part in parts:
                table = pa.Table.from_pandas(part, preserve_index=True)
                if writer is None:
                    schema = table.schema
                    if part.attrs:
                        schema = schema.with_metadata({**schema.metadata, PANDAS_ATTRS: json.dumps(part.attrs)})
                    writer = pq.ParquetWriter(tmp, schema, compression="zstd")
                writer.write_table(table.cast(writer.schema))
                rows += len(part)
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise ValueError(f"nothing to write to {target.name}: no parts")
    return target, rows


class DamagedFile(ValueError):
    """A stored file that is there but cannot be read: cut short, overwritten, not Parquet.

    Writes are atomic, so this is damage from outside (a disk, a copy, a hand): the message
    names the file, which pyarrow's does not (``ArrowInvalid: Parquet magic bytes not found``).

    Parameters
    ----------
    path : pathlib.Path or str
        The file.
    cause : BaseException
        What the reader raised.

    Attributes
    ----------
    path : pathlib.Path
        As given.
    reason : str
        The reader's complaint, one line.
    """

    def __init__(self, path: Path | str, cause: BaseException):
        self.path = Path(path)
        self.reason = f"{type(cause).__name__}: {(str(cause).strip().splitlines() or [''])[0][:200]}"
        super().__init__(f"damaged file {self.path}: cannot be read ({self.reason})")


@contextlib.contextmanager
def _naming_damage(path: Path | str) -> Iterator[None]:
    """Turn a reader's failure into :class:`DamagedFile`, except the machine's or the OS's
    (an ``OSError`` with an errno: missing, permission, disk) and memory."""
    try:
        yield
    except (MemoryError, DamagedFile):
        raise
    except OSError as exc:
        if exc.errno is not None:
            raise
        raise DamagedFile(path, exc) from exc  # pyarrow's own IOError: a page that does not parse
    except Exception as exc:  # noqa: BLE001 - ArrowInvalid, bad pandas metadata...: the bytes are wrong
        raise DamagedFile(path, exc) from exc


def read_parquet(path: Path | str, **options) -> pd.DataFrame:
    """Read a Parquet file written by :func:`write_parquet` (``options``, e.g. ``filters``, go to pandas).

    Parameters
    ----------
    path : pathlib.Path or str
        The file.
    **options
        Passed to :func:`pandas.read_parquet`.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    DamagedFile
        When the file is there but its bytes are not a readable Parquet file.
    """
    with _naming_damage(path):
        return pd.read_parquet(path, engine="pyarrow", **options)


#: Where pandas (>= 2.1) keeps ``DataFrame.attrs`` in a Parquet file's metadata.
PANDAS_ATTRS = b"PANDAS_ATTRS"


def parquet_attrs(path: Path | str) -> dict:
    """The ``attrs`` a table was written with (:func:`write_parquet`), from the footer alone.

    Parameters
    ----------
    path : pathlib.Path or str
        The file.

    Returns
    -------
    dict
        Empty for a table written without attrs.

    Raises
    ------
    OSError, pyarrow.ArrowInvalid
        When the file is missing or not Parquet.
    """
    import pyarrow.parquet as pq

    stored = (pq.read_schema(path).metadata or {}).get(PANDAS_ATTRS)
    return json.loads(stored) if stored else {}


def parquet_rows(path: Path | str) -> int:
    """Row count from the Parquet footer, without reading any column.

    Parameters
    ----------
    path : pathlib.Path or str
        The file.

    Returns
    -------
    int

    Raises
    ------
    DamagedFile
        When the file's footer cannot be read.
    """
    import pyarrow.parquet as pq

    with _naming_damage(path):
        return pq.ParquetFile(path).metadata.num_rows


def file_hash(path: Path | str, algorithm: str) -> str:
    """Hex digest of a file's bytes, read in chunks (``hashlib.file_digest``): the one file
    hasher of the project (audio content hashes, the import manifest, FMA's checksums).

    Parameters
    ----------
    path : pathlib.Path or str
        The file.
    algorithm : str
        A ``hashlib`` name (``"sha1"``, ``"blake2b"`` …).

    Returns
    -------
    str
        Lower-case hex digest.

    Raises
    ------
    OSError
        When the file cannot be read.
    """
    import hashlib

    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()
