"""Readers and a writer for FMA's metadata files, ``tracks.csv`` and ``genres.csv``.

``tracks.csv`` has two header rows (column group, then column name) and a third row
holding only ``track_id``; it is read with ``header=[0, 1], index_col=0``. Several
columns hold Python list literals (``('track', 'genres')`` is ``"[21, 811]"``), parsed
here with :func:`ast.literal_eval` (never ``eval``).

Malformed input stops with a :class:`MetadataError` that names the file, the row and
the column. Tolerances, by decision: extra columns are kept and ignored; an empty
``genre_top`` is normal (FMA leaves it empty when a track's genres span several roots).
Only an empty cell is missing: free text such as a title ``NA``, ``null`` or ``007``
reads back as that text (pandas' defaults would make it NaN or the number 7).
"""

from __future__ import annotations

import ast
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
    """Malformed FMA metadata; the message names the file, row and column."""

    def __init__(self, path: Path | str, message: str, *, row: object = None, column: object = None):
        where = [str(path)]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column}")
        super().__init__(f"{', '.join(where)}: {message}")
        self.path, self.row, self.column = str(path), row, column


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
    try:
        table = pd.read_csv(path, index_col=0, encoding="utf-8")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise MetadataError(path, f"cannot parse as UTF-8 CSV: {exc}") from exc
    if table.index.name != "genre_id":
        raise MetadataError(path, f"first column must be genre_id, found {table.index.name!r}",
                            row=1, column=table.index.name)
    for column in GENRES_COLUMNS:
        if column not in table.columns:
            raise MetadataError(path, "required column is missing", row=1, column=column)
    if table.index.has_duplicates:
        dup = table.index[table.index.duplicated()][0]
        raise MetadataError(path, "duplicate genre id", row=f"genre_id {dup}", column="genre_id")
    for column in ("parent", "top_level"):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() | ~(values.isin(table.index) | (values == 0) if column == "parent"
                                else values.isin(table.index))
        if bad.any():
            gid = table.index[bad.to_numpy()][0]
            value = table.at[gid, column]
            value = value.item() if isinstance(value, np.generic) else value  # 4242, not np.int64(4242)
            raise MetadataError(path, f"{value!r} is not a known genre id",
                                row=f"genre_id {gid}", column=column)
        table[column] = values.astype(int)
    return GenreTree(table)


def _parse_list(value: object, path: Path, track_id: int, column: tuple[str, str]) -> list:
    if isinstance(value, list):
        return value
    if value is None or (isinstance(value, float) and np.isnan(value)) or value == "":
        return []
    try:
        parsed = ast.literal_eval(str(value))
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise MetadataError(path, f"not a list literal: {str(value)[:60]!r} ({type(exc).__name__})",
                            row=f"track_id {track_id}", column=column) from exc
    if not isinstance(parsed, (list, tuple)):
        raise MetadataError(path, f"expected a list, found {type(parsed).__name__}",
                            row=f"track_id {track_id}", column=column)
    return list(parsed)


def read_tracks(path: Path | str) -> pd.DataFrame:
    """Read and validate FMA's ``tracks.csv``.

    Returns the table indexed by ``track_id`` with two-level columns, list columns
    parsed into Python lists, ``('set', 'subset')`` as an ordered categorical and
    ``('set', 'split')`` as a categorical.
    """
    path = Path(path)
    try:
        tracks = pd.read_csv(path, index_col=0, header=[0, 1], encoding="utf-8", low_memory=False,
                             dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False, na_values=[""])
    except UnicodeDecodeError as exc:
        raise MetadataError(path, f"not UTF-8 text (byte offset {exc.start})") from exc
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, IndexError) as exc:
        raise MetadataError(path, f"cannot parse as FMA tracks.csv: {exc}") from exc
    if tracks.index.name != "track_id":
        raise MetadataError(path, "third header row must hold 'track_id' in its first cell",
                            row=3, column=1)
    missing = [c for c in REQUIRED_COLUMNS if c not in tracks.columns]
    if missing:
        raise MetadataError(path, "required column is missing (header rows 1-2)", row="1-2",
                            column=missing[0])
    ids = pd.to_numeric(pd.Series(tracks.index), errors="coerce")
    if ids.isna().any() or (ids < 0).any():
        pos = int(np.flatnonzero(ids.isna() | (ids < 0))[0])
        raise MetadataError(path, f"track id {tracks.index[pos]!r} is not a non-negative integer",
                            row=f"data row {pos + 1}", column="track_id")
    tracks.index = pd.Index(ids.astype(np.int64).to_numpy(), name="track_id")
    if tracks.index.has_duplicates:
        dup = int(tracks.index[tracks.index.duplicated()][0])
        rows = [i + 1 for i in np.flatnonzero(tracks.index == dup)]
        raise MetadataError(path, f"duplicate track id (data rows {rows})", row=f"track_id {dup}",
                            column="track_id")
    for column in LIST_COLUMNS:
        if column in tracks.columns:
            tracks[column] = [_parse_list(v, path, tid, column)
                              for tid, v in zip(tracks.index, tracks[column])]
    for column, allowed in ((("set", "subset"), ("small", "medium", "large")),
                            (("set", "split"), SPLITS)):
        bad = ~tracks[column].isin(allowed) & tracks[column].notna()
        if bad.any():
            tid = int(tracks.index[bad.to_numpy()][0])
            raise MetadataError(path, f"{tracks.at[tid, column]!r} is not one of {allowed}",
                                row=f"track_id {tid}", column=column)
    tracks[("set", "subset")] = pd.Categorical(tracks[("set", "subset")],
                                               categories=["small", "medium", "large"], ordered=True)
    tracks[("set", "split")] = pd.Categorical(tracks[("set", "split")], categories=list(SPLITS))
    return tracks


def check_genre_ids(tracks: pd.DataFrame, genres: GenreTree, path: Path | str) -> None:
    """Every id in ``('track', 'genres')`` / ``genres_all`` must exist in genres.csv."""
    known = set(genres.table.index)
    for column in (("track", "genres"), ("track", "genres_all")):
        for tid, ids in tracks[column].items():
            unknown = [g for g in ids if g not in known]
            if unknown:
                raise MetadataError(path, f"unknown genre id {unknown[0]!r} (not in genres.csv)",
                                    row=f"track_id {tid}", column=column)


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
