"""FMA's published features (``fma_metadata/features.csv``) as a second source of feature rows.

FMA ships the 518 features of all 106,574 tracks in ``features.csv``: three header rows
(``feature`` / ``statistics`` / ``number``), a row holding only ``track_id``, then one row
per track (FMA's ``utils.load`` reads it with ``pd.read_csv(path, index_col=0,
header=[0, 1, 2])``). Its columns are the project's first 518 (:func:`fma_columns`), computed
by FMA's ``features.py`` on the full-length tracks, so a published row and an extracted row
of the same track mean the same thing, up to the audio they were computed on.

:func:`split_by_folder` streams the file in chunks (a few thousand rows at a time) and hands
each FMA folder's rows (``track_id // 1000``, as FMA lays out audio) to a writer, so a
FMA-large file never has to be held whole as text or float64. Rows FMA could not compute
(``features.py`` leaves them empty when its extraction raised) become error rows with their
reason, like extraction's, never feature rows.

How the two sources meet is :func:`combine_sources`, under one setting
(:data:`SOURCE_PRECEDENCES`): the extracted row where a track has audio, else the published
one (the default); only published rows; or only extracted rows. The published rows have no
``mfcc_corr`` (the project's own 190 columns), so a matrix holding any published row keeps
only the 518 columns every row has; the family search then offers the sets within those
(``fma``, ``fma_timbre``). :func:`compare_sources` measures how far apart the two are where a
track has both.

Malformed input stops with a :class:`~fma_pipeline.core.fma.metadata.MetadataError` naming
the file, line and column, as for ``tracks.csv``.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fma_pipeline.core.audio.features import N_FMA_FEATURES, feature_columns, feature_family, flat_name
from fma_pipeline.core.fma.metadata import MetadataError
from fma_pipeline.core.storage import atomic_path

if TYPE_CHECKING:
    from fma_pipeline.core.catalogue import DataRoot

#: The file's name inside ``fma_metadata/``.
FEATURES_CSV = "features.csv"
#: Names of the three header rows, then of the index row, as FMA writes them.
HEADER_NAMES: tuple[str, ...] = ("feature", "statistics", "number")
INDEX_NAME = "track_id"
#: Data starts on this 1-based line of the file.
FIRST_DATA_LINE = len(HEADER_NAMES) + 2
#: A row's origin, as the ``source`` column of ``feature_sources`` names it.
PUBLISHED, EXTRACTED = "published", "extracted"
#: How the two sources are combined (:func:`combine_sources`); the first is the default.
SOURCE_PRECEDENCES: tuple[str, ...] = ("extracted_else_published", "published", "extracted")
DEFAULT_PRECEDENCE = SOURCE_PRECEDENCES[0]
#: Rows parsed at a time: ~8 MB of float64 values per chunk, and a few folders' worth of rows.
CHUNK_ROWS = 2048
#: FMA's features.py writes every value with 10 significant decimals (``'%.10e'``).
FLOAT_FORMAT = "%.10e"
#: Exception class of a published row FMA could not compute (extraction_errors' column).
MISSING_ROW = "PublishedRowMissing"
#: FMA's layout has 156 folders: a track id at or beyond this has no folder.
MAX_TRACK_ID = 156_000


def fma_columns() -> pd.MultiIndex:
    """The 518 columns ``features.csv`` holds, in the project's (and FMA's sorted) order.

    Returns
    -------
    pandas.MultiIndex
        Levels ``feature``, ``statistics``, ``number``.
    """
    return feature_columns()[:N_FMA_FEATURES]


def fma_flat_names() -> list[str]:
    """Flat names (``mfcc.mean.01``) of :func:`fma_columns`, the published matrix's columns.

    Returns
    -------
    list of str
    """
    return [flat_name(c) for c in fma_columns()]


def folder_key(track_id: int) -> str:
    """FMA's folder of a track: ``track_id // 1000`` as three digits.

    Parameters
    ----------
    track_id : int

    Returns
    -------
    str

    Examples
    --------
    >>> folder_key(2), folder_key(155320)
    ('000', '155')
    """
    return f"{int(track_id) // 1000:03d}"


def write_features_csv(features: pd.DataFrame, path: Path | str) -> Path:
    """Write a table of the 518 features in ``features.csv``'s exact format, atomically.

    FMA's ``features.py`` sorts rows and columns and writes ``'%.10e'`` values; an all-NaN
    row (a track whose extraction failed) is a row of empty fields. Used by the tests and
    the benchmarks to make files in FMA's format.

    Parameters
    ----------
    features : pandas.DataFrame
        Index: track ids; columns: :func:`fma_columns` (as a MultiIndex) or their flat names.
    path : pathlib.Path or str
        The file to write.

    Returns
    -------
    pathlib.Path
    """
    frame = features.copy()
    if not isinstance(frame.columns, pd.MultiIndex):
        frame.columns = pd.MultiIndex.from_tuples([tuple(str(c).split(".", 2)) for c in frame.columns])
    frame.columns = frame.columns.set_names(list(HEADER_NAMES))
    frame.index = frame.index.rename(INDEX_NAME)
    frame = frame.sort_index(axis=0).sort_index(axis=1)
    path = Path(path)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, float_format=FLOAT_FORMAT)
    return path


def _read_header(path: Path) -> np.ndarray:
    """Check the four header rows; return, for each data field, its column's position in :func:`fma_columns`."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle)
            rows = [next(reader, None) for _ in range(len(HEADER_NAMES) + 1)]
    except UnicodeDecodeError:
        raise MetadataError(path, "not UTF-8 text (save the file as UTF-8)", line=1) from None
    except csv.Error as exc:
        raise MetadataError(path, f"not readable as CSV: {exc}", line=1) from None
    for line, (row, name) in enumerate(zip(rows, (*HEADER_NAMES, INDEX_NAME)), start=1):
        if row is None:
            raise MetadataError(path, f"the file ends in its header (FMA's features.csv has {FIRST_DATA_LINE - 1} "
                                      "header lines)", line=line)
        if not row or row[0] != name:
            raise MetadataError(path, f"header line {line} must start with {name!r}, found "
                                      f"{(row[0] if row else '')!r}", line=line, column=1)
    if any(cell for cell in rows[-1][1:]):
        raise MetadataError(path, "the track_id line must have no other value", line=len(rows))
    widths = {len(r) for r in rows[:-1]}
    if len(widths) != 1:
        raise MetadataError(path, f"header lines have different numbers of fields ({sorted(widths)})", line=1)
    names = list(zip(*(r[1:] for r in rows[:-1])))
    position = {c: i for i, c in enumerate(fma_columns())}
    order = []
    for field, name in enumerate(names, start=2):
        if name not in position:
            raise MetadataError(path, f"{name} is not one of FMA's 518 feature columns", line=1, column=field)
        order.append(position[name])
    if len(set(order)) != len(order):
        dup = next(n for i, n in enumerate(names) if names.index(n) != i)
        raise MetadataError(path, f"{dup} appears twice in the header", line=1,
                            column=len(names) - names[::-1].index(dup) + 1)
    if len(order) != N_FMA_FEATURES:
        missing = [c for c in fma_columns() if c not in set(names)]
        raise MetadataError(path, f"{N_FMA_FEATURES - len(order)} of FMA's 518 columns are missing "
                                  f"(first: {missing[0]})", line=1)
    return np.asarray(order)


@dataclass
class PublishedChunk:
    """Parsed rows of ``features.csv``: the usable ones and the ones FMA left incomplete.

    Parameters
    ----------
    features : pandas.DataFrame
        Complete, finite rows: index ``track_id`` (int64), columns :func:`fma_columns`, float32.
    missing : pandas.DataFrame
        Rows with empty or non-finite values: ``track_id``, ``line``, ``reason``.
    """

    features: pd.DataFrame
    missing: pd.DataFrame


def _field_counts(path: Path, lines: set[int]) -> dict[int, int]:
    """Number of fields on each of ``lines`` (1-based), one cheap pass over the file's lines."""
    counts, last = {}, max(lines)
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number in lines:
                counts[number] = raw.rstrip(b"\r\n").count(b",") + 1 if raw.strip() else 0
            if number >= last:
                break
    return counts


def read_features_csv(path: Path | str, chunk_rows: int = CHUNK_ROWS) -> Iterator[PublishedChunk]:
    """Stream ``features.csv`` in chunks of ``chunk_rows`` rows, checked.

    Checked: the header (FMA's 518 columns, any order, each once), every value a number,
    every track id a whole number from 0 below :data:`MAX_TRACK_ID` and unique, every row
    with 519 fields. A row with empty or non-finite values (FMA writes empty fields where
    its extraction failed) is not an error of the file: it comes back in ``missing``.

    Parameters
    ----------
    path : pathlib.Path or str
        The file, in FMA's format.
    chunk_rows : int, default CHUNK_ROWS
        Rows parsed at a time (memory is about ``chunk_rows`` x 519 x 8 bytes).

    Yields
    ------
    PublishedChunk

    Raises
    ------
    MetadataError
        On malformed input: one line naming the file, line and column.
    FileNotFoundError
        If ``path`` does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing (FMA's features.csv, from fma_metadata.zip)")
    order = _read_header(path)
    names = fma_columns()
    columns = names[order]
    seen: set[int] = set()
    width = N_FMA_FEATURES + 1
    try:
        reader = pd.read_csv(path, header=None, skiprows=FIRST_DATA_LINE - 1, chunksize=chunk_rows,
                             skip_blank_lines=False, engine="c", low_memory=False,
                             names=range(width), index_col=False)
        first_line = FIRST_DATA_LINE
        for chunk in reader:
            yield _check_chunk(path, chunk, columns, names, first_line, seen)
            first_line += len(chunk)
    except pd.errors.ParserError as exc:
        message = " ".join(str(exc).split())
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", message)
        if found:
            raise MetadataError(path, f"{found.group(3)} fields where the header has {found.group(1)}",
                                line=int(found.group(2))) from None
        raise MetadataError(path, f"not FMA's format: {message}") from None
    except UnicodeDecodeError as exc:
        raise MetadataError(path, f"not UTF-8 text: {exc.reason}") from None


def _check_chunk(path: Path, chunk: pd.DataFrame, columns: pd.MultiIndex, names: pd.MultiIndex,
                 first_line: int, seen: set[int]) -> PublishedChunk:
    lines = np.arange(first_line, first_line + len(chunk))
    for field in range(chunk.shape[1]):  # a column pandas could not read as numbers holds text
        values = chunk.iloc[:, field]
        if values.dtype != object:
            continue
        numbers = pd.to_numeric(values, errors="coerce")
        bad = np.flatnonzero(numbers.isna().to_numpy() & values.notna().to_numpy())
        if len(bad):
            i = int(bad[0])
            where = "track_id" if field == 0 else columns[field - 1]
            raise MetadataError(path, f"{values.iloc[i]!r} is not a number", line=int(lines[i]),
                                column=f"{where} (field {field + 1})")
        chunk.isetitem(field, numbers)
    ids = chunk.iloc[:, 0].to_numpy(dtype=np.float64)
    valid = np.isfinite(ids) & (ids >= 0) & (ids < MAX_TRACK_ID) & (np.floor(ids) == ids)
    if not valid.all():
        i = int(np.flatnonzero(~valid)[0])
        if np.isnan(ids[i]):
            raise MetadataError(path, "no track id (an empty line?)", line=int(lines[i]), column="track_id (field 1)")
        raise MetadataError(path, f"track id {ids[i]:g} is not a whole number from 0 to {MAX_TRACK_ID - 1} "
                                  "(FMA's folders 000-155)", line=int(lines[i]), column="track_id (field 1)")
    ids = ids.astype(np.int64)
    for i, tid in enumerate(ids.tolist()):
        if tid in seen:
            raise MetadataError(path, "duplicate track id", line=int(lines[i]), row=f"track_id {tid}",
                                column="track_id (field 1)")
        seen.add(tid)
    values = chunk.iloc[:, 1:].to_numpy(dtype=np.float64)
    finite = np.isfinite(values)
    incomplete = np.flatnonzero(~finite.all(axis=1))
    if len(incomplete):
        # A short row (a file cut mid-row, a lost field) also reads as trailing empty values:
        # count its fields to tell it from a row FMA left empty.
        counts = _field_counts(path, {int(lines[i]) for i in incomplete})
        for i in incomplete:
            if counts.get(int(lines[i]), 0) != N_FMA_FEATURES + 1:
                raise MetadataError(path, f"{counts.get(int(lines[i]), 0)} fields where the header has "
                                          f"{N_FMA_FEATURES + 1} (cut short?)",
                                    line=int(lines[i]), row=f"track_id {ids[i]}")
    reasons = []
    for i in incomplete:
        empty = int(np.isnan(values[i]).sum())
        if empty == values.shape[1]:
            reasons.append("no published features: all 518 values are empty in features.csv "
                           "(FMA's extraction failed for this track)")
        else:
            first = columns[int(np.flatnonzero(~finite[i])[0])]
            what = f"{empty} of 518 values empty" if empty else "values not finite"
            reasons.append(f"incomplete published features: {what} in features.csv (first: {flat_name(first)})")
    keep = np.setdiff1d(np.arange(len(chunk)), incomplete)
    ordered = np.empty_like(values[keep], dtype=np.float32)
    ordered[:, _inverse_positions(columns, names)] = values[keep]
    features = pd.DataFrame(ordered, index=pd.Index(ids[keep], name=INDEX_NAME), columns=names)
    missing = pd.DataFrame({"track_id": ids[incomplete], "line": lines[incomplete], "reason": reasons})
    return PublishedChunk(features, missing)


def _inverse_positions(columns: pd.MultiIndex, names: pd.MultiIndex) -> np.ndarray:
    """For each field of the file (in its order), its position in ``names``."""
    return names.get_indexer(columns)


def _error_rows(missing: pd.DataFrame, folder: str, path: Path) -> pd.DataFrame:
    """``missing`` rows in extraction's error-table layout (see ``extraction.ERROR_COLUMNS``)."""
    from fma_pipeline.core.audio.extraction import ERROR_COLUMNS, empty_errors

    if not len(missing):
        return empty_errors()
    at = pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")
    rows = pd.DataFrame({"track_id": missing["track_id"].to_numpy(), "folder": folder, "name": path.name,
                         "path": [f"{path}:{line}" for line in missing["line"]],
                         "reason": missing["reason"].to_numpy(), "exception_class": MISSING_ROW, "at": at,
                         "size": -1, "mtime_ns": -1}, columns=list(ERROR_COLUMNS))
    return rows.astype({"size": np.int64, "mtime_ns": np.int64, "track_id": "Int64"})


@dataclass
class SplitSummary:
    """What :func:`split_by_folder` read.

    Parameters
    ----------
    rows : int
        Usable published rows.
    missing : int
        Rows FMA left empty or incomplete (error rows).
    folders : list of str
        Folders handed to the writer, in order.
    """

    rows: int
    missing: int
    folders: list[str]


def split_by_folder(path: Path | str, write: Callable[[str, pd.DataFrame, pd.DataFrame], None],
                    chunk_rows: int = CHUNK_ROWS) -> SplitSummary:
    """Stream ``features.csv`` and hand each FMA folder's rows to ``write(folder, features, errors)``.

    FMA's file is sorted by track id, so each folder is complete, and handed over, as soon as
    the chunks have moved past it: only a few folders' rows are in memory at any time (an
    unsorted file still works; its folders wait until the end). ``errors`` has extraction's
    error-table layout, one row per track FMA left incomplete, with its line in ``path``.

    Parameters
    ----------
    path : pathlib.Path or str
        ``features.csv``.
    write : Callable[[str, pandas.DataFrame, pandas.DataFrame], None]
        Called once per folder holding any row, in folder order for a sorted file.
    chunk_rows : int, default CHUNK_ROWS
        Rows parsed at a time.

    Returns
    -------
    SplitSummary

    Raises
    ------
    MetadataError
        On malformed input (no folder after the bad line is written).
    """
    path = Path(path)
    pending: dict[str, tuple[list[pd.DataFrame], list[pd.DataFrame]]] = {}
    summary = SplitSummary(0, 0, [])

    def flush(keys: list[str]) -> None:
        for key in sorted(keys):
            parts, missing = pending.pop(key)
            features = pd.concat(parts).sort_index() if len(parts) > 1 else parts[0].sort_index()
            errors = _error_rows(pd.concat(missing, ignore_index=True) if missing else missing_frame(), key, path)
            write(key, features, errors)
            summary.folders.append(key)

    for chunk in read_features_csv(path, chunk_rows):
        summary.rows += len(chunk.features)
        summary.missing += len(chunk.missing)
        keys = (chunk.features.index.to_numpy() // 1000)
        for number in np.unique(keys):
            key = f"{int(number):03d}"
            pending.setdefault(key, ([], []))[0].append(chunk.features[keys == number])
        missing_keys = chunk.missing["track_id"].to_numpy() // 1000
        for number in np.unique(missing_keys):
            key = f"{int(number):03d}"
            slot = pending.setdefault(key, ([], []))
            slot[1].append(chunk.missing[missing_keys == number])
            if not slot[0]:
                slot[0].append(_empty_published())
        all_keys = np.concatenate([keys, missing_keys])
        if len(all_keys):
            lowest = f"{int(all_keys.min()):03d}"
            flush([k for k in pending if k < lowest])
    flush(list(pending))
    return summary


def missing_frame() -> pd.DataFrame:
    """An empty ``missing`` table (see :class:`PublishedChunk`).

    Returns
    -------
    pandas.DataFrame
    """
    return pd.DataFrame({"track_id": pd.Series(dtype=np.int64), "line": pd.Series(dtype=np.int64),
                         "reason": pd.Series(dtype=object)})


def _empty_published() -> pd.DataFrame:
    return pd.DataFrame(np.empty((0, N_FMA_FEATURES), dtype=np.float32),
                        index=pd.Index([], name=INDEX_NAME, dtype=np.int64), columns=fma_columns())


def empty_published() -> pd.DataFrame:
    """A published-features table with no rows (index ``track_id``, :func:`fma_columns`, float32).

    Returns
    -------
    pandas.DataFrame
    """
    return _empty_published()


def source_stamp(path: Path | str) -> dict[str, int] | None:
    """``{"size", "mtime_ns"}`` of ``features.csv``, or None when it is absent: an unchanged
    file (same stamp) need not be read again.

    Parameters
    ----------
    path : pathlib.Path or str

    Returns
    -------
    dict of str to int, or None
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


@dataclass
class StoredPublished:
    """What :func:`store_published` did.

    Parameters
    ----------
    rows : int
        Usable published rows stored.
    missing : int
        Rows recorded as errors (FMA left them empty or incomplete).
    folders : int
        Folder files written (or kept).
    reused : bool
        The file was unchanged since the last call: nothing was read or written.
    seconds : float
        Wall time of the call.
    """

    rows: int
    missing: int
    folders: int
    reused: bool
    seconds: float


def store_published(path: Path | str, root: DataRoot, chunk_rows: int = CHUNK_ROWS) -> StoredPublished:
    """Read ``features.csv`` into per-folder Parquet files under the data root (streamed).

    Writes ``pipeline/published_features/NNN.parquet`` per folder (index ``track_id``, the 518
    columns, float32), ``published_feature_errors.parquet`` (rows FMA left incomplete, in
    extraction's error layout) and ``published_features.json`` (the file's size and mtime, so an
    unchanged file is not read again). Folder files of an earlier, larger file are removed.
    With no ``features.csv`` every output is empty: a data root with audio only needs none.

    Parameters
    ----------
    path : pathlib.Path or str
        ``features.csv`` (need not exist).
    root : DataRoot
        Where to store.
    chunk_rows : int, default CHUNK_ROWS
        Rows parsed at a time.

    Returns
    -------
    StoredPublished

    Raises
    ------
    MetadataError
        On malformed input; what was stored before is then left as it was, except folder
        files already rewritten from the new file.
    """
    import json
    import time

    from fma_pipeline.core.audio.extraction import empty_errors
    from fma_pipeline.core.catalogue import PUBLISHED_FEATURE_ERRORS, PUBLISHED_FEATURES, PUBLISHED_MANIFEST
    from fma_pipeline.core.storage import write_parquet

    started = time.perf_counter()
    path = Path(path)
    manifest_path = root.path(PUBLISHED_MANIFEST)
    stamp = source_stamp(path)
    previous = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
    if previous and stamp and previous.get("source") == {**stamp, "path": str(path)} and all(
            root.partition_path(PUBLISHED_FEATURES, k).is_file() for k in previous["folders"]) \
            and root.path(PUBLISHED_FEATURE_ERRORS).is_file():
        return StoredPublished(previous["rows"], previous["missing"], len(previous["folders"]), True,
                               time.perf_counter() - started)
    errors: list[pd.DataFrame] = []

    def write(key: str, features: pd.DataFrame, folder_errors: pd.DataFrame) -> None:
        write_parquet(features, root.partition_path(PUBLISHED_FEATURES, key))
        if len(folder_errors):
            errors.append(folder_errors)

    summary = split_by_folder(path, write, chunk_rows) if stamp else SplitSummary(0, 0, [])
    for stale in root.partition_paths(PUBLISHED_FEATURES):
        if stale.stem not in summary.folders:
            stale.unlink()
    write_parquet(pd.concat(errors, ignore_index=True) if errors else empty_errors(),
                  root.path(PUBLISHED_FEATURE_ERRORS))
    manifest = {"source": {**stamp, "path": str(path)} if stamp else None, "rows": summary.rows,
                "missing": summary.missing, "folders": summary.folders}
    with atomic_path(manifest_path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1))
    return StoredPublished(summary.rows, summary.missing, len(summary.folders), False,
                           time.perf_counter() - started)


# ----------------------------------------------------------------------------- combining

def combine_sources(extracted: pd.DataFrame | None, published: pd.DataFrame | None,
                    precedence: str = DEFAULT_PRECEDENCE) -> tuple[pd.DataFrame, pd.Series]:
    """One feature matrix from the two sources, and each row's source.

    ``extracted_else_published``: every extracted row, and the published row of each track
    without one; ``published``: published rows only; ``extracted``: extracted rows only.
    Published rows lack the 190 ``mfcc_corr`` columns, so when any published row is used the
    matrix keeps only the 518 columns every row has (no NaN reaches scaling, PCA or a model).

    Parameters
    ----------
    extracted : pandas.DataFrame or None
        Extracted rows, the 708 flat-named columns (index ``track_id``).
    published : pandas.DataFrame or None
        Published rows, the 518 flat-named columns of :func:`fma_flat_names`.
    precedence : str, default DEFAULT_PRECEDENCE
        One of :data:`SOURCE_PRECEDENCES`.

    Returns
    -------
    matrix : pandas.DataFrame
        Sorted by track id; 708 columns with extracted rows only, else the 518.
    source : pandas.Series
        ``published`` or ``extracted`` per row of ``matrix`` (name ``source``).

    Raises
    ------
    ValueError
        If ``precedence`` is not one of :data:`SOURCE_PRECEDENCES`.

    Examples
    --------
    >>> names = fma_flat_names()
    >>> pub = pd.DataFrame(np.zeros((2, 518)), index=pd.Index([2, 3], name="track_id"), columns=names)
    >>> ext = pd.DataFrame(np.ones((1, 518)), index=pd.Index([3], name="track_id"), columns=names)
    >>> matrix, source = combine_sources(ext, pub)
    >>> source.tolist(), matrix.shape
    (['published', 'extracted'], (2, 518))
    """
    if precedence not in SOURCE_PRECEDENCES:
        raise ValueError(f"unknown feature source precedence {precedence!r}; choose from {list(SOURCE_PRECEDENCES)}")
    empty = pd.DataFrame(index=pd.Index([], name=INDEX_NAME, dtype=np.int64))
    extracted = empty if extracted is None or precedence == PUBLISHED else extracted
    published = empty if published is None or precedence == EXTRACTED else published
    if precedence == DEFAULT_PRECEDENCE:
        published = published.loc[~published.index.isin(extracted.index)]
    parts = [(frame, name) for frame, name in ((extracted, EXTRACTED), (published, PUBLISHED)) if len(frame)]
    if not parts:
        columns = list(extracted.columns) if len(extracted.columns) else fma_flat_names()
        return pd.DataFrame(columns=columns, index=empty.index, dtype=np.float32), pd.Series(
            [], index=empty.index, name="source", dtype=object)
    common = fma_flat_names() if any(name == PUBLISHED for _, name in parts) else list(parts[0][0].columns)
    matrix = pd.concat([frame.loc[:, common] for frame, _ in parts]).sort_index()
    source = pd.concat([pd.Series(name, index=frame.index) for frame, name in parts]).rename("source")
    return matrix, source.loc[matrix.index]


# ----------------------------------------------------------------------------- comparing

#: A track is "far outside" beyond the median plus this many robust standard deviations
#: (1.4826 x the median absolute deviation, which, unlike the IQR, still holds when a few of a
#: handful of tracks are wrong) ...
FAR_OUT_SDS = 5.0
#: ... and at least this much above the median (tracks within 5 % are not a wrong file).
FAR_OUT_MIN = 0.05


def relative_difference(extracted: np.ndarray, published: np.ndarray) -> np.ndarray:
    """``|e - p| / max(|e|, |p|)`` element-wise (0 where both are 0): 0 = equal, 1 = unrelated
    magnitudes, up to 2 for opposite signs; bounded, so a value near zero cannot dominate.

    Parameters
    ----------
    extracted, published : numpy.ndarray
        Same shape.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> relative_difference(np.array([1.0, 0.0, -1.0]), np.array([1.1, 0.0, 1.0])).round(3).tolist()
    [0.091, 0.0, 2.0]
    """
    e, p = np.asarray(extracted, dtype=np.float64), np.asarray(published, dtype=np.float64)
    scale = np.maximum(np.abs(e), np.abs(p))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scale > 0, np.abs(e - p) / np.where(scale > 0, scale, 1.0), 0.0)


@dataclass
class SourceComparison:
    """Published against extracted rows of the same tracks.

    Parameters
    ----------
    families : pandas.DataFrame
        One row per family (then ``all``): ``tracks``, ``median``, ``q25``, ``q75``, ``iqr`` of
        the per-track median relative difference, ``fence`` (see :data:`FAR_OUT_SDS`) and
        ``far_outside``.
    outliers : pandas.DataFrame
        Tracks far outside on all 518 columns: ``track_id``, ``difference``, ``fence``,
        ``families_far_outside``.
    """

    families: pd.DataFrame
    outliers: pd.DataFrame


COMPARISON_COLUMNS = ("family", "tracks", "median", "q25", "q75", "iqr", "fence", "far_outside")
OUTLIER_COLUMNS = ("track_id", "difference", "fence", "families_far_outside")


def compare_sources(extracted: pd.DataFrame, published: pd.DataFrame) -> SourceComparison:
    """Per family, how far the published rows are from the extracted rows of the same tracks.

    For each track and family, the median over the family's columns of
    :func:`relative_difference`; per family, the median and quartiles of that over tracks,
    and the tracks beyond ``median + max(FAR_OUT_SDS * 1.4826 * MAD, FAR_OUT_MIN)``. The tracks far
    outside on all 518 columns together are listed: a wrong file or another recording (an
    edit, a live take) under the track's id, where the rest differ only by clip against
    full track and library versions.

    Parameters
    ----------
    extracted : pandas.DataFrame
        Extracted rows (at least the 518 flat-named columns).
    published : pandas.DataFrame
        Published rows, the 518 flat-named columns.

    Returns
    -------
    SourceComparison
        Empty tables when no track has both.
    """
    names = fma_flat_names()
    both = extracted.index.intersection(published.index).sort_values()
    if not len(both):
        return SourceComparison(pd.DataFrame(columns=list(COMPARISON_COLUMNS)),
                                pd.DataFrame(columns=list(OUTLIER_COLUMNS)))
    diff = relative_difference(extracted.loc[both, names].to_numpy(), published.loc[both, names].to_numpy())
    families = np.array([feature_family(n) for n in names])
    per_track = {f: np.median(diff[:, families == f], axis=1) for f in dict.fromkeys(families)}
    per_track["all"] = np.median(diff, axis=1)
    rows, far = [], {}
    for family, values in per_track.items():
        q25, median, q75 = np.percentile(values, [25, 50, 75])
        mad = 1.4826 * np.median(np.abs(values - median))
        fence = median + max(FAR_OUT_SDS * mad, FAR_OUT_MIN)
        far[family] = values > fence
        rows.append({"family": family, "tracks": len(values), "median": median, "q25": q25, "q75": q75,
                     "iqr": q75 - q25, "fence": fence, "far_outside": int(far[family].sum())})
    table = pd.DataFrame(rows, columns=list(COMPARISON_COLUMNS))
    out = np.flatnonzero(far["all"])
    fence = float(table.loc[table["family"] == "all", "fence"].iloc[0])
    outliers = pd.DataFrame({
        "track_id": both[out].to_numpy(dtype=np.int64), "difference": per_track["all"][out], "fence": fence,
        "families_far_outside": [", ".join(f for f in per_track if f != "all" and far[f][i]) for i in out],
    }, columns=list(OUTLIER_COLUMNS)).sort_values("difference", ascending=False, ignore_index=True)
    return SourceComparison(table, outliers)


def comparison_advice(comparison: SourceComparison, close: float = 0.05) -> str:
    """One sentence for the report: whether the two sources agree well enough to mix.

    Parameters
    ----------
    comparison : SourceComparison
    close : float, default 0.05
        A median relative difference below this (all 518 columns) counts as agreeing.

    Returns
    -------
    str
    """
    table = comparison.families
    if not len(table):
        return "No track has both an extracted and a published row: nothing to compare."
    overall = table.loc[table["family"] == "all"].iloc[0]
    worst = table.loc[table["family"] != "all"].sort_values("median").iloc[-1]
    outliers = len(comparison.outliers)
    head = (f"On {int(overall['tracks'])} tracks with both rows the median relative difference is "
            f"{overall['median']:.3f} (IQR {overall['q25']:.3f}-{overall['q75']:.3f}); the furthest family is "
            f"{worst['family']} ({worst['median']:.3f}); {outliers} track(s) far outside (a wrong file or another "
            "recording?).")
    if overall["median"] < close:
        return head + " The sources agree closely: mixing them (extracted_else_published) is safe."
    return (head + " The sources differ by more than rounding (FMA computed features.csv on full-length tracks "
            "with librosa 0.5): train and predict on one source where you can (set the precedence to "
            "'extracted' when your audio covers your tracks, else 'published').")
