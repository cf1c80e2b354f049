"""Ranking trained models and the comparison tables the CLI, the assets and MLflow show.

Models are ranked by :func:`selection_score` (validation macro-F1 when the problem has a
large enough validation split, else cross-validated macro-F1), never by the test split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fma_pipeline.core.learning.trained_model import TrainedModel


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
