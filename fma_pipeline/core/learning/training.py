"""Train and evaluate the model zoo on one feature matrix, at any size from 70 to 100,000+ tracks.

Protocol (what makes the numbers trustworthy):
- hyper-parameters are chosen by cross-validation on training + validation rows only,
  folds grouped by artist and stratified by genre (``StratifiedGroupKFold``), scored by
  macro-F1; exhaustively over each model's small grid (``search="grid"``, the default) or
  over ``search_iterations`` candidates drawn from its wider space (``search="random"``);
- the champion is chosen at full size on FMA's ``validation`` split when it is large
  enough (at least ``validation_tracks`` tracks): every model is refit on the ``training``
  rows alone and ranked by macro-F1 on ``validation``, which no search, sample or fit has
  seen; the champion is then refit on training + validation (:func:`calibrate`). A model's
  cross-validated score on the tuning sample ranks it as it does on that sample: at FMA
  medium size (25,000 tracks) it chose a soft-voting ensemble scoring 0.432 test macro-F1
  while an MLP refit on all rows scored 0.475 (docs/model-selection.md). With a smaller
  validation split (the built-in sample, small imported collections) the champion is the
  model with the best *cross-validated* macro-F1, refit on training + validation;
- the champion's probabilities are calibrated on held-out folds (:func:`calibrate`), and
  each model is scored once on the test split, which never picks anything.

What keeps the cost bounded at FMA size (``bench/scale.py``):
- **tuning on a sample**: the search runs on an artist-grouped, genre-stratified sample of
  at most ``tune_tracks`` training tracks, then the chosen candidate is refit once on all
  training tracks (at most ``fit_tracks``). On FMA-like data, tuning on 5,000 tracks chose
  what tuning on all of them chose, at a fraction of the cost (FIELD-NOTES); below
  ``tune_tracks`` nothing changes;
- **feature families chosen once per branch**: the family sets are searched together with
  the hyper-parameters of one judge model (logistic regression: linear, cheap, and hurt by
  irrelevant columns the way distance-based models are); every other model then searches
  only its own grid on the judge's choice, instead of multiplying every grid by the sets.

Both levels share the code. A clip-level matrix has one row per track (index
``track_id``); a segment-level matrix has one row per window (index ``(track_id,
segment)``, see :mod:`~fma_pipeline.core.learning.segments`): models are fit on windows,
and every score — CV and test — is taken per track on the soft vote of its windows, with
all windows of a track (and of an artist) on one side of every split.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import (GridSearchCV, RandomizedSearchCV, StratifiedGroupKFold, StratifiedKFold,
                                     cross_val_score)

from fma_pipeline.core.learning import evaluation
from fma_pipeline.core.learning.families import FAMILY_SETS, family_choices
from fma_pipeline.core.learning.models import BRANCHES, DEFAULT_MODELS, IMBALANCE, make_pipeline, search_params, zoo
from fma_pipeline.core.learning.segments import track_ids_of, track_proba
from fma_pipeline.core.learning.selection import is_test
from fma_pipeline.core.settings import documented

#: The model whose search chooses the feature families for every model of a branch.
FAMILY_JUDGE = "logistic_regression"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainingConfig:
    """What to train and how much the search may cost.

    ``tune_tracks``: the search's artist-grouped sample of training tracks (0 = all);
    ``fit_tracks``: the final fit's sample (0 = all); ``calibration_folds``: held-out folds
    that calibrate the champion's probabilities (0 = leave them as they are). Each field's
    documentation: ``settings.field_doc(TrainingConfig, name)``.

    Parameters
    ----------
    models : tuple of str
        Zoo entries to train (see ``models.zoo``).
    branches : tuple of str
        ``scaled`` and/or ``pca``: the Pipeline's branch after scaling.
    pca_variance : float
        Variance kept by the PCA branch.
    cv_folds : int
        Artist-grouped CV folds of the search.
    n_jobs : int
        Parallel search jobs (-1 = all cores).
    seed : int
        Seed of samples, folds and models.
    ensemble_size : int
        Soft-voting ensemble of the best N models by CV macro-F1; 0 = none.
    search : str
        ``grid``: each model's small grid; ``random``: ``search_iterations`` draws from its wider space.
    search_iterations : int
        Random search budget: candidates per model and branch.
    families : tuple of str
        Feature family sets the search may choose from.
    tune_tracks : int
        The search's sample of training tracks; 0 = all.
    fit_tracks : int
        The final fit's sample of training tracks; 0 = all.
    calibration_folds : int
        Held-out folds that calibrate the champion's probabilities; 0 = off.
    validation_tracks : int
        Smallest validation split that chooses the champion; smaller ones leave it to CV.

    Raises
    ------
    ValueError
        If ``search``, ``search_iterations``, ``families``, ``models``, a sample size or
        ``calibration_folds`` (1 is not allowed) is invalid.
    """

    models: tuple[str, ...] = documented(DEFAULT_MODELS, "Zoo entries to train (see models.zoo).")
    branches: tuple[str, ...] = documented(BRANCHES, "scaled and/or pca: the Pipeline's branch after scaling.")
    pca_variance: float = documented(0.95, "Variance kept by the PCA branch.")
    cv_folds: int = documented(3, "Artist-grouped CV folds of the search (a rare genre gets at least this "
                                  "many artists).")
    n_jobs: int = documented(-1, "Parallel search jobs (-1 = all cores).")
    seed: int = documented(0, "Seed of samples, folds and models.")
    ensemble_size: int = documented(3, "Soft-voting ensemble of the best N models by CV macro-F1; 0 = none.")
    search: str = documented("grid", "'grid': each model's small grid; 'random': search_iterations draws "
                                     "from its wider space.")
    search_iterations: int = documented(12, "Random search budget: candidates per model and branch.")
    families: tuple[str, ...] = documented(tuple(FAMILY_SETS), "Feature family sets the search may choose "
                                           "from: fma, fma_timbre, all, timbre (see README, Design).")
    tune_tracks: int = documented(5000, "The search runs on an artist-grouped sample of at most this many "
                                        "training tracks, then the best is refit on all; 0 = all.")
    fit_tracks: int = documented(0, "The final fit's sample of training tracks; 0 = all.")
    calibration_folds: int = documented(3, "Held-out folds that calibrate the champion's probabilities "
                                           "(temperature scaling); 0 = off.")
    validation_tracks: int = documented(1000, "The champion is chosen on the validation split (models refit on "
                                              "training rows) when it holds at least this many tracks; else by CV "
                                              "on the tuning sample.")

    def __post_init__(self) -> None:
        if self.search not in ("grid", "random"):
            raise ValueError(f"search must be 'grid' or 'random', not {self.search!r}")
        if self.search_iterations < 1:
            raise ValueError(f"search_iterations must be at least 1, not {self.search_iterations}")
        unknown = sorted(set(self.families) - set(FAMILY_SETS))
        if unknown or not self.families:
            raise ValueError(f"families must be a non-empty subset of {list(FAMILY_SETS)}, not {list(self.families)}")
        for name in ("tune_tracks", "fit_tracks", "calibration_folds", "validation_tracks"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, not {getattr(self, name)}")
        if self.calibration_folds == 1:
            raise ValueError("calibration_folds must be 0 (off) or at least 2")
        unknown = sorted(set(self.models) - set(zoo()))
        if unknown:
            hint = " ('svm' is the Nystroem RBF-kernel model)" if "svm" in unknown else ""
            raise ValueError(f"unknown models {unknown}; choose from {sorted(zoo())}{hint}")


@dataclass
class TrainedModel:
    """One fitted pipeline and everything measured about it.

    Parameters
    ----------
    model : str
        Zoo key (or ``soft_voting``, ``hierarchical``).
    branch : str
        ``scaled``, ``pca`` or ``mixed``.
    pipeline : object
        The fitted estimator.
    best_params : dict
        Chosen hyper-parameters, readable (see :func:`readable_params`).
    cv_macro_f1 : float
        Mean cross-validated macro-F1 of the chosen candidate.
    cv_macro_f1_std : float
        Its standard deviation over the folds.
    test : dict of str to float
        Held-out scores (see :func:`test_scores`).
    per_class : pandas.DataFrame
        Per-genre scores on the test split.
    confusion : pandas.DataFrame
        Confusion matrix on the test split.
    fit_seconds : float
        Time of the final fit.
    predict_seconds : float
        Time of the test predictions.
    imbalance : str
        How the model copes with class imbalance.
    extra : dict
        Everything else (sizes, search details, calibration …).
    validation_macro_f1 : float
        Macro-F1 on the validation split of the model refit on the training rows; NaN when
        the champion is chosen by CV (see :attr:`TrainingProblem.validation_ids`).
    """

    model: str
    branch: str
    pipeline: object
    best_params: dict
    cv_macro_f1: float
    cv_macro_f1_std: float
    test: dict[str, float]
    per_class: pd.DataFrame
    confusion: pd.DataFrame
    fit_seconds: float
    predict_seconds: float
    imbalance: str
    extra: dict = field(default_factory=dict)
    validation_macro_f1: float = float("nan")

    @property
    def key(self) -> str:
        """``model/branch``, e.g. ``svm/scaled``.

        Returns
        -------
        str
        """
        return f"{self.model}/{self.branch}"

    def summary(self) -> dict:
        """One row of :func:`comparison_table`: names, test scores, CV scores and timings.

        Returns
        -------
        dict
        """
        return {"model": self.model, "branch": self.branch,
                "families": self.best_params.get("families", "per member"), **self.test,
                "n_test": self.extra.get("n_test"), "validation_macro_f1": self.validation_macro_f1,
                "cv_macro_f1": self.cv_macro_f1, "cv_macro_f1_std": self.cv_macro_f1_std,
                "fit_seconds": self.fit_seconds,
                "predict_seconds": self.predict_seconds}


class Reporter:
    """Progress lines (what, how far, elapsed, an estimate of what is left) for a callback.

    Parameters
    ----------
    progress : Progress or None
        Receives each line; None = silent (units are still counted).
    total_units : float
        Work units of the whole task (e.g. search candidates).
    what : str
        Prefix of every line.
    """

    def __init__(self, progress: Progress | None, total_units: float, what: str):
        self.progress, self.total, self.done, self.what = progress, max(total_units, 1e-9), 0.0, what
        self.started = time.perf_counter()

    def say(self, message: str, units: float = 0.0) -> None:
        """Count ``units`` as done and report ``message`` with the elapsed and estimated remaining time.

        Parameters
        ----------
        message : str
            What happened.
        units : float, default 0.0
            Work units this step completed.
        """
        self.done += units
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.started
        left = elapsed * (self.total - self.done) / self.done if self.done else None
        tail = f"elapsed {_clock(elapsed)}" + (f", about {_clock(left)} left" if left is not None else "")
        self.progress(f"{self.what}: {message} ({tail})")


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


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


def track_macro_f1(estimator, X: pd.DataFrame, y) -> float:
    """Macro-F1 per track (a scorer for the searches): windows are soft-voted first.

    Parameters
    ----------
    estimator : estimator
        A fitted classifier with ``predict_proba``.
    X : pandas.DataFrame
        A clip table or a window table.
    y : array-like
        Genre of each row of ``X``.

    Returns
    -------
    float
    """
    y = pd.Series(np.asarray(y), index=X.index)
    truth = y.groupby(level=0).first() if isinstance(X.index, pd.MultiIndex) else y
    proba = track_proba(estimator, X)
    predicted = proba.columns.to_numpy()[np.argmax(proba.to_numpy(), axis=1)]
    return evaluation.macro_f1(truth.loc[proba.index], predicted)


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
        Artist-grouped folds over the tuning rows.
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
        self.folds = cv_folds(self.y_tune, groups, self.config.cv_folds, self.config.seed)
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
            ``n_train``, ``n_validation``, ``n_test``, ``n_tune`` and ``cv_folds``.
        """
        return {"n_train": len(self.select_ids), "n_validation": len(self.validation_ids),
                "n_test": len(self.test_ids), "n_tune": len(self.tune_ids), "cv_folds": len(self.folds)}


def feasible_grid(grid: dict, n_fit: int) -> dict:
    """Drop grid values a small fold cannot support (kNN needs ``n_neighbors <= n_fit``).

    Parameters
    ----------
    grid : dict
        A Pipeline parameter grid (see ``models.search_params``).
    n_fit : int
        Training rows of the smallest fold.

    Returns
    -------
    dict
        A copy of ``grid``; ``model__n_neighbors`` keeps at least one value.

    Examples
    --------
    >>> feasible_grid({"model__n_neighbors": [5, 10, 20]}, 12)
    {'model__n_neighbors': [5, 10]}
    """
    out = dict(grid)
    if "model__n_neighbors" in out:
        fitting = [k for k in out["model__n_neighbors"] if k <= n_fit]
        out["model__n_neighbors"] = fitting or [max(1, n_fit)]
    return out


def make_search(estimator, params: dict, search: str, iterations: int, seed: int, **options):
    """A per-track macro-F1 ``GridSearchCV`` over ``params``, or a ``RandomizedSearchCV`` drawing from them.

    ``RandomizedSearchCV`` draws ``iterations`` candidates; ``options`` (cv, n_jobs, …) go to either.

    Parameters
    ----------
    estimator : estimator
        The unfitted Pipeline.
    params : dict
        Grid or distributions.
    search : str
        ``random`` for a randomised search; anything else is a grid search.
    iterations : int
        Candidates of a randomised search.
    seed : int
        Seed of a randomised search.
    **options
        Passed on to the search class.

    Returns
    -------
    sklearn.model_selection.GridSearchCV or sklearn.model_selection.RandomizedSearchCV
        Unfitted, scored by :func:`track_macro_f1`.
    """
    if search == "random":
        return RandomizedSearchCV(estimator, params, n_iter=iterations, random_state=seed, scoring=track_macro_f1,
                                  **options)
    return GridSearchCV(estimator, params, scoring=track_macro_f1, **options)


def readable_params(params: dict) -> dict:
    """Strip the Pipeline step prefixes of a search's best parameters.

    ``{'model__linear__C': 4, 'families__families': 'timbre'} -> {'linear__C': 4, 'families': 'timbre'}``;
    numpy scalars become Python ones.

    Parameters
    ----------
    params : dict
        A search's ``best_params_``.

    Returns
    -------
    dict

    Examples
    --------
    >>> readable_params({'model__linear__C': 4, 'families__families': 'timbre'})
    {'linear__C': 4, 'families': 'timbre'}
    """
    out = {}
    for key, value in params.items():
        out["families" if key == "families__families" else key.removeprefix("model__")] = (
            value.item() if isinstance(value, np.generic) else value)
    return out


def _search(name: str, branch: str, data: TrainingProblem, families: list[str]):
    """Run one model's search on the tuning rows; returns the fitted search object."""
    config = data.config
    pipeline = make_pipeline(zoo(config.seed)[name].build(), branch, config.pca_variance, config.seed)
    grid = feasible_grid(search_params(zoo(config.seed)[name], config.search, families), data.smallest_fold)
    search = make_search(pipeline, grid, config.search, config.search_iterations, config.seed,
                         cv=data.folds, n_jobs=config.n_jobs, refit=False, error_score="raise")
    return search.fit(data.X_tune, data.y_tune), pipeline


def _candidates(name: str, data: TrainingProblem, families: list[str]) -> int:
    """How many candidates a model's search will try (for progress estimates)."""
    config = data.config
    if config.search == "random":
        return config.search_iterations
    grid = search_params(zoo(config.seed)[name], "grid", families)
    return int(np.prod([len(v) for v in grid.values()]))


def train_branch(names: tuple[str, ...] | list[str], branch: str, data: TrainingProblem, report: Reporter | None = None
                 ) -> list[TrainedModel]:
    """The models of one branch: families chosen once by :data:`FAMILY_JUDGE`, then each model's own search.

    With a single model, or a single family set, the model searches the families itself.

    Parameters
    ----------
    names : tuple of str or list of str
        Zoo keys to train.
    branch : str
        ``scaled`` or ``pca``.
    data : TrainingProblem
        The training problem (see :func:`training_data`).
    report : Reporter or None, default None
        Receives a line per step.

    Returns
    -------
    list of TrainedModel
        One per name, in order, refitted and scored on the test split.
    """
    report = report or Reporter(None, 1, "")
    families = data.families
    searches: dict[str, tuple] = {}
    if len(families) > 1 and len(names) > 1:
        judge = FAMILY_JUDGE
        started = time.perf_counter()
        searches[judge] = (*_search(judge, branch, data, families), started)
        families = [searches[judge][0].best_params_["families__families"]]
        report.say(f"{branch} branch: feature families '{families[0]}' chosen by {judge}'s search "
                   f"({_candidates(judge, data, data.families)} candidates x {len(data.folds)} folds on "
                   f"{len(data.tune_ids):,} tracks)", units=_candidates(judge, data, data.families))
    out = []
    for name in names:
        started = time.perf_counter()
        if name not in searches:
            searches[name] = (*_search(name, branch, data, families), started)
        search, pipeline, started = searches[name]
        i = search.best_index_
        scores = np.array([search.cv_results_[f"split{k}_test_score"][i] for k in range(len(data.folds))])
        best = clone(pipeline).set_params(**search.best_params_)
        trained = _evaluate(name, branch, best, data, scores, readable_params(search.best_params_),
                            IMBALANCE.get(name, "none"), started,
                            {"search": data.config.search, "candidates": len(search.cv_results_["params"]),
                             "families_chosen_by": FAMILY_JUDGE if len(families) < len(data.families) else name})
        out.append(trained)
        report.say(f"{trained.key} done: CV macro-F1 {trained.cv_macro_f1:.3f}{_validation_note(trained)}, "
                   f"test macro-F1 {trained.test['macro_f1']:.3f}, accuracy "
                   f"{trained.test['accuracy']:.3f} ({trained.extra['candidates']} candidates, "
                   f"{trained.extra['search_seconds']:.0f} s)",
                   units=0 if name == FAMILY_JUDGE and len(families) < len(data.families)
                   else _candidates(name, data, families))
    return out


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


def train_one(name: str, branch: str, X: pd.DataFrame, labels: pd.DataFrame,
              config: TrainingConfig = TrainingConfig()) -> TrainedModel:
    """Search one model's hyper-parameters (and families) on one branch, refit, score on test.

    Parameters
    ----------
    name : str
        Zoo key.
    branch : str
        ``scaled`` or ``pca``.
    X : pandas.DataFrame
        A clip table or a window table.
    labels : pandas.DataFrame
        Tracks with ``genre``, ``split`` and ``artist_id``.
    config : TrainingConfig, default TrainingConfig()
        Search and samples.

    Returns
    -------
    TrainedModel
    """
    return train_branch([name], branch, training_data(X, labels, config))[0]


def _evaluate(name: str, branch: str, estimator, data: TrainingProblem, cv_scores: np.ndarray, best_params: dict,
              imbalance: str, started: float, extra: dict | None = None, *, fit: bool = True) -> TrainedModel:
    """Refit ``estimator`` on the selection rows (unless ``fit`` is False); score it on validation and test."""
    fit_started = time.perf_counter()
    if fit:
        estimator.fit(data.X_select, data.y_select)
    fit_seconds = time.perf_counter() - fit_started
    predict_started = time.perf_counter()
    scores = test_scores(estimator, data)
    return TrainedModel(validation_macro_f1=validation_macro_f1(estimator, data),
        model=name, branch=branch, pipeline=estimator, best_params=best_params,
        cv_macro_f1=float(np.mean(cv_scores)), cv_macro_f1_std=float(np.std(cv_scores)),
        test=scores["test"], per_class=scores["per_class"], confusion=scores["confusion"],
        fit_seconds=fit_seconds, predict_seconds=time.perf_counter() - predict_started, imbalance=imbalance,
        extra={"search_seconds": time.perf_counter() - started, **data.sizes(), **(extra or {})},
    )


def test_scores(estimator, data: TrainingProblem) -> dict:
    """Held-out scores of a fitted model, per track.

    Accuracy, balanced accuracy, macro-F1, majority baseline, calibration (ECE, Brier,
    log-loss), per-genre table, confusion matrix.

    Parameters
    ----------
    estimator : estimator
        A fitted classifier with ``predict_proba``.
    data : TrainingProblem
        The training problem (its test rows and fit labels).

    Returns
    -------
    dict
        ``test`` (dict of scores), ``per_class`` and ``confusion`` (DataFrames).
    """
    y_train = data.labels.loc[data.fit_ids, "genre"]
    y_test = data.labels.loc[data.test_ids, "genre"]
    classes = sorted(data.labels["genre"].unique())
    X_test = data.X_test
    if len(X_test):
        proba = track_proba(estimator, X_test).reindex(y_test.index)
        y_pred = proba.columns.to_numpy()[np.argmax(proba.to_numpy(), axis=1)]
        calibration = evaluation.calibration(y_test, proba)
    else:
        y_pred, calibration = np.array([], dtype=object), {}
    return {"test": {**evaluation.score(y_test, y_pred, y_train), **calibration},
            "per_class": evaluation.per_class(y_test, y_pred),
            "confusion": evaluation.confusion(y_test, y_pred, classes)}


def validation_macro_f1(estimator, data: TrainingProblem) -> float:
    """Per-track macro-F1 on the validation rows (NaN when the problem does not choose on validation).

    Parameters
    ----------
    estimator : estimator
        A classifier fitted on the selection rows.
    data : TrainingProblem
        The training problem.

    Returns
    -------
    float
    """
    if not data.chooses_on_validation:
        return float("nan")
    return track_macro_f1(estimator, data.X_validation, row_labels(data.X_validation, data.labels, "genre"))


def selection_score(model: TrainedModel) -> float:
    """The score that ranks models: validation macro-F1 when there is one, else cross-validated macro-F1.

    Parameters
    ----------
    model : TrainedModel

    Returns
    -------
    float
    """
    return model.cv_macro_f1 if np.isnan(model.validation_macro_f1) else model.validation_macro_f1


def train_ensemble(members: list[TrainedModel], data: TrainingProblem, report: Reporter | None = None) -> TrainedModel:
    """Soft-voting ensemble of already-tuned pipelines.

    Cross-validated on the tuning folds with fresh members; the final ensemble votes with
    the members already fitted on the selection rows (``FrozenEstimator``: no second refit).

    Parameters
    ----------
    members : list of TrainedModel
        The tuned, fitted members.
    data : TrainingProblem
        The training problem.
    report : Reporter or None, default None
        Receives one line with the ensemble's CV score.

    Returns
    -------
    TrainedModel
        Model ``soft_voting`` on branch ``mixed``; ``extra['unfitted']`` holds the fresh ensemble.
    """
    started = time.perf_counter()
    config = data.config
    fresh = VotingClassifier([(m.key.replace("/", "_"), clone(m.pipeline)) for m in members], voting="soft", n_jobs=1)
    scores = cross_val_score(fresh, data.X_tune, data.y_tune, scoring=track_macro_f1, cv=data.folds,
                             n_jobs=config.n_jobs)
    frozen = VotingClassifier([(m.key.replace("/", "_"), FrozenEstimator(m.pipeline)) for m in members],
                              voting="soft", n_jobs=1)
    frozen.fit(data.X_select, data.y_select)  # only records the classes
    trained = _evaluate("soft_voting", "mixed", frozen, data, scores, {"members": ", ".join(m.key for m in members)},
                        "inherited from members", started, {"unfitted": fresh}, fit=False)
    if report:
        report.say(f"soft voting of {trained.best_params['members']}: CV macro-F1 {trained.cv_macro_f1:.3f}"
                   + _validation_note(trained))
    return trained


def _validation_note(trained: TrainedModel) -> str:
    if np.isnan(trained.validation_macro_f1):
        return ""
    return f", validation macro-F1 {trained.validation_macro_f1:.3f}"


def _aligned(X: pd.DataFrame, labels: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Labels of the tracks that have rows in ``X``, and those rows."""
    labels = labels.loc[labels.index.intersection(pd.Index(track_ids_of(X).unique()))]
    return labels, rows_of(X, labels.index)


def train_all(X: pd.DataFrame, labels: pd.DataFrame, config: TrainingConfig = TrainingConfig(),
              progress: Progress | None = None, what: str = "training") -> list[TrainedModel]:
    """Every configured model on every configured branch, plus the soft-voting ensemble.

    ``progress`` receives one line per step (families chosen, each model done with its
    scores, elapsed time and an estimate of what is left).

    Parameters
    ----------
    X : pandas.DataFrame
        A clip table or a window table.
    labels : pandas.DataFrame
        Tracks with ``genre``, ``split`` and ``artist_id``.
    config : TrainingConfig, default TrainingConfig()
        Models, branches, search and samples.
    progress : Progress or None, default None
        Receives the progress lines.
    what : str, default 'training'
        Prefix of the progress lines.

    Returns
    -------
    list of TrainedModel
        Branch by branch, then the ensemble when ``ensemble_size`` allows one.
    """
    data = training_data(X, labels, config)
    X, labels = data.X, data.labels
    per_branch = sum(_candidates(m, data, data.families[:1]) for m in config.models)
    if len(data.families) > 1 and len(config.models) > 1:
        per_branch += _candidates(FAMILY_JUDGE, data, data.families)
    report = Reporter(progress, per_branch * len(config.branches), what)
    chosen = (f"champion chosen on {len(data.validation_ids):,} validation tracks (models refit on "
              f"{len(data.select_ids):,} training tracks)" if data.chooses_on_validation else
              f"champion chosen by CV (validation split under {config.validation_tracks:,} tracks)")
    report.say(f"{len(config.models)} models x {len(config.branches)} branches; tuning on {len(data.tune_ids):,} of "
               f"{len(data.select_ids):,} training tracks ({len(data.X_tune):,} rows, {len(data.folds)} artist-grouped "
               f"folds), {config.search} search, families from {data.families}; {chosen}")
    models = [m for b in config.branches for m in train_branch(config.models, b, data, report)]
    if config.ensemble_size >= 2 and len(models) >= 2:
        best = sorted(models, key=selection_score, reverse=True)
        members, seen = [], set()
        for m in best:  # one branch per model family keeps the members diverse
            if m.model not in seen:
                members.append(m)
                seen.add(m.model)
            if len(members) == config.ensemble_size:
                break
        if len(members) >= 2:
            models.append(train_ensemble(members, data, report))
    return models


def calibrate(trained: TrainedModel, X: pd.DataFrame, labels: pd.DataFrame, config: TrainingConfig = TrainingConfig(),
              progress: Progress | None = None) -> TrainedModel:
    """The champion as served: refit on training + validation, probabilities calibrated on held-out folds.

    A champion chosen on the validation split was fitted on the training rows only; here it
    is refit on all fit rows (training + validation) before its one test measurement (its
    scores as fitted on training alone are kept in ``extra['selection_test']``).
    ``CalibratedClassifierCV(method='temperature', ensemble=False)`` fits the model on
    ``calibration_folds`` artist-grouped folds of the fit rows, learns one temperature from
    their out-of-fold probabilities, and keeps one model fitted on all fit rows. One
    temperature divides every class's log-probability alike, so predictions — and every
    accuracy figure — stay exactly those of the uncalibrated model, while the probabilities
    a user sees mean what they say (class-balanced models included, which per-class sigmoid
    or isotonic calibration would pull back towards the majority genres). The calibration
    scores before and after are kept in ``extra['uncalibrated']``.

    Parameters
    ----------
    trained : TrainedModel
        The model to calibrate (e.g. the champion).
    X : pandas.DataFrame
        A clip table or a window table, as given to training.
    labels : pandas.DataFrame
        Tracks with ``genre``, ``split`` and ``artist_id``.
    config : TrainingConfig, default TrainingConfig()
        Supplies ``calibration_folds`` (0: no calibration, and ``trained`` is returned unchanged
        unless it must be refit on training + validation) and the seed.
    progress : Progress or None, default None
        Receives one line with the calibration error before and after.

    Returns
    -------
    TrainedModel
    """
    started = time.perf_counter()
    data = training_data(X, labels, config)
    if not config.calibration_folds and not data.chooses_on_validation:
        return trained
    X_fit, y_fit, labels = data.X_fit, data.y_fit, data.labels
    unfitted = clone(trained.extra.get("unfitted", trained.pipeline))
    extra = {**trained.extra, "n_train": len(data.fit_ids), "n_validation": 0}
    if data.chooses_on_validation:
        extra["selection_test"] = trained.test
    if config.calibration_folds:
        folds = cv_folds(y_fit, row_labels(X_fit, labels, "artist_id"), config.calibration_folds, config.seed)
        served = CalibratedClassifierCV(unfitted, method="temperature", cv=folds, ensemble=False)
        served.fit(X_fit, y_fit.to_numpy())  # a Series trips CalibratedClassifierCV's label check
        extra.update(uncalibrated=trained.test, calibration=f"temperature, {len(folds)} artist-grouped folds")
    else:
        served = unfitted.fit(X_fit, y_fit)
    extra["calibration_seconds"] = time.perf_counter() - started
    extra.pop("unfitted", None)
    out = TrainedModel(**{**trained.__dict__, "pipeline": served, "test": test_scores(served, data)["test"],
                          "extra": extra})
    if progress:
        refit = (f"refit on {len(data.fit_ids):,} training + validation tracks (test macro-F1 "
                 f"{trained.test['macro_f1']:.3f} -> {out.test['macro_f1']:.3f})" if data.chooses_on_validation else "")
        calibrated = (f"expected calibration error {trained.test.get('ece', float('nan')):.3f} -> "
                      f"{out.test.get('ece', float('nan')):.3f} on the test split" if config.calibration_folds else "")
        progress(f"served {trained.key}: {'; '.join(t for t in (refit, calibrated) if t)} "
                 f"({extra['calibration_seconds']:.0f} s)")
    return out


def champion(models: list[TrainedModel]) -> TrainedModel:
    """The best model by :func:`selection_score`: validation macro-F1, else cross-validated macro-F1 (never test).

    Parameters
    ----------
    models : list of TrainedModel
        At least one.

    Returns
    -------
    TrainedModel
    """
    return max(models, key=selection_score)


def comparison_table(models: list[TrainedModel]) -> pd.DataFrame:
    """One row per model and branch, the champion first (best :func:`selection_score`).

    Parameters
    ----------
    models : list of TrainedModel

    Returns
    -------
    pandas.DataFrame
        Rows of :meth:`TrainedModel.summary`.
    """
    order = sorted(models, key=selection_score, reverse=True)
    return pd.DataFrame([m.summary() for m in order])


def level_comparison(clip: pd.DataFrame, segment: pd.DataFrame) -> pd.DataFrame:
    """The best row of each :func:`comparison_table` (clip, segment), winner (by CV macro-F1) first.

    Parameters
    ----------
    clip : pandas.DataFrame
        The clip-level comparison table.
    segment : pandas.DataFrame
        The segment-level comparison table.

    Returns
    -------
    pandas.DataFrame
        At most two rows, with a ``level`` column; columns missing from an older table are left out.
    """
    columns = ["level", "model", "branch", "families", "cv_macro_f1", "accuracy", "balanced_accuracy", "macro_f1",
               "majority_baseline", "n_test"]
    rows = [table.sort_values("cv_macro_f1", ascending=False).iloc[0].to_dict() | {"level": level}
            for level, table in (("clip", clip), ("segment", segment)) if len(table)]
    frame = pd.DataFrame(rows)  # a table written before a column existed lacks it: leave it out
    return frame[[c for c in columns if c in frame]].sort_values("cv_macro_f1", ascending=False, ignore_index=True)
