"""Honest scores: held-out metrics beside the majority-class baseline, and key predictors."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import (accuracy_score, balanced_accuracy_score, classification_report,
                             confusion_matrix, f1_score)

from fma_pipeline.core.features import feature_family


def majority_baseline(y_train: pd.Series, y_test: pd.Series) -> float:
    """Accuracy on ``y_test`` of always predicting the most frequent training genre."""
    if len(y_test) == 0:
        return float("nan")
    majority = pd.Series(y_train).value_counts().idxmax()
    return float((pd.Series(y_test) == majority).mean())


def score(y_true: pd.Series, y_pred: np.ndarray, y_train: pd.Series) -> dict[str, float]:
    """accuracy, balanced accuracy, macro-F1 and the majority baseline of one prediction."""
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        "majority_baseline": majority_baseline(y_train, y_true),
    }


def per_class(y_true: pd.Series, y_pred: np.ndarray) -> pd.DataFrame:
    """Per-genre precision, recall, F1 and support."""
    report = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    rows = {k: v for k, v in report.items() if k not in ("accuracy", "macro avg", "weighted avg")}
    return pd.DataFrame(rows).T.rename_axis("genre")


def confusion(y_true: pd.Series, y_pred: np.ndarray, labels: list[str]) -> pd.DataFrame:
    """Confusion matrix as a table: rows true genre, columns predicted genre."""
    matrix = confusion_matrix(y_true, y_pred, labels=labels)
    return pd.DataFrame(matrix, index=pd.Index(labels, name="true"), columns=pd.Index(labels, name="predicted"))


def key_predictors(model, X: pd.DataFrame, y: pd.Series, *, seed: int = 0, repeats: int = 3,
                   top: int = 15) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Permutation importance (macro-F1 drop on held-out data) by feature family and top features.

    Families are summed: permuting one column of a family leaves its correlated siblings
    in place, so per-column importances understate a family, and the sum ranks families
    fairly against each other.
    """
    result = permutation_importance(model, X, y, scoring="f1_macro", n_repeats=repeats,
                                    random_state=seed, n_jobs=1)
    single = pd.DataFrame({"feature": X.columns, "importance": result.importances_mean,
                           "std": result.importances_std})
    single["family"] = single["feature"].map(feature_family)
    families = (single.groupby("family")["importance"].sum().sort_values(ascending=False)
                .rename("importance").reset_index())
    return families, single.sort_values("importance", ascending=False).head(top).reset_index(drop=True)
