"""One training problem, sliced once: FMA's split, artist-grouped samples and folds (:class:`TrainingProblem`).

Why samples: at FMA size the search runs on an artist-grouped, genre-stratified sample of
at most ``tune_tracks`` training tracks (:func:`sample_tracks`), and the chosen candidate
is refit on all of them. Why artist-grouped folds: a model that has heard an artist in
training recognises the artist, not the genre (FMA's own split is artist-filtered for the
same reason). A clip-level matrix has one row per track; a segment-level one a row per
window, and every slice keeps a track's windows (and an artist's tracks) together.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from fma_pipeline.core.learning.families import family_choices
from fma_pipeline.core.learning.segments import track_ids_of
from fma_pipeline.core.learning.selection import is_test
from fma_pipeline.core.learning.training_config import TrainingConfig


def split_rows(labels: pd.DataFrame) -> tuple[pd.Index, pd.Index]:
    """(train+validation ids, test ids) from a selection table's ``split`` column.

    Parameters
    ----------
    labels : pandas.DataFrame
        A table with a ``split`` column, indexed by track id.

    Returns
    -------
    train_ids : pandas.Index
        Training and validation track ids.
    test_ids : pandas.Index
        Test track ids.
    """
    test = is_test(labels)
    return labels.index[~test], labels.index[test]


def cv_folds(y: pd.Series, groups: pd.Series, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Artist-grouped, genre-stratified folds over rows (clips or windows); fewer folds when there are few artists.

    ``y`` and ``groups`` hold one value per row.

    When every row is its own group (clips with no artist information, as in gtzan-mini),
    grouping is moot and plain ``StratifiedKFold`` is used, which balances the genres
    across folds more evenly. Windows of one track share its artist (or track) group, so
    they always stay together.

    Parameters
    ----------
    y : pandas.Series
        Genre of each row.
    groups : pandas.Series
        Group (artist id) of each row.
    folds : int
        Folds wanted (at least 2 are made).
    seed : int
        Seed of the shuffle.

    Returns
    -------
    list of tuple of (numpy.ndarray, numpy.ndarray)
        ``(train positions, test positions)`` of each fold.
    """
    min_groups = int(pd.DataFrame({"y": np.asarray(y), "g": np.asarray(groups)}).groupby("y")["g"].nunique().min())
    n_splits = max(2, min(folds, min_groups))
    if pd.Series(np.asarray(groups)).is_unique:
        splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    else:
        splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return list(splitter.split(np.zeros(len(y)), np.asarray(y), np.asarray(groups)))


#: The search scores each candidate on at least this many held-out tracks, repeating its
#: folds with fresh shuffles when the tuning sample is smaller (see :func:`search_folds`).
MIN_SCORED_TRACKS = 150
#: At most this many repeats of the search's folds.
MAX_CV_REPEATS = 5


def search_folds(y: pd.Series, groups: pd.Series, folds: int, seed: int, n_tracks: int
                 ) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    """The search's folds: :func:`cv_folds`, repeated with fresh shuffles when the tuning sample is small.

    Why: with 3 folds every tuning track is held out once, so on gtzan-mini's 56 training
    clips a candidate's score rests on 56 predictions, and one clip moving fold moves it by
    ~0.02, enough to swap the feature-family set the judge chooses. ``bench/gtzan.py``
    measured it: with one shuffle the choice flipped to ``all`` in 3 of 10 outer folds
    (champion 0.829 accuracy); with the folds repeated 3 or 5 times it settled on
    ``timbre`` (0.857), as it does when ``timbre`` is the only choice. Repeating until each
    candidate is scored on at least :data:`MIN_SCORED_TRACKS` held-out tracks (at most
    :data:`MAX_CV_REPEATS` times) costs nothing that matters at that size and nothing at
    all from 150 tuning tracks up (the built-in sample, FMA).

    Parameters
    ----------
    y : pandas.Series
        Genre of each tuning row.
    groups : pandas.Series
        Group (artist id) of each tuning row.
    folds : int
        Folds per repeat wanted (see :func:`cv_folds`).
    seed : int
        Seed of the first repeat; repeat ``r`` uses ``seed + r``.
    n_tracks : int
        Tracks in the tuning sample (rows may be windows).

    Returns
    -------
    folds : list of tuple of (numpy.ndarray, numpy.ndarray)
        Every repeat's folds, one after the other.
    repeats : int
        How many repeats they hold.
    """
    repeats = int(min(MAX_CV_REPEATS, max(1, np.ceil(MIN_SCORED_TRACKS / max(n_tracks, 1)))))
    return [fold for r in range(repeats) for fold in cv_folds(y, groups, folds, seed + r)], repeats


def sample_tracks(labels: pd.DataFrame, limit: int, seed: int = 0, min_artists: int = 0) -> pd.Index:
    """About ``limit`` track ids of ``labels`` (0 = all): whole artists, genres in proportion.

    One fold of an artist-grouped, genre-stratified k-fold split with k = ceil(n / limit),
    so the sample keeps the genre mix and never splits an artist (the CV on it stays
    artist-grouped). A genre with fewer than ``min_artists`` artists in that fold gets
    more of its artists, drawn at random, up to ``min_artists`` (or all it has): FMA's
    rarest genres (Blues: 74 tracks in fma_medium) would otherwise leave the sample 2 or 3
    artists, and artist-grouped CV on it 2 folds. Deterministic for a seed.

    Parameters
    ----------
    labels : pandas.DataFrame
        Tracks with ``genre`` and ``artist_id``, indexed by track id.
    limit : int
        Tracks wanted; 0 = all.
    seed : int, default 0
        Seed of the fold and the extra artists.
    min_artists : int, default 0
        Artists each genre should have in the sample.

    Returns
    -------
    pandas.Index
        The sampled track ids (all of ``labels``' when it has at most ``limit``).
    """
    if not limit or len(labels) <= limit:
        return labels.index
    k = int(np.ceil(len(labels) / limit))
    folds = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    _, picked = next(folds.split(np.zeros(len(labels)), labels["genre"], labels["artist_id"]))
    artists = set(labels["artist_id"].iloc[picked])
    rng = np.random.default_rng(seed)
    for _, group in labels.groupby("genre", sort=True):
        have = group["artist_id"][group["artist_id"].isin(artists)].nunique()
        if have < min_artists:
            pool = np.sort(group["artist_id"][~group["artist_id"].isin(artists)].unique())
            artists.update(rng.permutation(pool)[:min_artists - have].tolist())
    return labels.index[labels["artist_id"].isin(artists).to_numpy()]


def tracks_needed(labels: pd.DataFrame, config: TrainingConfig) -> pd.Index:
    """Track ids :func:`train_all` will read: its fit sample (the tuning sample is inside it) and the test split.

    Lets a caller load only those rows of a large window table.

    Parameters
    ----------
    labels : pandas.DataFrame
        Tracks with ``split``, ``genre`` and ``artist_id``.
    config : TrainingConfig
        Supplies ``fit_tracks`` and the seed.

    Returns
    -------
    pandas.Index
    """
    train_ids, test_ids = split_rows(labels)
    return sample_tracks(labels.loc[train_ids], config.fit_tracks, config.seed).union(test_ids)


def rows_of(X: pd.DataFrame, tracks: pd.Index) -> pd.DataFrame:
    """The rows of ``X`` (clips or windows) that belong to ``tracks``.

    Parameters
    ----------
    X : pandas.DataFrame
        A clip table or a window table.
    tracks : pandas.Index
        Track ids to keep.

    Returns
    -------
    pandas.DataFrame
    """
    return X.loc[track_ids_of(X).isin(tracks)]


def row_labels(X: pd.DataFrame, labels: pd.DataFrame, column: str) -> pd.Series:
    """Each row's value of a per-track column (a window takes its track's).

    Parameters
    ----------
    X : pandas.DataFrame
        A clip table or a window table.
    labels : pandas.DataFrame
        Per-track table, indexed by track id.
    column : str
        The column of ``labels`` to spread over the rows.

    Returns
    -------
    pandas.Series
        Indexed like ``X``, named ``column``.
    """
    return pd.Series(labels[column].reindex(track_ids_of(X)).to_numpy(), index=X.index, name=column)


@dataclass
class TrainingProblem:
    """One training problem, sliced once: tuning rows and folds, selection and validation rows, fit rows, test rows.

    ``fit_ids`` (training + validation, sampled to ``fit_tracks``) are the champion's final
    fit. When their validation part holds at least ``validation_tracks`` tracks, the
    candidates are fitted on ``select_ids`` (the training part) and ranked on
    ``validation_ids``, and the tuning sample is drawn from the training part only, so
    nothing has seen the validation rows; otherwise ``validation_ids`` is empty and
    ``select_ids`` is ``fit_ids``. Made by :func:`training_data`.

    Parameters
    ----------
    X : pandas.DataFrame
        A clip table or a window table, aligned with ``labels``.
    labels : pandas.DataFrame
        Tracks with ``genre``, ``split`` and ``artist_id``.
    config : TrainingConfig
        Samples, folds, families and the validation rule.

    Attributes
    ----------
    test_ids, fit_ids, select_ids, validation_ids, tune_ids : pandas.Index
        Track ids of each part.
    X_tune, y_tune : pandas.DataFrame, pandas.Series
        The tuning rows and their genres.
    folds : list of tuple of (numpy.ndarray, numpy.ndarray)
        Artist-grouped folds over the tuning rows (every repeat's, see :func:`search_folds`).
    cv_repeats : int
        Repeats of the folds in :attr:`folds`.
    families : list of str
        Feature family sets the search may choose from.
    """

    X: pd.DataFrame
    labels: pd.DataFrame
    config: TrainingConfig

    def __post_init__(self) -> None:
        train_ids, self.test_ids = split_rows(self.labels)
        self.fit_ids = sample_tracks(self.labels.loc[train_ids], self.config.fit_tracks, self.config.seed)
        is_validation = (self.labels.loc[self.fit_ids, "split"].astype(str) == "validation").to_numpy()
        if is_validation.sum() >= max(1, self.config.validation_tracks):
            self.select_ids, self.validation_ids = self.fit_ids[~is_validation], self.fit_ids[is_validation]
        else:
            self.select_ids, self.validation_ids = self.fit_ids, self.fit_ids[:0]
        self.tune_ids = sample_tracks(self.labels.loc[self.select_ids], self.config.tune_tracks, self.config.seed,
                                      min_artists=self.config.cv_folds)
        self.X_tune = rows_of(self.X, self.tune_ids)
        self.y_tune = row_labels(self.X_tune, self.labels, "genre")
        groups = row_labels(self.X_tune, self.labels, "artist_id")
        self.folds, self.cv_repeats = search_folds(self.y_tune, groups, self.config.cv_folds, self.config.seed,
                                                   len(self.tune_ids))
        # A matrix that is not our 708 features only has 'all', whatever was asked for.
        self.families = [f for f in family_choices(self.X.columns) if f in self.config.families] or ["all"]

    @functools.cached_property
    def X_fit(self) -> pd.DataFrame:
        """Rows of the fit sample (sliced once: every model's refit uses them)."""
        return rows_of(self.X, self.fit_ids)

    @functools.cached_property
    def y_fit(self) -> pd.Series:
        """Genres of :attr:`X_fit`'s rows."""
        return row_labels(self.X_fit, self.labels, "genre")

    @property
    def chooses_on_validation(self) -> bool:
        """Whether candidates are fitted on the training rows and ranked on the validation rows.

        Returns
        -------
        bool
        """
        return len(self.validation_ids) > 0

    @functools.cached_property
    def X_select(self) -> pd.DataFrame:
        """Rows every candidate is fitted on: the training part when choosing on validation, else the fit rows."""
        return rows_of(self.X, self.select_ids) if self.chooses_on_validation else self.X_fit

    @functools.cached_property
    def y_select(self) -> pd.Series:
        """Genres of :attr:`X_select`'s rows."""
        return row_labels(self.X_select, self.labels, "genre")

    @functools.cached_property
    def X_validation(self) -> pd.DataFrame:
        """Rows of the validation tracks (empty when the champion is chosen by CV)."""
        return rows_of(self.X, self.validation_ids)

    @functools.cached_property
    def X_test(self) -> pd.DataFrame:
        """Rows of the test tracks."""
        return rows_of(self.X, self.test_ids)

    @property
    def smallest_fold(self) -> int:
        """Training rows of the smallest tuning fold (bounds kNN's neighbours).

        Returns
        -------
        int
        """
        return min(len(train) for train, _ in self.folds)

    def sizes(self) -> dict:
        """Track counts of each part, recorded with every model.

        Returns
        -------
        dict
            ``n_train``, ``n_validation``, ``n_test``, ``n_tune``, ``cv_folds`` (per repeat) and
            ``cv_repeats``.
        """
        return {"n_train": len(self.select_ids), "n_validation": len(self.validation_ids),
                "n_test": len(self.test_ids), "n_tune": len(self.tune_ids),
                "cv_folds": len(self.folds) // self.cv_repeats, "cv_repeats": self.cv_repeats}


def training_data(X: pd.DataFrame, labels: pd.DataFrame, config: TrainingConfig = TrainingConfig()) -> TrainingProblem:
    """One training problem for :func:`train_branch`: rows aligned with labels, samples and folds drawn.

    Parameters
    ----------
    X : pandas.DataFrame
        A clip table or a window table.
    labels : pandas.DataFrame
        Tracks with ``genre``, ``split`` and ``artist_id``.
    config : TrainingConfig, default TrainingConfig()
        Samples, folds and families.

    Returns
    -------
    TrainingProblem
    """
    labels, X = _aligned(X, labels)
    return TrainingProblem(X, labels, config)


def _aligned(X: pd.DataFrame, labels: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Labels of the tracks that have rows in ``X``, and those rows."""
    labels = labels.loc[labels.index.intersection(pd.Index(track_ids_of(X).unique()))]
    return labels, rows_of(X, labels.index)
