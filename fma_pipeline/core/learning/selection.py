"""Which tracks to learn from, with which label, on which side of the split.

Labels are FMA's ``('track', 'genre_top')``; tracks without one (genres spanning
several roots) are left out, as in FMA's single-label benchmarks. The split is FMA's
own artist-filtered ``('set', 'split')`` when every selected track has one; otherwise a
seeded split stratified by genre and grouped by artist, so no artist is on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from fma_pipeline.core.fma.layout import subsets_within
from fma_pipeline.core.settings import documented

#: Dropped by default, as the project this grew from did: 12 genres remain on fma_medium.
DEFAULT_DROPPED_GENRES: tuple[str, ...] = ("Easy Listening", "Spoken", "Old-Time / Historic", "International")


def is_test(labels: pd.DataFrame) -> np.ndarray:
    """Which rows are on the test side of the split: no fit may see them (scalers, PCA,
    models, searches), so every score on them is held out. The rest (training and
    validation, and rows without a split) is what fits learn from.

    Parameters
    ----------
    labels : pandas.DataFrame
        A table with a ``split`` column (``training``/``validation``/``test``).

    Returns
    -------
    numpy.ndarray
        One bool per row.

    Examples
    --------
    >>> is_test(pd.DataFrame({"split": ["training", "test", None]})).tolist()
    [False, True, False]
    """
    return (labels["split"].astype(str) == "test").to_numpy()


@dataclass(frozen=True)
class LabelConfig:
    """Label selection: FMA subset (None = every track present), genres to drop, minimum size.

    Parameters
    ----------
    subset : str or None
        FMA subset (``small``, ``medium`` …; its smaller subsets included); None = every track present.
    drop_genres : tuple of str
        Top-level genres left out (default :data:`DEFAULT_DROPPED_GENRES`).
    min_tracks : int
        Genres with fewer selected tracks are left out.
    seed : int
        Seed of the split when FMA's own cannot be used.
    extra : dict
        Free-form settings recorded with the selection.
    """

    subset: str | None = documented(None, "FMA subset small/medium/large; None = all tracks.")
    drop_genres: tuple[str, ...] = documented(DEFAULT_DROPPED_GENRES, "Top-level genres left out.")
    min_tracks: int = documented(5, "Genres with fewer tracks are left out.")
    seed: int = documented(0, "Seed of the fallback artist-grouped split.")
    extra: dict = field(default_factory=dict)


def select_tracks(tracks: pd.DataFrame, genre_ids: dict[str, int], config: LabelConfig = LabelConfig()
                  ) -> pd.DataFrame:
    """Flat table of the tracks to learn from: genre, genre_id, split, artist_id, subset, genres.

    ``tracks`` is :func:`fma_pipeline.core.fma.metadata.read_tracks` output; ``genre_ids`` maps
    genre titles to ids (from genres.csv).

    Parameters
    ----------
    tracks : pandas.DataFrame
        FMA's tracks table with its two-level columns.
    genre_ids : dict of str to int
        Genre title -> genre id.
    config : LabelConfig, default LabelConfig()
        Subset, dropped genres, minimum size and seed.

    Returns
    -------
    pandas.DataFrame
        One row per selected track, sorted by track id; ``split`` is FMA's when every track
        has one, else :func:`grouped_split`'s.
    """
    frame = pd.DataFrame({
        "genre": tracks[("track", "genre_top")],
        "artist_id": tracks[("artist", "id")],
        "split": tracks[("set", "split")].astype(object),
        "subset": tracks[("set", "subset")].astype(object),
        "genres": tracks[("track", "genres")],
        "genres_all": tracks[("track", "genres_all")],
    }, index=tracks.index)
    if "title" in tracks.get("track", pd.DataFrame()).columns:
        frame["title"] = tracks[("track", "title")].astype(object)
    frame = frame[frame["genre"].notna() & (frame["genre"].astype(str) != "")]
    if config.subset is not None:
        frame = frame[frame["subset"].isin(subsets_within(config.subset))]
    frame = frame[~frame["genre"].isin(config.drop_genres)]
    counts = frame["genre"].value_counts()
    frame = frame[frame["genre"].isin(counts.index[counts >= config.min_tracks])]
    frame["genre_id"] = frame["genre"].map(genre_ids).astype("Int64")
    # An unknown artist is its own group: one shared placeholder would put every such
    # track in one fold and one split.
    unknown = frame["artist_id"].isna()
    frame.loc[unknown, "artist_id"] = -frame.index[unknown.to_numpy()].to_numpy()
    frame["artist_id"] = frame["artist_id"].astype(np.int64)
    if frame.empty or frame["split"].isna().any():
        frame["split"] = grouped_split(frame["genre"], frame["artist_id"], seed=config.seed)
    frame["genre"] = frame["genre"].astype(str)
    return frame.sort_index()


def grouped_split(labels: pd.Series, groups: pd.Series, *, seed: int = 0) -> pd.Series:
    """80/10/10 training/validation/test, stratified by label, no group on two sides.

    Parameters
    ----------
    labels : pandas.Series
        Label of each row.
    groups : pandas.Series
        Group of each row (e.g. artist id), in the same order.
    seed : int, default 0
        Seed of the folds.

    Returns
    -------
    pandas.Series
        ``training``, ``validation`` or ``test`` per row, indexed like ``labels``.
    """
    if len(labels) == 0:
        return pd.Series([], index=labels.index, dtype=object)
    # Ten folds give 80/10/10; a genre with fewer tracks forces fewer (and larger) folds.
    n_splits = max(2, min(10, groups.nunique(), int(labels.value_counts().min())))
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    fold_of = np.empty(len(labels), dtype=int)
    for k, (_, test_idx) in enumerate(folds.split(np.zeros(len(labels)), labels, groups)):
        fold_of[test_idx] = k
    names = np.where(fold_of == 0, "test", np.where(fold_of == 1, "validation", "training"))
    return pd.Series(names, index=labels.index, dtype=object)
