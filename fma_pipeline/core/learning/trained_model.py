"""The record every layer passes on: :class:`TrainedModel`, one fitted pipeline and what was measured about it.

Made by the search (:mod:`~fma_pipeline.core.learning.search`), the ensemble and the
calibration; ranked by :mod:`~fma_pipeline.core.learning.comparison`; logged to MLflow by
:mod:`fma_pipeline.core.tracking`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd


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
