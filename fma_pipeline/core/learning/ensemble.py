"""The soft-voting ensemble of the best tuned models (one branch per model family).

Its members are the pipelines the search already fitted: the final ensemble votes with
them frozen (no second refit); only its cross-validated score refits fresh copies.
"""

from __future__ import annotations

import time

from sklearn.base import clone
from sklearn.ensemble import VotingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import cross_val_score

from fma_pipeline.core.learning.comparison import selection_score
from fma_pipeline.core.learning.problem import TrainingProblem
from fma_pipeline.core.learning.scoring import scored_model, track_macro_f1, validation_note
from fma_pipeline.core.learning.trained_model import TrainedModel
from fma_pipeline.core.progress import Reporter


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
    trained = scored_model("soft_voting", "mixed", frozen, data, scores, {"members": ", ".join(m.key for m in members)},
                        "inherited from members", started, {"unfitted": fresh}, fit=False)
    if report:
        report.say(f"soft voting of {trained.best_params['members']}: CV macro-F1 {trained.cv_macro_f1:.3f}"
                   + validation_note(trained))
    return trained


def ensemble_members(models: list[TrainedModel], size: int) -> list[TrainedModel]:
    """The best ``size`` models by :func:`selection_score`, one branch per model family (diverse members).

    Parameters
    ----------
    models : list of TrainedModel
        The tuned models of every branch.
    size : int
        Members wanted.

    Returns
    -------
    list of TrainedModel
        At most ``size``; fewer than 2 means no ensemble.
    """
    members, seen = [], set()
    for m in sorted(models, key=selection_score, reverse=True):
        if m.model not in seen:
            members.append(m)
            seen.add(m.model)
        if len(members) == size:
            break
    return members
