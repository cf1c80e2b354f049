"""Honest scores: held-out metrics beside the majority-class baseline, calibration, key predictors."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, classification_report,
                             confusion_matrix, f1_score, log_loss)

from fma_pipeline.core.audio.features import feature_family


def majority_baseline(y_train: pd.Series, y_test: pd.Series) -> float:
    """Accuracy on ``y_test`` of always predicting the most frequent training genre.

    Parameters
    ----------
    y_train : pandas.Series
        Training genres; their most frequent one is the prediction.
    y_test : pandas.Series
        Held-out genres.

    Returns
    -------
    float
        NaN when ``y_test`` is empty.

    Examples
    --------
    >>> majority_baseline(pd.Series(["rock", "rock", "pop"]), pd.Series(["rock", "pop"]))
    0.5
    """
    if len(y_test) == 0:
        return float("nan")
    majority = pd.Series(y_train).value_counts().idxmax()
    return float((pd.Series(y_test) == majority).mean())


def macro_f1(y_true, y_pred) -> float:
    """Macro-averaged F1 (every genre counts the same; absent predictions score 0).

    Parameters
    ----------
    y_true : array-like
        True genres.
    y_pred : array-like
        Predicted genres, in the same order.

    Returns
    -------
    float
    """
    return float(f1_score(y_true, y_pred, average="macro", zero_division=0))


#: Confidence bins of the expected calibration error.
ECE_BINS = 15


def calibration(y_true: pd.Series, proba: pd.DataFrame) -> dict[str, float]:
    """How far predicted probabilities are from observed frequencies, on held-out tracks.

    ``ece``: expected calibration error of the top answer (|accuracy - mean confidence|
    over :data:`ECE_BINS` equal-width confidence bins, weighted by bin size; 0 is perfect);
    ``brier``: mean squared error of the probability vector against the one-hot truth;
    ``log_loss``: mean negative log-probability of the true genre. ``proba`` has one column
    per class (the model's ``classes_``), one row per track of ``y_true``.

    Parameters
    ----------
    y_true : pandas.Series
        True genre of each track.
    proba : pandas.DataFrame
        Predicted probabilities, one row per track of ``y_true``, one column per class.

    Returns
    -------
    dict of str to float
        ``ece``, ``brier`` and ``log_loss`` (NaN when no true genre is among the columns).
    """
    p = proba.to_numpy(dtype=float)
    p = p / p.sum(axis=1, keepdims=True)  # float32 window probabilities sum to 1 only within 1e-7
    classes = proba.columns.to_numpy()
    truth = np.asarray(y_true)
    confidence = p.max(axis=1)
    correct = classes[p.argmax(axis=1)] == truth
    bins = np.minimum((confidence * ECE_BINS).astype(int), ECE_BINS - 1)
    ece = sum(abs(correct[bins == b].mean() - confidence[bins == b].mean()) * (bins == b).mean()
              for b in np.unique(bins))
    onehot = (truth[:, None] == classes[None, :]).astype(float)
    known = onehot.any(axis=1)  # a genre the model never saw has no probability to score
    return {"ece": float(ece), "brier": float(((p - onehot) ** 2).sum(axis=1).mean()),
            "log_loss": float(log_loss(truth[known], np.clip(p[known], 1e-15, 1), labels=classes))
            if known.any() else float("nan")}


def score(y_true: pd.Series, y_pred: np.ndarray, y_train: pd.Series) -> dict[str, float]:
    """Accuracy, balanced accuracy, macro-F1 and the majority baseline of one prediction.

    Parameters
    ----------
    y_true : pandas.Series
        True genres of the held-out tracks.
    y_pred : numpy.ndarray
        Predicted genres, in the same order.
    y_train : pandas.Series
        Training genres (for :func:`majority_baseline`).

    Returns
    -------
    dict of str to float
        ``accuracy``, ``balanced_accuracy``, ``macro_f1`` and ``majority_baseline``.
    """
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": macro_f1(y_true, y_pred),
        "majority_baseline": majority_baseline(y_train, y_true),
    }


def per_class(y_true: pd.Series, y_pred: np.ndarray) -> pd.DataFrame:
    """Per-genre precision, recall, F1 and support.

    Parameters
    ----------
    y_true : pandas.Series
        True genres.
    y_pred : numpy.ndarray
        Predicted genres, in the same order.

    Returns
    -------
    pandas.DataFrame
        One row per genre (index ``genre``): ``precision``, ``recall``, ``f1-score``, ``support``.
    """
    report = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    rows = {k: v for k, v in report.items() if k not in ("accuracy", "macro avg", "weighted avg")}
    return pd.DataFrame(rows).T.rename_axis("genre")


def confusion(y_true: pd.Series, y_pred: np.ndarray, labels: list[str]) -> pd.DataFrame:
    """Confusion matrix as a table: rows true genre, columns predicted genre.

    Parameters
    ----------
    y_true : pandas.Series
        True genres.
    y_pred : numpy.ndarray
        Predicted genres, in the same order.
    labels : list of str
        Genres, in the order of the rows and columns.

    Returns
    -------
    pandas.DataFrame
        Counts; index named ``true``, columns named ``predicted``.
    """
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    return pd.DataFrame(matrix, index=pd.Index(labels, name="true"), columns=pd.Index(labels, name="predicted"))


def permutation_drop(model, X: pd.DataFrame, y: pd.Series, groups: dict[str, list[str]], *,
                     repeats: int = 5, seed: int = 0) -> pd.DataFrame:
    """Mean and std of the macro-F1 drop when each group of columns is shuffled together.

    Parameters
    ----------
    model : estimator
        A fitted classifier with ``predict``.
    X : pandas.DataFrame
        Held-out features.
    y : pandas.Series
        True genres of ``X``'s rows.
    groups : dict of str to list of str
        Group name -> the columns shuffled together.
    repeats : int, default 5
        Shuffles per group.
    seed : int, default 0
        Seed of the shuffles.

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``importance`` (mean drop) and ``std``, most important first.
    """
    rng = np.random.default_rng(seed)
    base = macro_f1(y, model.predict(X))
    rows = []
    for name, columns in groups.items():
        drops = []
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[columns] = X[columns].to_numpy()[rng.permutation(len(X))]
            drops.append(base - macro_f1(y, model.predict(shuffled)))
        rows.append({"name": name, "importance": float(np.mean(drops)), "std": float(np.std(drops))})
    return pd.DataFrame(rows).sort_values("importance", ascending=False, ignore_index=True)


#: Held-out tracks the permutation importance uses (a seeded, genre-stratified sample).
IMPORTANCE_ROWS = 2000


def key_predictors(model, X: pd.DataFrame, y: pd.Series, *, seed: int = 0, repeats: int = 5,
                   top: int = 15, families_for_columns: int = 2, max_rows: int = IMPORTANCE_ROWS
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Key predictors on held-out data: permutation importance by feature family, then by column.

    At most ``max_rows`` tracks are used (a seeded sample stratified by genre): the cost
    is (families × repeats + columns) predictions of that many rows, whatever the test
    split's size, which keeps it to minutes with a slow champion at FMA-large size.

    A family (all mfcc columns, all chroma_cqt columns …) is shuffled as one block:
    shuffling one column leaves its correlated siblings in place and understates what the
    family carries. Individual columns are then ranked within the ``families_for_columns``
    most important families only, which keeps the cost at tens of predictions, not 708 × repeats.

    Parameters
    ----------
    model : estimator
        A fitted classifier with ``predict``.
    X : pandas.DataFrame
        Held-out features (named columns of the 708 features).
    y : pandas.Series
        True genres of ``X``'s rows.
    seed : int, default 0
        Seed of the sample and the shuffles.
    repeats : int, default 5
        Shuffles per family.
    top : int, default 15
        Columns kept in the per-column table.
    families_for_columns : int, default 2
        How many of the most important families have their columns ranked.
    max_rows : int, default IMPORTANCE_ROWS
        Most held-out tracks used.

    Returns
    -------
    families : pandas.DataFrame
        Columns ``family``, ``importance``, ``std``, most important first.
    columns : pandas.DataFrame
        The ``top`` columns: ``feature``, ``importance``, ``std``, ``family``.
    """
    if len(X) > max_rows:
        keep = (pd.Series(np.arange(len(X)), index=X.index).groupby(np.asarray(y), group_keys=False)
                .apply(lambda g: g.sample(frac=max_rows / len(X), random_state=seed)).sort_values())
        X, y = X.iloc[keep.to_numpy()], y.iloc[keep.to_numpy()]
    by_family: dict[str, list[str]] = {}
    for column in X.columns:
        by_family.setdefault(feature_family(column), []).append(column)
    families = permutation_drop(model, X, y, by_family, repeats=repeats, seed=seed)
    families = families.rename(columns={"name": "family"})
    candidates = [c for f in families["family"].head(families_for_columns) for c in by_family[f]]
    single = permutation_drop(model, X, y, {c: [c] for c in candidates}, repeats=1, seed=seed)
    single = single.rename(columns={"name": "feature"})
    single["family"] = single["feature"].map(feature_family)
    return families, single.head(top)
