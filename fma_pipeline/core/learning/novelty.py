"""Knowing when not to answer: a novelty guard fitted with the model, stored with it.

A genre classifier gives some genre for anything — speech, birdsong, a test tone, noise —
and its probabilities only compare genres with each other. :class:`NoveltyGuard` learns
what the training music looks like in feature space and scores how unlike it a new clip
is; above a threshold set on held-out training rows for a stated false-alarm rate, the
answer is ``unsure`` with a reason instead of a genre. :class:`GuardedClassifier` keeps
the classifier and its guard together, so the registered model carries both.

The score: three measures, each divided by its own threshold, the largest kept; above 1
is novel.

- features standardised and projected on the training rows' principal components (at most
  ``max_components``, fewer than the rows): the Mahalanobis distance inside that subspace
  (unusual values of the usual kinds of variation) and the residual distance outside it
  (variation music does not have) — these catch tones, noise and chirps at any size;
- the share of columns beyond the training rows' range, widened by ``margin`` times each
  column's inter-quartile range. Speech is what the two distances missed on small training
  sets: with 60 GTZAN clips the projection is fitted on a few dozen rows, held-out music
  lies as far outside it as speech read in a reverberant room, and 25 % of espeak-ng
  speech kept a genre. Speech is beyond every music clip on a block of columns at once
  (the spread of the MFCCs, as formants move from phone to phone; the quietest frames'
  energy), which held-out music rarely is: per column a range is pinned down by a few
  dozen rows, where a 708-dimensional subspace is not. docs/model-selection.md has the
  measured rates.

Each threshold is the ``1 - false_alarm / 3`` quantile of its measure over *every*
training row, each scored by a guard fitted on the other ``folds - 1`` folds (cross-fitting:
a 60-clip set gives 60 held-out scores, not 15), so about ``false_alarm`` of new music like
the training music is flagged; that held-out rate is kept in ``held_out_false_alarm_``.
The final guard is fitted on all rows (its ranges only wider, its projection better
estimated), so new music is flagged a little less often than held-out rows were.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.decomposition import PCA
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler


#: Shares of the false-alarm budget of the three measures (inside, outside, beyond). Tones,
#: noise and chirps lie many times beyond the distances' thresholds, so a small share of
#: the budget loses nothing there; speech lies just beyond the range measure's (1.1-2x on
#: GTZAN, docs/model-selection.md), which therefore gets half.
BUDGET = (0.25, 0.25, 0.5)


class NoveltyGuard(BaseEstimator):
    """Scores how unlike the training rows a row of features is; above 1 means novel.

    Parameters
    ----------
    false_alarm : float
        Share of held-out training rows allowed above the threshold.
    max_components : int
        Principal components of the "usual variation" subspace (fewer when rows are few).
    folds : int
        Cross-fitting folds that give every training row a held-out score for the thresholds.
    margin : float
        How far beyond a column's training range a value must lie to count, in inter-quartile ranges.
    seed : int
        Seed of the folds.

    Attributes
    ----------
    scaler_ : sklearn.preprocessing.StandardScaler
        Standardises the features.
    pca_ : sklearn.decomposition.PCA
        The projection on the usual variation.
    low_, high_ : numpy.ndarray
        Each column's training range, widened by ``margin`` inter-quartile ranges.
    thresholds_ : tuple of (float, float, float)
        Thresholds of the distance inside and outside the subspace, and of the share of columns
        beyond the range.
    held_out_false_alarm_ : float
        Share of the training rows scored above 1 by the guard fitted without them.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> guard = NoveltyGuard().fit(rng.normal(size=(400, 20)))
    >>> bool(guard.is_novel(rng.normal(size=(1, 20)))[0]), bool(guard.is_novel(np.full((1, 20), 9.0))[0])
    (False, True)
    """

    def __init__(self, false_alarm: float = 0.05, max_components: int = 32, folds: int = 4, margin: float = 1.0,
                 seed: int = 0):
        self.false_alarm = false_alarm
        self.max_components = max_components
        self.folds = folds
        self.margin = margin
        self.seed = seed

    def fit(self, X, y=None) -> NoveltyGuard:
        """Fit the thresholds on cross-fitted held-out scores, then the projection and ranges on all of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Training rows (at least 8).
        y : ignored

        Returns
        -------
        NoveltyGuard
            This guard, fitted.

        Raises
        ------
        ValueError
            If ``X`` has fewer than 8 rows.
        """
        X = _array(X)
        if len(X) < 8:
            raise ValueError(f"NoveltyGuard needs at least 8 training rows, got {len(X)}")
        held = np.empty((len(X), 3))
        for fit_rows, held_rows in KFold(max(2, self.folds), shuffle=True, random_state=self.seed).split(X):
            self._fit_parts(X[fit_rows])
            held[held_rows] = self._measures(X[held_rows])
        # One column beyond its range is the least a share is counted as: with many rows most
        # held-out shares are 0, and a log needs a floor.
        floor = np.array([1e-12, 1e-12, 1.0 / X.shape[1]])
        rates = self.false_alarm * np.asarray(BUDGET)
        self.thresholds_ = tuple(float(max(np.quantile(held[:, i], 1 - rates[i]), floor[i])) for i in range(3))
        self.held_out_false_alarm_ = float(((held / self.thresholds_).max(axis=1) > 1).mean())
        self._fit_parts(X)
        self.n_features_in_ = X.shape[1]
        return self

    def _fit_parts(self, X: np.ndarray) -> None:
        self.scaler_ = StandardScaler().fit(X)
        k = max(1, min(self.max_components, len(X) - 2, X.shape[1]))
        self.pca_ = PCA(n_components=k, random_state=self.seed).fit(self.scaler_.transform(X))
        q1, q3 = np.quantile(X, [0.25, 0.75], axis=0)
        spread = np.maximum(q3 - q1, 1e-9 * (1 + np.abs(np.median(X, axis=0))))
        self.low_, self.high_ = X.min(axis=0) - self.margin * spread, X.max(axis=0) + self.margin * spread

    def _measures(self, X: np.ndarray) -> np.ndarray:
        """Distance inside the subspace, outside it, and share of columns beyond the range: one row each."""
        Z = np.nan_to_num(self.scaler_.transform(X), nan=0.0, posinf=1e6, neginf=-1e6)
        T = self.pca_.transform(Z)
        inside = np.sqrt(((T ** 2) / self.pca_.explained_variance_).mean(axis=1))
        residual = Z - self.pca_.inverse_transform(T)
        outside = np.sqrt((residual ** 2).mean(axis=1))
        beyond = ((X < self.low_) | (X > self.high_)).mean(axis=1)
        return np.column_stack([inside, outside, beyond])

    def score_samples(self, X) -> np.ndarray:
        """Novelty of each row: the larger of its two distances over their thresholds.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_rows,)
            1 is the threshold; 2 is twice as far from the training music as allowed.
        """
        return (self._measures(_array(X)) / np.asarray(self.thresholds_)).max(axis=1)

    def is_novel(self, X) -> np.ndarray:
        """Whether each row is above the threshold (boolean array).

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_rows,)
            True where :meth:`score_samples` is above 1.
        """
        return self.score_samples(X) > 1


class GuardedClassifier(ClassifierMixin, BaseEstimator):
    """A fitted classifier with the :class:`NoveltyGuard` fitted on its training rows.

    Predicts exactly as ``classifier``; :meth:`novelty` says how far a row lies from the
    music it was trained on. Both are fitted before wrapping (nothing is refit here).

    Parameters
    ----------
    classifier : fitted scikit-learn classifier
    guard : NoveltyGuard or None
        Fitted on the classifier's training rows.
    """

    def __init__(self, classifier=None, guard: NoveltyGuard | None = None):
        self.classifier = classifier
        self.guard = guard

    def fit(self, X, y) -> GuardedClassifier:
        """Nothing to fit: both parts come fitted. Present for scikit-learn's API.

        Parameters
        ----------
        X : ignored
        y : ignored

        Returns
        -------
        GuardedClassifier
            This classifier, unchanged.
        """
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return True

    @property
    def classes_(self) -> np.ndarray:
        """The classifier's classes.

        Returns
        -------
        numpy.ndarray
        """
        return self.classifier.classes_

    @property
    def feature_names_in_(self) -> np.ndarray:
        """The columns the classifier was fitted on.

        Returns
        -------
        numpy.ndarray
        """
        return self.classifier.feature_names_in_

    def predict(self, X) -> np.ndarray:
        """The classifier's predictions.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_rows, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_rows,)
        """
        return self.classifier.predict(X)

    def predict_proba(self, X) -> np.ndarray:
        """The classifier's (calibrated) probabilities.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_rows, n_features)

        Returns
        -------
        numpy.ndarray of shape (n_rows, n_classes)
            Columns in :attr:`classes_` order.
        """
        return self.classifier.predict_proba(X)

    def novelty(self, X) -> np.ndarray:
        """The guard's score per row (above 1: unlike the training music).

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_rows, n_features)
            The classifier's columns, in its order.

        Returns
        -------
        numpy.ndarray of shape (n_rows,)
            See :meth:`NoveltyGuard.score_samples`.
        """
        return self.guard.score_samples(X)


def guard_training_rows(classifier, X: pd.DataFrame, false_alarm: float = 0.02, seed: int = 0) -> GuardedClassifier:
    """Fit a :class:`NoveltyGuard` on training rows ``X`` and wrap it with ``classifier``.

    Parameters
    ----------
    classifier : fitted scikit-learn classifier
    X : pandas.DataFrame
        The training rows the classifier was fitted on, its columns.
    false_alarm : float
        Share of held-out training rows the guard may flag.
    seed : int
        Seed of the guard's held-out split.

    Returns
    -------
    GuardedClassifier
    """
    names = getattr(classifier, "feature_names_in_", None)
    rows = X if names is None else X.loc[:, list(names)]
    return GuardedClassifier(classifier, NoveltyGuard(false_alarm=false_alarm, seed=seed).fit(rows))


def _array(X) -> np.ndarray:
    return np.asarray(X.to_numpy() if isinstance(X, pd.DataFrame) else X, dtype=np.float64)


#: Held-out training music the guard may flag (the threshold's false-alarm rate).
FALSE_ALARM = 0.05
#: The guard is fitted on at most this many training rows (a seeded sample): the projection's
#: cost grows with rows, and 20,000 rows pin 32 components down.
GUARD_ROWS = 20_000


def guard_champion(trained, X: pd.DataFrame, labels: pd.DataFrame, config, progress=None):
    """The champion with a :class:`NoveltyGuard` fitted on its training rows.

    Parameters
    ----------
    trained : trained_model.TrainedModel
        The (calibrated) champion.
    X, labels : pandas.DataFrame
        The feature matrix (clips or windows) and the tracks, as given to training.
    config : training_config.TrainingConfig
        The training configuration (its seed and samples).
    progress : callable, optional
        Receives one line with the rates.

    Returns
    -------
    trained_model.TrainedModel
        Same scores, ``pipeline`` a :class:`GuardedClassifier`; ``test['novel_rate']`` is the
        share of held-out test rows the guard flags (real music: should be near
        :data:`FALSE_ALARM`), ``extra['novelty_held_out_false_alarm']`` the rate on the guard's
        own held-out training rows.
    """
    from fma_pipeline.core.learning.problem import training_data
    from fma_pipeline.core.learning.trained_model import TrainedModel

    data = training_data(X, labels, config)
    rows = data.X_fit
    if len(rows) > GUARD_ROWS:
        rows = rows.sample(GUARD_ROWS, random_state=config.seed)
    guarded = guard_training_rows(trained.pipeline, rows, FALSE_ALARM, config.seed)
    X_test = data.X_test
    novel = float((guarded.novelty(X_test.loc[:, list(guarded.feature_names_in_)]) > 1).mean()) if len(X_test) \
        else float("nan")
    held = guarded.guard.held_out_false_alarm_
    if progress:
        progress(f"novelty guard on {trained.key}: flags {held:.1%} of held-out training rows and {novel:.1%} "
                 f"of the test split (target false-alarm rate {FALSE_ALARM:.0%})")
    return TrainedModel(**{**trained.__dict__, "pipeline": guarded, "test": {**trained.test, "novel_rate": novel},
                           "extra": {**trained.extra, "novelty_held_out_false_alarm": held}})
