"""Honest scores: held-out metrics beside the majority-class baseline, and key predictors."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


def permutation_drop(model, X: pd.DataFrame, y: pd.Series, groups: dict[str, list[str]], *,
                     repeats: int = 5, seed: int = 0) -> pd.DataFrame:
    """Mean and std of the macro-F1 drop when each group of columns is shuffled together."""
    rng = np.random.default_rng(seed)
    base = f1_score(y, model.predict(X), average="macro", zero_division=0)
    rows = []
    for name, columns in groups.items():
        drops = []
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[columns] = X[columns].to_numpy()[rng.permutation(len(X))]
            drops.append(base - f1_score(y, model.predict(shuffled), average="macro", zero_division=0))
        rows.append({"name": name, "importance": float(np.mean(drops)), "std": float(np.std(drops))})
    return pd.DataFrame(rows).sort_values("importance", ascending=False, ignore_index=True)


def key_predictors(model, X: pd.DataFrame, y: pd.Series, *, seed: int = 0, repeats: int = 5,
                   top: int = 15, families_for_columns: int = 2) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Key predictors on held-out data: permutation importance by feature family, then by column.

    A family (all mfcc columns, all chroma_cqt columns …) is shuffled as one block:
    shuffling one column leaves its correlated siblings in place and understates what the
    family carries. Individual columns are then ranked within the ``families_for_columns``
    most important families only, which keeps the cost at tens of predictions, not 708 × repeats.
    """
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
