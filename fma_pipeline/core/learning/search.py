"""Hyper-parameter and feature-family search, one branch at a time (:func:`train_branch`).

Each model's grid (or random draws from its wider space) is cross-validated on the
problem's tuning rows and folds, scored by per-track macro-F1; the best candidate is refit
on the selection rows and scored. Feature families are chosen once per branch by
:data:`FAMILY_JUDGE`'s search, and every other model searches only its own grid on that
choice, instead of multiplying every grid by the family sets.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV

from fma_pipeline.core.learning.models import IMBALANCE, make_pipeline, search_params, zoo
from fma_pipeline.core.learning.problem import TrainingProblem, training_data
from fma_pipeline.core.learning.scoring import scored_model, track_macro_f1, validation_note
from fma_pipeline.core.learning.trained_model import TrainedModel
from fma_pipeline.core.learning.training_config import TrainingConfig
from fma_pipeline.core.progress import Reporter

#: The model whose search chooses the feature families for every model of a branch.
FAMILY_JUDGE = "logistic_regression"


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


def candidate_count(name: str, data: TrainingProblem, families: list[str]) -> int:
    """How many candidates a model's search will try (for progress estimates).

    Parameters
    ----------
    name : str
        Zoo key.
    data : TrainingProblem
        Supplies the search kind and budget.
    families : list of str
        Family sets the search chooses from.

    Returns
    -------
    int
    """
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
                   f"({candidate_count(judge, data, data.families)} candidates x {len(data.folds)} folds on "
                   f"{len(data.tune_ids):,} tracks)", units=candidate_count(judge, data, data.families))
    out = []
    for name in names:
        started = time.perf_counter()
        if name not in searches:
            searches[name] = (*_search(name, branch, data, families), started)
        search, pipeline, started = searches[name]
        i = search.best_index_
        scores = np.array([search.cv_results_[f"split{k}_test_score"][i] for k in range(len(data.folds))])
        best = clone(pipeline).set_params(**search.best_params_)
        trained = scored_model(name, branch, best, data, scores, readable_params(search.best_params_),
                            IMBALANCE.get(name, "none"), started,
                            {"search": data.config.search, "candidates": len(search.cv_results_["params"]),
                             "families_chosen_by": FAMILY_JUDGE if len(families) < len(data.families) else name})
        out.append(trained)
        report.say(f"{trained.key} done: CV macro-F1 {trained.cv_macro_f1:.3f}{validation_note(trained)}, "
                   f"test macro-F1 {trained.test['macro_f1']:.3f}, accuracy "
                   f"{trained.test['accuracy']:.3f} ({trained.extra['candidates']} candidates, "
                   f"{trained.extra['search_seconds']:.0f} s)",
                   units=0 if name == FAMILY_JUDGE and len(families) < len(data.families)
                   else candidate_count(name, data, families))
    return out


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
