"""Readers and a writer for FMA's metadata files, ``tracks.csv`` and ``genres.csv``.

``tracks.csv`` has two header rows (column group, then column name) and a third row
holding only ``track_id``; it is read with ``header=[0, 1], index_col=0``. Several
columns hold Python list literals (``('track', 'genres')`` is ``"[21, 811]"``), parsed
here with :func:`ast.literal_eval` (never ``eval``).

Malformed input stops with a :class:`MetadataError` that names the file, the line (1-based,
as an editor shows it; a record whose quoted text spans lines is named by its first line),
the row (the track or genre id) and the column, in one line. Before pandas parses a file,
one pass of the ``csv`` module checks that every record has as many fields as the header
(a file cut mid-row, a short row, a row with extra fields) and maps records to lines; a
byte that is not UTF-8 is reported with its line and byte offset. Values are checked
where pandas would accept them silently: a track id must be a whole number (``7.9`` is
not 7), ``artist.id`` a whole number or empty, ``genre_top`` a genre title of ``genres.csv``
(:func:`check_genre_ids`), and each genre's ``top_level`` the root
of its ``parent`` chain.

Tolerances, by decision: extra *columns* (named in the header) are kept and ignored; an
empty ``genre_top`` is normal (FMA leaves it empty when a track's genres span several
roots). Only an empty cell is missing: free text such as a title ``NA``, ``null`` or
``007`` reads back as that text (pandas' defaults would make it NaN or the number 7).
"""

from __future__ import annotations

import ast
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

#: tracks.csv's 52 columns, grouped as FMA ships them.
TRACKS_COLUMNS: dict[str, tuple[str, ...]] = {
    "album": ("comments", "date_created", "date_released", "engineer", "favorites", "id",
              "information", "listens", "producer", "tags", "title", "tracks", "type"),
    "artist": ("active_year_begin", "active_year_end", "associated_labels", "bio", "comments",
               "date_created", "favorites", "id", "latitude", "location", "longitude",
               "members", "name", "related_projects", "tags", "website", "wikipedia_page"),
    "set": ("split", "subset"),
    "track": ("bit_rate", "comments", "composer", "date_created", "date_recorded", "duration",
              "favorites", "genre_top", "genres", "genres_all", "information", "interest",
              "language_code", "license", "listens", "lyricist", "number", "publisher", "tags",
              "title"),
}
ALL_TRACKS_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (group, name) for group, names in TRACKS_COLUMNS.items() for name in names
)
#: Columns holding Python list literals.
LIST_COLUMNS: tuple[tuple[str, str], ...] = (
    ("track", "genres"), ("track", "genres_all"), ("track", "tags"),
    ("album", "tags"), ("artist", "tags"),
)
#: Columns the pipeline cannot work without.
REQUIRED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("set", "split"), ("set", "subset"), ("track", "genre_top"), ("track", "genres"),
    ("track", "genres_all"), ("artist", "id"),
)
SPLITS: tuple[str, ...] = ("training", "validation", "test")
GENRES_COLUMNS: tuple[str, ...] = ("#tracks", "parent", "title", "top_level")
#: Free-text columns, always read as text (a title "1.50" stays "1.50").
TEXT_COLUMNS: tuple[tuple[str, str], ...] = tuple(
    (group, name) for group, name in ALL_TRACKS_COLUMNS
    if name in ("date_created", "date_released", "date_recorded", "engineer", "information", "producer",
                "title", "type", "associated_labels", "bio", "location", "members", "name",
                "related_projects", "website", "wikipedia_page", "composer", "genre_top",
                "language_code", "license", "lyricist", "publisher")
)


class MetadataError(ValueError):
    """Malformed FMA metadata; the message names the file, line, row and column."""

    def __init__(self, path: Path | str, message: str, *, row: object = None, column: object = None,
                 line: int | None = None):
        where = [str(path)]
        if line is not None:
            where.append(f"line {line}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(f"{', '.join(where)}: {message}")
        self.path, self.row, self.column, self.line = str(path), row, column, line


def plain(value: object) -> object:
    """A value as a person writes it: ``-5``, not ``np.int64(-5)``."""
    return value.item() if isinstance(value, np.generic) else value


def record_lines(path: Path, header_rows: int) -> np.ndarray:
    """The first line of each data record, after checking every record's field count.

    Parameters
    ----------
    path
        A CSV file.
    header_rows
        How many records are header (their field count sets the expected one).

    Returns
    -------
    numpy.ndarray
        1-based line numbers, one per data record (blank lines skipped, as pandas does).

    Raises
    ------
    MetadataError
        A record with fewer or more fields than the header (naming its line, and whether
        the file looks cut short), or a byte that is not UTF-8 (naming its line and offset).
    """
    lines: list[int] = []
    expected = None
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            first = 1
            for record in reader:
                if record:
                    if expected is None:
                        expected = len(record)
                    elif len(record) != expected:
                        last = handle.read(1) == ""
                        hint = (" (the file ends here: cut short?)" if last and len(record) < expected
                                else " (a short row)" if len(record) < expected else " (extra fields)")
                        raise MetadataError(path, f"{len(record)} fields where the header has {expected}{hint}",
                                            line=first)
                    lines.append(first)
                first = reader.line_num + 1
    except UnicodeDecodeError:
        raw = Path(path).read_bytes()
        try:
            raw.decode("utf-8")
            raise
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            offset = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1)
            raise MetadataError(path, f"byte 0x{raw[exc.start]:02x} at byte {offset + 1} of the line is not UTF-8 "
                                      "(save the file as UTF-8)", line=line) from None
    return np.asarray(lines[header_rows:], dtype=np.int64)


@dataclass(frozen=True)
class GenreTree:
    """FMA's genre hierarchy: ``genres.csv`` indexed by genre id."""

    table: pd.DataFrame  # index genre_id; columns '#tracks', 'parent', 'title', 'top_level'

    def title(self, genre_id: int) -> str:
        return str(self.table.at[genre_id, "title"])

    def parent(self, genre_id: int) -> int:
        return int(self.table.at[genre_id, "parent"])

    def root(self, genre_id: int) -> int:
        return int(self.table.at[genre_id, "top_level"])

    def roots(self) -> pd.Series:
        """Top-level genres (``parent == 0``): id -> title."""
        return self.table.loc[self.table["parent"] == 0, "title"]

    def ids_by_title(self) -> dict[str, int]:
        return {str(t): int(i) for i, t in self.table["title"].items()}

    def path_to_root(self, genre_id: int) -> list[int]:
        """``[genre_id, parent, …, root]``; guards against cycles in a damaged file."""
        path = [genre_id]
        while (parent := self.parent(path[-1])) != 0:
            if parent in path or parent not in self.table.index:
                raise MetadataError("genres.csv", f"broken parent chain from genre {genre_id}",
                                    row=f"genre_id {path[-1]}", column="parent")
            path.append(parent)
        return path


def read_genres(path: Path | str) -> GenreTree:
    """Read and validate ``genres.csv`` (``genre_id,#tracks,parent,title,top_level``)."""
    path = Path(path)
    lines = record_lines(path, 1)
    try:
        table = pd.read_csv(path, index_col=0, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise MetadataError(path, f"cannot parse as UTF-8 CSV: {exc}") from exc
    line_of = dict(zip(table.index, lines)) if len(lines) == len(table) else {}
    if table.index.name != "genre_id":
        raise MetadataError(path, f"first column must be genre_id, found {table.index.name!r}",
                            row=1, column=table.index.name)
    for column in GENRES_COLUMNS:
        if column not in table.columns:
            raise MetadataError(path, "required column is missing", row=1, column=column)
    if table.index.has_duplicates:
        pos = int(np.flatnonzero(table.index.duplicated())[0])
        raise MetadataError(path, "duplicate genre id", row=f"genre_id {plain(table.index[pos])}", column="genre_id",
                            line=int(lines[pos]) if len(lines) == len(table) else None)
    for column in ("parent", "top_level"):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() | ~(values.isin(table.index) | (values == 0) if column == "parent"
                                else values.isin(table.index))
        if bad.any():
            gid = table.index[bad.to_numpy()][0]
            raise MetadataError(path, f"{plain(table.at[gid, column])!r} is not a known genre id",
                                row=f"genre_id {plain(gid)}", column=column, line=line_of.get(gid))
        table[column] = values.astype(int)
    tree = GenreTree(table)
    for gid in table.index:  # top_level must be where the parent chain ends
        root = tree.path_to_root(gid)[-1]
        if root != table.at[gid, "top_level"]:
            raise MetadataError(path, f"top_level {plain(table.at[gid, 'top_level'])} contradicts the parent chain, "
                                      f"which ends at genre {root}", row=f"genre_id {plain(gid)}", column="top_level",
                                line=line_of.get(gid))
    return tree


def _parse_list(value: object, path: Path, track_id: int, column: tuple[str, str], line: int | None = None) -> list:
    if isinstance(value, list):
        return value
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return []
    try:
        parsed = ast.literal_eval(str(value))
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise MetadataError(path, f"not a list literal: {str(value)[:60]!r} ({type(exc).__name__})",
                            row=f"track_id {track_id}", column=column, line=line) from exc
    if not isinstance(parsed, (list, tuple)):
        raise MetadataError(path, f"expected a list, found {type(parsed).__name__}",
                            row=f"track_id {track_id}", column=column, line=line)
    return list(parsed)


def read_tracks(path: Path | str) -> pd.DataFrame:
    """Read and validate FMA's ``tracks.csv``.

    Returns the table indexed by ``track_id`` with two-level columns, list columns
    parsed into Python lists, ``('set', 'subset')`` as an ordered categorical and
    ``('set', 'split')`` as a categorical.
    """
    path = Path(path)
    lines = record_lines(path, 3)
    try:
        tracks = pd.read_csv(path, index_col=0, header=[0, 1], encoding="utf-8", low_memory=False,
                             dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, IndexError) as exc:
        raise MetadataError(path, f"cannot parse as FMA tracks.csv: {exc}") from exc
    if len(lines) != len(tracks):  # pandas and csv disagree on records: name lines by position only
        lines = np.arange(4, 4 + len(tracks))
    if tracks.index.name != "track_id":
        raise MetadataError(path, "third header row must hold 'track_id' in its first cell",
                            row=3, column=1)
    missing = [c for c in REQUIRED_COLUMNS if c not in tracks.columns]
    if missing:
        raise MetadataError(path, "required column is missing (header rows 1-2)", row="1-2",
                            column=missing[0])
    ids = pd.to_numeric(pd.Series(tracks.index), errors="coerce")
    bad = ids.isna() | (ids < 0) | (ids != np.floor(ids))  # 7.9 is no track id (not 7)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise MetadataError(path, f"track id {plain(tracks.index[pos])!r} is not a non-negative whole number",
                            column="track_id", line=int(lines[pos]))
    tracks.index = pd.Index(ids.astype(np.int64).to_numpy(), name="track_id")
    if tracks.index.has_duplicates:
        dup = int(tracks.index[tracks.index.duplicated()][0])
        at = [int(lines[i]) for i in np.flatnonzero(tracks.index == dup)]
        raise MetadataError(path, f"duplicate track id (lines {at})", row=f"track_id {dup}",
                            column="track_id", line=at[-1])
    line_of = dict(zip(tracks.index, lines.tolist()))
    for column in LIST_COLUMNS:
        if column in tracks.columns:
            tracks[column] = [_parse_list(v, path, tid, column, line_of[tid])
                              for tid, v in zip(tracks.index, tracks[column])]
    for column, allowed in ((("set", "subset"), ("small", "medium", "large")),
                            (("set", "split"), SPLITS)):
        bad = ~tracks[column].isin(allowed) & tracks[column].notna()
        if bad.any():
            tid = int(tracks.index[bad.to_numpy()][0])
            raise MetadataError(path, f"{plain(tracks.at[tid, column])!r} is not one of {allowed}",
                                row=f"track_id {tid}", column=column, line=line_of[tid])
    artist = pd.to_numeric(tracks[("artist", "id")], errors="coerce")
    bad = (artist.isna() & tracks[("artist", "id")].notna()) | (artist != np.floor(artist)) & artist.notna()
    if bad.any():
        tid = int(tracks.index[bad.to_numpy()][0])
        raise MetadataError(path, f"artist id {plain(tracks.at[tid, ('artist', 'id')])!r} is not a whole number",
                            row=f"track_id {tid}", column=("artist", "id"), line=line_of[tid])
    tracks[("artist", "id")] = artist.astype("Int64")
    tracks.attrs["lines"] = line_of  # for later checks' messages (check_genre_ids)
    tracks[("set", "subset")] = pd.Categorical(tracks[("set", "subset")],
                                               categories=["small", "medium", "large"], ordered=True)
    tracks[("set", "split")] = pd.Categorical(tracks[("set", "split")], categories=list(SPLITS))
    return tracks


def check_genre_ids(tracks: pd.DataFrame, genres: GenreTree, path: Path | str) -> None:
    """Every id in ``('track', 'genres')`` / ``genres_all`` must exist in genres.csv, and a
    non-empty ``genre_top`` must be one of its titles (in FMA's own file always a top-level
    genre; an imported collection may keep a sub-genre such as GTZAN's Metal as its class).

    Raises
    ------
    MetadataError
        Naming the line, track and column of the first track that breaks either rule.
    """
    known = set(genres.table.index)
    line_of = tracks.attrs.get("lines", {})
    for column in (("track", "genres"), ("track", "genres_all")):
        for tid, ids in tracks[column].items():
            unknown = [g for g in ids if g not in known]
            if unknown:
                raise MetadataError(path, f"unknown genre id {plain(unknown[0])!r} (not in genres.csv)",
                                    row=f"track_id {tid}", column=column, line=line_of.get(tid))
    tops = tracks[("track", "genre_top")]
    titles = set(genres.table["title"].astype(str))
    bad = tops.notna() & (tops.astype(str) != "") & ~tops.astype(str).isin(titles)
    if bad.any():
        tid = int(tracks.index[bad.to_numpy()][0])
        raise MetadataError(path, f"genre_top {tops[tid]!r} is not a genre title of genres.csv",
                            row=f"track_id {tid}", column=("track", "genre_top"), line=line_of.get(tid))


def write_tracks_csv(tracks: pd.DataFrame, path: Path | str) -> None:
    """Write a table in FMA's exact ``tracks.csv`` layout (all 52 columns, FMA's order).

    Missing columns are written empty; list columns are written as Python literals,
    as FMA does. The write is atomic (temporary file, then rename).
    """
    from fma_pipeline.core.storage import atomic_path

    out = pd.DataFrame(index=pd.Index(tracks.index, name="track_id"))
    for column in ALL_TRACKS_COLUMNS:
        values = tracks[column] if column in tracks.columns else pd.Series(np.nan, index=tracks.index)
        if column in LIST_COLUMNS:
            values = values.map(lambda v: repr(list(v)) if isinstance(v, (list, tuple)) else "[]")
        out[column] = values.astype(object) if hasattr(values, "cat") else values
    out.columns = pd.MultiIndex.from_tuples(ALL_TRACKS_COLUMNS)
    with atomic_path(path) as tmp:
        out.to_csv(tmp, encoding="utf-8")


def write_genres_csv(table: pd.DataFrame, path: Path | str) -> None:
    """Write ``genres.csv`` in FMA's layout (``genre_id,#tracks,parent,title,top_level``)."""
    from fma_pipeline.core.storage import atomic_path

    out = table.loc[:, list(GENRES_COLUMNS)].copy()
    out.index.name = "genre_id"
    with atomic_path(path) as tmp:
        out.to_csv(tmp, encoding="utf-8")
