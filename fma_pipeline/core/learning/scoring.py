"""How a model is scored on a training problem: per track, on held-out rows only.

The searches' scorer (:func:`track_macro_f1`: windows are soft-voted into one answer per
track first), the validation score that chooses the champion, the one test measurement
(:func:`test_scores`), and :func:`scored_model`, which turns a tuned estimator and its
cross-validation scores into a :class:`~fma_pipeline.core.learning.trained_model.TrainedModel`.
The metrics themselves are in :mod:`~fma_pipeline.core.learning.evaluation`.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from fma_pipeline.core.learning import evaluation
from fma_pipeline.core.learning.problem import TrainingProblem, row_labels
from fma_pipeline.core.learning.segments import track_proba
from fma_pipeline.core.learning.trained_model import TrainedModel


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


def scored_model(name: str, branch: str, estimator, data: TrainingProblem, cv_scores: np.ndarray, best_params: dict,
              imbalance: str, started: float, extra: dict | None = None, *, fit: bool = True) -> TrainedModel:
    """Refit ``estimator`` on the selection rows (unless ``fit`` is False); score it on validation and test.

    Parameters
    ----------
    name, branch : str
        Zoo key (or ``soft_voting``) and branch of the model.
    estimator : estimator
        The tuned, unfitted pipeline (or, with ``fit=False``, one already fitted).
    data : TrainingProblem
        The training problem.
    cv_scores : numpy.ndarray
        Per-fold cross-validated macro-F1 of the chosen candidate.
    best_params : dict
        Chosen hyper-parameters, readable.
    imbalance : str
        How the model copes with class imbalance.
    started : float
        ``time.perf_counter()`` when its search began (for ``extra['search_seconds']``).
    extra : dict or None, default None
        More to record in :attr:`TrainedModel.extra`.
    fit : bool, default True
        Fit ``estimator`` on the selection rows first.

    Returns
    -------
    TrainedModel
    """
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


def validation_note(trained: TrainedModel) -> str:
    """``', validation macro-F1 0.xxx'`` for a progress line, or nothing when the model was chosen by CV.

    Parameters
    ----------
    trained : TrainedModel

    Returns
    -------
    str
    """
    if np.isnan(trained.validation_macro_f1):
        return ""
    return f", validation macro-F1 {trained.validation_macro_f1:.3f}"
