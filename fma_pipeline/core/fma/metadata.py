"""Readers and a writer for FMA's metadata files, ``tracks.csv`` and ``genres.csv``.

``tracks.csv`` has two header rows (column group, then column name) and a third row
holding only ``track_id``; it is read with ``header=[0, 1], index_col=0``. Several
columns hold Python list literals (``('track', 'genres')`` is ``"[21, 811]"``), parsed
here with :func:`ast.literal_eval` (never ``eval``).

Malformed input stops with a :class:`MetadataError` whose message is one line naming the
file, the row and the column, e.g. ``…/tracks.csv, line 7, row track_id 5, column
('track', 'genres'): not a list literal``. Rows are named two ways:

- ``line N`` is the row number: the 1-based line of the file, as an editor shows it,
  header lines included (tracks.csv's first track is on line 4, genres.csv's first genre
  on line 2). A record whose quoted text spans lines is named by its first line.
- ``row track_id 5`` / ``row genre_id 25`` is the row's id, when the id itself is valid.

Columns are named as the header names them (``('track', 'genres')`` in tracks.csv,
``top_level`` in genres.csv), or by their 1-based field number when the header has no name
for them (``column 54`` for an extra field).

Before pandas parses a file, one pass of the ``csv`` module checks that every record has
as many fields as the header (a file cut mid-row, a short row, a row with extra fields)
and maps records to lines; a byte that is not UTF-8 is reported with its line, its
column and its byte offset in the line. Values are checked where pandas would accept
them silently: a track id must be a whole number from 0 to 2**63 - 1 (``7.9`` is not 7,
``1e30`` does not wrap round), ``artist.id`` a non-negative whole number or empty (the
track selection gives artist-less tracks negative placeholder ids), ``genre_top`` a
genre title of ``genres.csv`` (:func:`check_genre_ids`, so that the later sub-genre
step never meets a genre it cannot map to an id), a genre id a whole number from 1
(``parent`` 0 marks a root), and each genre's ``top_level`` the root of its ``parent``
chain, which must not loop.

Tolerances, by decision: extra *columns* (named in the header) are kept and ignored; an
empty ``genre_top`` is normal (FMA leaves it empty when a track's genres span several
roots); an id written ``7.0`` is the whole number 7 (pandas has already read it as a
number). Only an empty cell is missing: free text such as a title ``NA``, ``null`` or
``007`` reads back as that text (pandas' defaults would make it NaN or the number 7).
A file cut exactly at the end of a record, or inside the last, unquoted field of the
last record, cannot be told from a complete one and is read as it is.
"""

from __future__ import annotations

import ast
import csv
import io
import re
import sys
from dataclasses import dataclass, field
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
    """Malformed FMA metadata; the message names the file, line, row and column.

    Parameters
    ----------
    path : pathlib.Path or str
        The file.
    message : str
        What is wrong, one line.
    row : object, default None
        The row's id (``track_id 5``), when it is valid.
    column : object, default None
        The column's header name, or its 1-based field number.
    line : int or None, default None
        The 1-based line of the file where the record starts.

    Attributes
    ----------
    path : str
        As given.
    row : object
        As given.
    column : object
        As given.
    line : int or None
        As given.
    """

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
    """A value as a person writes it: ``-5``, not ``np.int64(-5)``.

    Parameters
    ----------
    value : object
        Any value; a numpy scalar is converted to its Python equivalent.

    Returns
    -------
    object
    """
    return value.item() if isinstance(value, np.generic) else value


#: Ids are int64: a larger number would wrap round (1e30 read as -9223372036854775808).
_ID_LIMIT = 2.0 ** 63
_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, decoded with surrogateescape


def _bad_ids(values: pd.Series) -> pd.Series:
    """True where a numeric value is no id: missing, infinite, negative, fractional or too large."""
    numbers = values.astype(float)
    return ~np.isfinite(numbers) | (numbers < 0) | (numbers != np.floor(numbers)) | (numbers >= _ID_LIMIT)


@dataclass
class _Scan:
    """What one ``csv`` pass learns about a file: header records and each data record's line."""

    lines: np.ndarray
    headers: list[list[str]] = field(default_factory=list)
    last_fields: int = 0  # fields of the last record (the one an unterminated quote swallows)
    last_line: int | None = None

    def column(self, index: int) -> object:
        """Header name of field ``index`` (0-based): ``('track', 'genres')``, ``'top_level'``, or its number."""
        parts = tuple(h[index] for h in self.headers if index < len(h) and h[index])
        return parts if len(parts) > 1 else parts[0] if parts else index + 1


def _scan(path: Path, header_rows: int) -> _Scan:
    """Check every record's field count and map data records to lines (see :func:`record_lines`)."""
    lines: list[int] = []
    headers: list[list[str]] = []
    expected = None
    record: list[str] = []
    first = 1
    limit = csv.field_size_limit(min(sys.maxsize, 2**31 - 1))  # a long artist bio is no error
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            try:
                for record in reader:
                    if record:
                        if len(headers) < header_rows:
                            headers.append(record)
                        if expected is None:
                            expected = len(record)
                        elif len(record) != expected:
                            scan = _Scan(np.empty(0, dtype=np.int64), headers)
                            if len(record) < expected:
                                hint = (" (the file ends here: cut short?)" if handle.read(1) == ""
                                        else " (a short row)")
                                raise MetadataError(path, f"{len(record)} fields where the header has {expected}; "
                                                          f"the row stops before this column{hint}",
                                                    line=first, column=scan.column(len(record)))
                            raise MetadataError(path, f"{len(record)} fields where the header has {expected} "
                                                      "(extra fields)", line=first, column=expected + 1)
                        lines.append(first)
                    first = reader.line_num + 1
            except csv.Error as exc:
                raise MetadataError(path, f"not readable as CSV: {exc}", line=first) from None
    except UnicodeDecodeError:
        raise _not_utf8(path, header_rows) from None
    finally:
        csv.field_size_limit(limit)
    return _Scan(np.asarray(lines[header_rows:], dtype=np.int64), headers, len(record),
                 lines[-1] if lines else None)


def _not_utf8(path: Path, header_rows: int) -> MetadataError:
    """The error for a file that is not UTF-8: the first bad byte's line, column and offset."""
    raw = Path(path).read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
    else:  # pragma: no cover - the scan failed on the same bytes
        return MetadataError(path, "not UTF-8 text (save the file as UTF-8)")
    line = raw.count(b"\n", 0, start) + 1
    offset = start - (raw.rfind(b"\n", 0, start) + 1)
    # Which field holds the byte: read the records again, bytes kept as surrogates (error path only).
    text = raw.decode("utf-8", errors="surrogateescape")
    headers: list[list[str]] = []
    column: object = None
    limit = csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        for record in csv.reader(io.StringIO(text, newline="")):
            hit = next((i for i, value in enumerate(record) if _NOT_UTF8.search(value)), None)
            if hit is not None:
                column = _Scan(np.empty(0, dtype=np.int64), headers).column(hit)
                break
            if record and len(headers) < header_rows:
                headers.append(record)
    except csv.Error:
        pass
    finally:
        csv.field_size_limit(limit)
    return MetadataError(path, f"byte 0x{raw[start]:02x} at byte {offset + 1} of the line is not UTF-8 "
                               "(save the file as UTF-8)", line=line, column=column)


def _parser_error(path: Path, exc: Exception, scan: _Scan, what: str) -> MetadataError:
    """A pandas parse failure as a :class:`MetadataError`, naming the line where it can be placed."""
    if "EOF inside string" in str(exc) and scan.last_line is not None:
        return MetadataError(path, "the file ends inside a quoted field that starts in this row (cut short?)",
                             line=scan.last_line, column=scan.column(max(scan.last_fields - 1, 0)))
    return MetadataError(path, f"cannot parse as {what}: {' '.join(str(exc).split())}")


def record_lines(path: Path, header_rows: int) -> np.ndarray:
    """The first line of each data record, after checking every record's field count.

    Parameters
    ----------
    path : pathlib.Path
        A CSV file.
    header_rows : int
        How many records are header (their field count sets the expected one).

    Returns
    -------
    numpy.ndarray
        1-based line numbers, one per data record (blank lines skipped, as pandas does).

    Raises
    ------
    MetadataError
        A record with fewer or more fields than the header (naming its line, the first
        missing column or the first extra field's number, and whether the file looks cut
        short), a record the ``csv`` module cannot read, or a byte that is not UTF-8
        (naming its line, column and byte offset in the line).
    """
    return _scan(Path(path), header_rows).lines


@dataclass(frozen=True)
class GenreTree:
    """FMA's genre hierarchy: ``genres.csv`` indexed by genre id.

    Parameters
    ----------
    table : pandas.DataFrame
        Index ``genre_id``; columns ``#tracks``, ``parent``, ``title``, ``top_level``.
    """

    table: pd.DataFrame  # index genre_id; columns '#tracks', 'parent', 'title', 'top_level'

    def title(self, genre_id: int) -> str:
        """The genre's title.

        Parameters
        ----------
        genre_id : int
            A genre id of the table.

        Returns
        -------
        str
        """
        return str(self.table.at[genre_id, "title"])

    def parent(self, genre_id: int) -> int:
        """The genre's parent id (0 for a top-level genre).

        Parameters
        ----------
        genre_id : int
            A genre id of the table.

        Returns
        -------
        int
        """
        return int(self.table.at[genre_id, "parent"])

    def root(self, genre_id: int) -> int:
        """The genre's top-level genre id (``top_level``).

        Parameters
        ----------
        genre_id : int
            A genre id of the table.

        Returns
        -------
        int
        """
        return int(self.table.at[genre_id, "top_level"])

    def roots(self) -> pd.Series:
        """Top-level genres (``parent == 0``): id -> title.

        Returns
        -------
        pandas.Series
        """
        return self.table.loc[self.table["parent"] == 0, "title"]

    def ids_by_title(self) -> dict[str, int]:
        """Title -> genre id of every genre.

        Returns
        -------
        dict of str to int
        """
        return {str(t): int(i) for i, t in self.table["title"].items()}

    def path_to_root(self, genre_id: int) -> list[int]:
        """``[genre_id, parent, …, root]``; guards against cycles in a damaged file.

        Parameters
        ----------
        genre_id : int
            A genre id of the table.

        Returns
        -------
        list of int

        Raises
        ------
        MetadataError
            When the parent chain loops or reaches an unknown genre.
        """
        path = [genre_id]
        while (parent := self.parent(path[-1])) != 0:
            if parent in path or parent not in self.table.index:
                raise MetadataError("genres.csv", f"broken parent chain from genre {plain(genre_id)}",
                                    row=f"genre_id {plain(path[-1])}", column="parent")
            path.append(parent)
        return path


def read_genres(path: Path | str) -> GenreTree:
    """Read and validate ``genres.csv`` (``genre_id,#tracks,parent,title,top_level``).

    Parameters
    ----------
    path : pathlib.Path or str
        The genres file.

    Returns
    -------
    GenreTree

    Raises
    ------
    MetadataError
        A malformed file: unreadable as UTF-8 CSV, a missing column, a bad or duplicate
        genre id, an unknown ``parent`` or ``top_level``, a parent chain that loops, or a
        ``top_level`` that contradicts the chain.
    """
    path = Path(path)
    scan = _scan(path, 1)
    lines = scan.lines
    try:
        table = pd.read_csv(path, index_col=0, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise _parser_error(path, exc, scan, "UTF-8 CSV") from exc
    if len(lines) != len(table):  # pandas and csv disagree on records: name lines by position only
        lines = np.arange(2, 2 + len(table))
    if table.index.name != "genre_id":
        raise MetadataError(path, f"first column must be genre_id, found {table.index.name!r}",
                            line=1, column=1)
    for column in GENRES_COLUMNS:
        if column not in table.columns:
            raise MetadataError(path, "required column is missing", line=1, column=column)
    ids = pd.to_numeric(pd.Series(table.index), errors="coerce")
    bad = _bad_ids(ids) | (ids == 0)  # parent 0 means "a root": no genre can be 0
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise MetadataError(path, f"genre id {plain(table.index[pos])!r} is not a whole number from 1 to 2**63 - 1",
                            column="genre_id", line=int(lines[pos]))
    table.index = pd.Index(ids.astype(np.int64).to_numpy(), name="genre_id")
    if table.index.has_duplicates:
        pos = int(np.flatnonzero(table.index.duplicated())[0])
        raise MetadataError(path, "duplicate genre id", row=f"genre_id {plain(table.index[pos])}", column="genre_id",
                            line=int(lines[pos]))
    line_of = dict(zip(table.index.tolist(), lines.tolist()))
    for column in ("parent", "top_level"):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() | ~(values.isin(table.index) | (values == 0) if column == "parent"
                                else values.isin(table.index))
        if bad.any():
            gid = table.index[bad.to_numpy()][0]
            raise MetadataError(path, f"{plain(table.at[gid, column])!r} is not a known genre id",
                                row=f"genre_id {plain(gid)}", column=column, line=line_of.get(gid))
        table[column] = values.astype(int)
    parents = {int(g): int(v) for g, v in table["parent"].items()}  # every parent is a known id or 0 by now
    for gid, top in table["top_level"].items():  # top_level must be where the parent chain ends
        chain = [int(gid)]
        while (parent := parents[chain[-1]]) != 0:
            if parent in chain:
                # Worded like GenreTree.path_to_root's error; the line goes in the text, after the row.
                at = f" (line {line_of[gid]})" if gid in line_of else ""
                loop = " -> ".join(str(g) for g in chain[chain.index(parent):] + [parent])
                raise MetadataError(path, f"broken parent chain from genre {chain[0]}{at}: {loop} is a cycle",
                                    row=f"genre_id {chain[0]}", column="parent")
            chain.append(parent)
        if chain[-1] != top:
            raise MetadataError(path, f"top_level {plain(top)} contradicts the parent chain, "
                                      f"which ends at genre {chain[-1]}", row=f"genre_id {plain(gid)}",
                                column="top_level", line=line_of.get(gid))
    tree = GenreTree(table)
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

    Parameters
    ----------
    path : pathlib.Path or str
        The tracks file.

    Returns
    -------
    pandas.DataFrame
        The table indexed by ``track_id`` with two-level columns, list columns parsed
        into Python lists, ``('set', 'subset')`` as an ordered categorical and
        ``('set', 'split')`` as a categorical; ``attrs["lines"]`` maps track ids to lines.

    Raises
    ------
    MetadataError
        A malformed file: unreadable, a missing required column, a bad or duplicate track
        id, a cell of a list column that is not a list literal, an unknown subset or
        split, or a bad artist id.
    """
    path = Path(path)
    scan = _scan(path, 3)
    lines = scan.lines
    try:
        tracks = pd.read_csv(path, index_col=0, header=[0, 1], encoding="utf-8", low_memory=False,
                             dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, IndexError) as exc:
        raise _parser_error(path, exc, scan, "FMA tracks.csv") from exc
    if len(lines) != len(tracks):  # pandas and csv disagree on records: name lines by position only
        lines = np.arange(4, 4 + len(tracks))
    if tracks.index.name != "track_id":
        raise MetadataError(path, "third header row must hold 'track_id' in its first cell",
                            line=3, column=1)
    missing = [c for c in REQUIRED_COLUMNS if c not in tracks.columns]
    if missing:
        raise MetadataError(path, "required column is missing (header lines 1-2)", line=1,
                            column=missing[0])
    ids = pd.to_numeric(pd.Series(tracks.index), errors="coerce")
    bad = _bad_ids(ids)  # 7.9 is no track id (not 7); 1e30 would wrap round
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        value = tracks.index[pos]
        shown = ("the track id is empty (ids are whole numbers from 0 to 2**63 - 1)" if pd.isna(value)
                 else f"track id {plain(value)!r} is not a whole number from 0 to 2**63 - 1")
        raise MetadataError(path, shown,
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
            # Each distinct literal is parsed once ('[]' and common genre lists repeat thousands
            # of times); every row gets its own copy. An error names the first row holding it.
            parsed: dict[str, list] = {}
            cells = []
            for tid, v in zip(tracks.index, tracks[column]):
                if isinstance(v, str):
                    known = parsed.get(v)
                    if known is None:
                        known = parsed[v] = _parse_list(v, path, tid, column, line_of[tid])
                    cells.append(list(known))
                else:
                    cells.append(_parse_list(v, path, tid, column, line_of[tid]))
            tracks[column] = cells
    for column, allowed in ((("set", "subset"), ("small", "medium", "large")),
                            (("set", "split"), SPLITS)):
        bad = ~tracks[column].isin(allowed) & tracks[column].notna()
        if bad.any():
            tid = int(tracks.index[bad.to_numpy()][0])
            raise MetadataError(path, f"{plain(tracks.at[tid, column])!r} is not one of {allowed}",
                                row=f"track_id {tid}", column=column, line=line_of[tid])
    artist = pd.to_numeric(tracks[("artist", "id")], errors="coerce")
    bad = tracks[("artist", "id")].notna() & _bad_ids(artist)  # an empty cell is an unknown artist
    if bad.any():
        tid = int(tracks.index[bad.to_numpy()][0])
        raise MetadataError(path, f"artist id {plain(tracks.at[tid, ('artist', 'id')])!r} is not a whole number "
                                  "from 0 to 2**63 - 1", row=f"track_id {tid}", column=("artist", "id"),
                            line=line_of[tid])
    tracks[("artist", "id")] = artist.astype("Int64")
    tracks.attrs["lines"] = line_of  # for later checks' messages (check_genre_ids)
    tracks[("set", "subset")] = pd.Categorical(tracks[("set", "subset")],
                                               categories=["small", "medium", "large"], ordered=True)
    tracks[("set", "split")] = pd.Categorical(tracks[("set", "split")], categories=list(SPLITS))
    return tracks


def check_genre_ids(tracks: pd.DataFrame, genres: GenreTree, path: Path | str) -> None:
    """Check the tracks' genres against genres.csv.

    Every id in ``('track', 'genres')`` / ``genres_all`` must exist in genres.csv, and a
    non-empty ``genre_top`` must be one of its titles (in FMA's own file always a top-level
    genre; an imported collection may keep a sub-genre such as GTZAN's Metal as its class).

    Parameters
    ----------
    tracks : pandas.DataFrame
        A table from :func:`read_tracks`.
    genres : GenreTree
        The genres of genres.csv.
    path : pathlib.Path or str
        The tracks file, named in the error.

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


def tracks_table(ids, columns: dict[tuple[str, str], object]) -> pd.DataFrame:
    """A track table in FMA's shape, as :func:`read_tracks` returns it: indexed by
    ``track_id`` in ascending order, two-level ``(section, field)`` columns.

    The one builder of FMA-format tables that did not come from a file (the built-in sample,
    the benchmarks' generated FMA, imports).

    Parameters
    ----------
    ids : array-like of int
        Track ids, one per row, unique.
    columns : dict
        ``(section, field)`` -> one value per row, or one value for all.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> t = tracks_table([5, 2], {("set", "split"): ["test", "training"], ("set", "subset"): "small"})
    >>> t.index.tolist(), t.loc[2, ("set", "split")]
    ([2, 5], 'training')
    """
    tracks = pd.DataFrame(columns, index=pd.Index(ids, name="track_id"))
    tracks.columns = pd.MultiIndex.from_tuples(tracks.columns)
    return tracks.sort_index(kind="stable")


def with_track_counts(genres: pd.DataFrame, tracks: pd.DataFrame) -> pd.DataFrame:
    """``genres`` with ``#tracks`` counted as FMA counts it: tracks whose ``genres_all`` holds the genre.

    Parameters
    ----------
    genres : pandas.DataFrame
        A genre table indexed by genre id.
    tracks : pandas.DataFrame
        A track table with ``('track', 'genres_all')`` lists.

    Returns
    -------
    pandas.DataFrame
        A copy, sorted by genre id.
    """
    counts = pd.Series([g for gs in tracks[("track", "genres_all")] for g in gs]).value_counts()
    return genres.assign(**{"#tracks": counts.reindex(genres.index).fillna(0).astype(int)}).sort_index()


def write_tracks_csv(tracks: pd.DataFrame, path: Path | str) -> None:
    """Write a table in FMA's exact ``tracks.csv`` layout (all 52 columns, FMA's order).

    Missing columns are written empty; list columns are written as Python literals,
    as FMA does. The write is atomic (temporary file, then rename).

    Parameters
    ----------
    tracks : pandas.DataFrame
        Indexed by track id, with two-level columns (any subset of FMA's).
    path : pathlib.Path or str
        The file to write.
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
    """Write ``genres.csv`` in FMA's layout (``genre_id,#tracks,parent,title,top_level``).

    Parameters
    ----------
    table : pandas.DataFrame
        Indexed by genre id, with at least the columns :data:`GENRES_COLUMNS`.
    path : pathlib.Path or str
        The file to write (atomically).
    """
    from fma_pipeline.core.storage import atomic_path

    out = table.loc[:, list(GENRES_COLUMNS)].copy()
    out.index.name = "genre_id"
    with atomic_path(path) as tmp:
        out.to_csv(tmp, encoding="utf-8")
