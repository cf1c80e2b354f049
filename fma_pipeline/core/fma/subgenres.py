"""Sub-genre labels: each track's most specific genre under its top-level genre.

FMA tags a track with any genres of its tree (``genres``) and lists them with all their
ancestors (``genres_all``). The label is the deepest of those ids under the track's own
top-level genre; ties (two branches, e.g. Punk and Metal) go to the genre with more
tracks in the selection, then to the lower id, so the result is deterministic and the
label most likely to survive the size threshold wins.

Small sub-genres cannot be learnt, so a label with fewer than ``min_tracks`` tracks folds
into its parent, deepest level first; the parent's count then includes the folded tracks
and is tested in turn. A label that folds up to the top-level genre means *no sub-genre*:
the track keeps its row (``subgenre`` is missing, ``has_subgenre`` is False) and the
sub-genre classifiers leave it out — "Rock, nothing more specific" is not a class of its
own, as its tracks have nothing in common beyond the parent.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from fma_pipeline.core.fma.metadata import GenreTree

DEFAULT_MIN_TRACKS = 20


def depths(tree: GenreTree) -> dict[int, int]:
    """Level of every genre: 0 for a top-level genre, 1 for its children, and so on.

    Computed once per tree (a few hundred genres) so per-track work is dictionary look-ups.

    Parameters
    ----------
    tree : GenreTree
        FMA's genre tree.

    Returns
    -------
    dict of int to int
        Genre id -> level.
    """
    return {int(g): len(tree.path_to_root(int(g))) - 1 for g in tree.table.index}


def most_specific(ids: Iterable[int], root_id: int, tree: GenreTree, counts: pd.Series,
                  levels: dict[int, int] | None = None) -> int:
    """The deepest id of ``ids`` under ``root_id`` (the root itself when none is deeper).

    Ties go to the genre with more tracks in ``counts``, then to the lower id.

    Parameters
    ----------
    ids : Iterable[int]
        A track's genre ids (unknown ids and other roots' genres are ignored).
    root_id : int
        The track's top-level genre.
    tree : GenreTree
        FMA's genre tree.
    counts : pandas.Series
        Tracks per genre id in the selection.
    levels : dict of int to int or None, default None
        :func:`depths` of ``tree``, if already computed.

    Returns
    -------
    int
    """
    levels = levels if levels is not None else depths(tree)
    roots = tree.table["top_level"]
    known = [int(g) for g in ids if int(g) in levels and int(roots.at[int(g)]) == root_id]
    if not known:
        return root_id
    return max(known, key=lambda g: (levels[g], int(counts.get(g, 0)), -g))


def fold_small(labels: pd.Series, tree: GenreTree, min_tracks: int) -> pd.Series:
    """Move labels with fewer than ``min_tracks`` tracks to their parent, deepest level first.

    One pass from the deepest level up is enough: folding only ever adds tracks to a
    shallower level, which is tested after all the deeper ones. Roots never fold.

    Parameters
    ----------
    labels : pandas.Series
        Genre id of each track.
    tree : GenreTree
        FMA's genre tree.
    min_tracks : int
        Smallest label kept.

    Returns
    -------
    pandas.Series
        The folded ids (int), indexed like ``labels``.
    """
    labels = labels.astype(int).copy()
    if labels.empty:
        return labels
    levels, parents = depths(tree), tree.table["parent"].astype(int).to_dict()
    for level in range(max(levels[g] for g in labels.unique()), 0, -1):
        counts = labels.value_counts()
        small = [g for g, n in counts.items() if n < min_tracks and levels[g] == level]
        if small:
            labels = labels.where(~labels.isin(small), labels.map(parents))
    return labels


def derive_subgenres(tracks: pd.DataFrame, tree: GenreTree, min_tracks: int = DEFAULT_MIN_TRACKS
                     ) -> pd.DataFrame:
    """Sub-genre of every selected track (a ``tracks`` asset table: genre, genre_id, genres, genres_all).

    Returns the tracks' ``genre``, ``split`` and ``artist_id`` plus ``tagged_id`` (the most
    specific genre before folding), ``subgenre_id`` / ``subgenre`` (after folding; missing
    when the track folds to its root), ``depth`` and ``has_subgenre``.

    Parameters
    ----------
    tracks : pandas.DataFrame
        A ``tracks`` asset table.
    tree : GenreTree
        FMA's genre tree.
    min_tracks : int, default DEFAULT_MIN_TRACKS
        Smaller sub-genres fold into their parent (see :func:`fold_small`).

    Returns
    -------
    pandas.DataFrame
        One row per track, indexed like ``tracks``.

    Raises
    ------
    ValueError
        If ``min_tracks`` is below 1.
    """
    if min_tracks < 1:
        raise ValueError(f"min_tracks must be >= 1, got {min_tracks}")
    root_ids = tracks["genre_id"].astype(int)
    tag_lists = [sorted({int(g) for g in list(a) + list(b)})
                 for a, b in zip(tracks["genres"], tracks["genres_all"])]
    counts = pd.Series([g for ids in tag_lists for g in ids], dtype=int).value_counts()
    levels = depths(tree)
    tagged = pd.Series([most_specific(ids, root, tree, counts, levels) for ids, root in zip(tag_lists, root_ids)],
                       index=tracks.index, dtype=int)
    folded = fold_small(tagged, tree, min_tracks)
    has = folded != root_ids
    out = tracks[[c for c in ("genre", "split", "artist_id") if c in tracks.columns]].copy()
    out["genre_id"] = root_ids
    out["tagged_id"] = tagged
    out["subgenre_id"] = folded.where(has).astype("Int64")
    out["subgenre"] = folded.map(tree.table["title"].astype(str).to_dict()).where(has).astype(object)
    out["depth"] = folded.map(levels).astype(int)
    out["has_subgenre"] = has
    return out


def subgenre_counts(labels: pd.DataFrame) -> pd.DataFrame:
    """Tracks per (top-level genre, sub-genre), for reports; '—' marks tracks without one.

    Parameters
    ----------
    labels : pandas.DataFrame
        A :func:`derive_subgenres` table.

    Returns
    -------
    pandas.DataFrame
        Columns ``genre``, ``subgenre``, ``tracks``; by genre, largest sub-genre first.
    """
    table = labels.assign(subgenre=labels["subgenre"].fillna("—"))
    return (table.groupby(["genre", "subgenre"]).size().rename("tracks").reset_index()
            .sort_values(["genre", "tracks"], ascending=[True, False], ignore_index=True))
