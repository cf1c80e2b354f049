"""The champion as served: refit on training + validation, probabilities calibrated (:func:`calibrate`)."""

from __future__ import annotations

import time

import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV

from fma_pipeline.core.learning.problem import cv_folds, row_labels, training_data
from fma_pipeline.core.learning.scoring import test_scores
from fma_pipeline.core.learning.trained_model import TrainedModel
from fma_pipeline.core.learning.training_config import TrainingConfig
from fma_pipeline.core.progress import Progress


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
