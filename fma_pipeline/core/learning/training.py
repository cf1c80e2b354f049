"""Train and evaluate the model zoo on one feature matrix.

Protocol (what makes the numbers trustworthy):
- hyper-parameters (including which feature families a model sees) are chosen by
  cross-validation on the training + validation rows only, folds grouped by artist
  (``StratifiedGroupKFold``), scored by macro-F1; exhaustively over each model's small
  grid (``search="grid"``, the default) or over ``search_iterations`` candidates drawn
  from its wider space (``search="random"``: the budget, per model and branch);
- the refitted best model is scored once on the test split, which never picks anything;
- the champion is the model with the best *cross-validated* macro-F1.

``level="segment"`` trains the same zoo on :func:`~fma_pipeline.core.learning.segments.wide_segments`
rows, each model wrapped in a :class:`~fma_pipeline.core.learning.segments.SegmentVoter`
(fit on windows, vote per track), so both levels share this protocol and are comparable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.ensemble import VotingClassifier
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, StratifiedGroupKFold, cross_val_score

from fma_pipeline.core.learning import evaluation
from fma_pipeline.core.learning.families import FAMILY_SETS, family_choices
from fma_pipeline.core.learning.models import BRANCHES, DEFAULT_MODELS, IMBALANCE, make_pipeline, search_params, zoo
from fma_pipeline.core.learning.segments import SegmentVoter


@dataclass(frozen=True)
class TrainingConfig:
    """What to train: models, branches, PCA variance kept, CV folds, search and budget, jobs, seed."""

    models: tuple[str, ...] = DEFAULT_MODELS
    branches: tuple[str, ...] = BRANCHES
    pca_variance: float = 0.95
    cv_folds: int = 5
    n_jobs: int = -1
    seed: int = 0
    ensemble_size: int = 3  # soft-voting ensemble of the best N by CV macro-F1; 0 = none
    level: str = "clip"  # "clip": one row of 708 per track; "segment": wide window rows, voted
    search: str = "grid"  # "grid": each model's small grid; "random": search_iterations draws from its space
    search_iterations: int = 12  # the random search's budget per model and branch
    families: tuple[str, ...] = tuple(FAMILY_SETS)  # the feature family sets the search may choose from

    def __post_init__(self) -> None:
        if self.level not in ("clip", "segment"):
            raise ValueError(f"level must be 'clip' or 'segment', not {self.level!r}")
        if self.search not in ("grid", "random"):
            raise ValueError(f"search must be 'grid' or 'random', not {self.search!r}")
        if self.search_iterations < 1:
            raise ValueError(f"search_iterations must be at least 1, not {self.search_iterations}")
        unknown = sorted(set(self.families) - set(FAMILY_SETS))
        if unknown or not self.families:
            raise ValueError(f"families must be a non-empty subset of {list(FAMILY_SETS)}, not {list(self.families)}")


@dataclass
class TrainedModel:
    """One fitted pipeline and everything measured about it."""

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

    @property
    def key(self) -> str:
        return f"{self.model}/{self.branch}"

    def summary(self) -> dict:
        return {"model": self.model, "branch": self.branch,
                "families": self.best_params.get("families", "per member"), **self.test,
                "cv_macro_f1": self.cv_macro_f1, "cv_macro_f1_std": self.cv_macro_f1_std,
                "fit_seconds": self.fit_seconds, "predict_seconds": self.predict_seconds}


def split_rows(labels: pd.DataFrame) -> tuple[pd.Index, pd.Index]:
    """(train+validation ids, test ids) from a selection table's ``split`` column."""
    is_test = labels["split"].astype(str) == "test"
    return labels.index[~is_test.to_numpy()], labels.index[is_test.to_numpy()]


def cv_splitter(y: pd.Series, groups: pd.Series, folds: int, seed: int) -> StratifiedGroupKFold:
    """Artist-grouped, genre-stratified folds; fewer folds when there are few artists."""
    min_groups = int(pd.DataFrame({"y": y, "g": groups}).groupby("y")["g"].nunique().min())
    return StratifiedGroupKFold(n_splits=max(2, min(folds, min_groups)), shuffle=True, random_state=seed)


def feasible_grid(grid: dict, n_fit: int) -> dict:
    """Drop grid values a small fold cannot support (kNN needs ``n_neighbors <= n_fit``)."""
    out = dict(grid)
    if "model__n_neighbors" in out:
        fitting = [k for k in out["model__n_neighbors"] if k <= n_fit]
        out["model__n_neighbors"] = fitting or [max(1, n_fit)]
    return out


def train_one(name: str, branch: str, X: pd.DataFrame, labels: pd.DataFrame,
              config: TrainingConfig = TrainingConfig()) -> TrainedModel:
    """Search one model's hyper-parameters on one branch, refit on train+validation, score on test."""
    spec = zoo(config.seed)[name]
    train_ids, _ = split_rows(labels)
    X_train, y_train = X.loc[train_ids], labels.loc[train_ids, "genre"]
    groups = labels.loc[train_ids, "artist_id"]
    pipeline = make_pipeline(spec.build(), branch, config.pca_variance, config.seed)
    splitter = cv_splitter(y_train, groups, config.cv_folds, config.seed)
    folds = list(splitter.split(X_train, y_train, groups))
    # A matrix that is not our 708 features only has 'all', whatever was asked for.
    families = [f for f in family_choices(X.columns) if f in config.families] or ["all"]
    grid = feasible_grid(search_params(spec, config.search, families), min(len(f) for f, _ in folds))
    if config.level == "segment":
        pipeline = SegmentVoter(pipeline)
        grid = {f"estimator__{k}": v for k, v in grid.items()}
    search = make_search(pipeline, grid, config.search, config.search_iterations, config.seed,
                         cv=folds, n_jobs=config.n_jobs, refit=False, error_score="raise")
    started = time.perf_counter()
    search.fit(X_train, y_train, groups=groups)
    i = search.best_index_
    scores = np.array([search.cv_results_[f"split{k}_test_score"][i] for k in range(len(folds))])
    best = clone(pipeline).set_params(**search.best_params_)
    return _evaluate(name, branch, best, X, labels, scores, readable_params(search.best_params_),
                     IMBALANCE.get(name, "none"), started, len(folds),
                     {"search": config.search, "candidates": len(search.cv_results_["params"])})


def make_search(estimator, params: dict, search: str, iterations: int, seed: int, **options):
    """A macro-F1 ``GridSearchCV`` over ``params``, or a ``RandomizedSearchCV`` drawing
    ``iterations`` candidates from them; ``options`` (cv, n_jobs, …) go to either."""
    if search == "random":
        return RandomizedSearchCV(estimator, params, n_iter=iterations, random_state=seed, scoring="f1_macro",
                                  **options)
    return GridSearchCV(estimator, params, scoring="f1_macro", **options)


def readable_params(params: dict) -> dict:
    """``{'estimator__model__C': 4, 'families__families': 'timbre'} -> {'C': 4, 'families': 'timbre'}``."""
    out = {}
    for key, value in params.items():
        key = key.removeprefix("estimator__")
        out["families" if key == "families__families" else key.removeprefix("model__")] = (
            value.item() if isinstance(value, np.generic) else value)
    return out


def _evaluate(name: str, branch: str, estimator, X: pd.DataFrame, labels: pd.DataFrame,
              cv_scores: np.ndarray, best_params: dict, imbalance: str, started: float, n_folds: int,
              extra: dict | None = None) -> TrainedModel:
    """Refit ``estimator`` on train+validation and score it once on the test split."""
    train_ids, test_ids = split_rows(labels)
    y_train = labels.loc[train_ids, "genre"]
    fit_started = time.perf_counter()
    estimator.fit(X.loc[train_ids], y_train)
    fit_seconds = time.perf_counter() - fit_started
    X_test, y_test = X.loc[test_ids], labels.loc[test_ids, "genre"]
    predict_started = time.perf_counter()
    y_pred = estimator.predict(X_test) if len(X_test) else np.array([], dtype=object)
    predict_seconds = time.perf_counter() - predict_started
    classes = sorted(labels["genre"].unique())
    return TrainedModel(
        model=name, branch=branch, pipeline=estimator, best_params=best_params,
        cv_macro_f1=float(np.mean(cv_scores)), cv_macro_f1_std=float(np.std(cv_scores)),
        test=evaluation.score(y_test, y_pred, y_train),
        per_class=evaluation.per_class(y_test, y_pred),
        confusion=evaluation.confusion(y_test, y_pred, classes),
        fit_seconds=fit_seconds, predict_seconds=predict_seconds, imbalance=imbalance,
        extra={"search_seconds": time.perf_counter() - started, "n_train": len(train_ids),
               "n_test": len(test_ids), "cv_folds": n_folds, **(extra or {})},
    )


def train_ensemble(members: list[TrainedModel], X: pd.DataFrame, labels: pd.DataFrame,
                   config: TrainingConfig = TrainingConfig()) -> TrainedModel:
    """Soft-voting ensemble of already-tuned pipelines, cross-validated on the same folds."""
    started = time.perf_counter()
    train_ids, _ = split_rows(labels)
    y_train, groups = labels.loc[train_ids, "genre"], labels.loc[train_ids, "artist_id"]
    voting = VotingClassifier([(m.key.replace("/", "_"), clone(m.pipeline)) for m in members],
                              voting="soft", n_jobs=1)
    folds = list(cv_splitter(y_train, groups, config.cv_folds, config.seed).split(X.loc[train_ids], y_train, groups))
    scores = cross_val_score(voting, X.loc[train_ids], y_train, scoring="f1_macro", cv=folds,
                             n_jobs=config.n_jobs)
    return _evaluate("soft_voting", "mixed", voting, X, labels, scores,
                     {"members": ", ".join(m.key for m in members)},
                     "inherited from members", started, len(folds))


def train_all(X: pd.DataFrame, labels: pd.DataFrame, config: TrainingConfig = TrainingConfig()
              ) -> list[TrainedModel]:
    """Every configured model on every configured branch, plus the soft-voting ensemble."""
    unknown = set(config.models) - set(zoo())
    if unknown:
        raise ValueError(f"unknown models {sorted(unknown)}; choose from {sorted(zoo())}")
    labels = labels.loc[labels.index.intersection(X.index)]
    X = X.loc[labels.index]
    models = [train_one(m, b, X, labels, config) for b in config.branches for m in config.models]
    if config.ensemble_size >= 2 and len(models) >= 2:
        best = sorted(models, key=lambda m: m.cv_macro_f1, reverse=True)
        members, seen = [], set()
        for m in best:  # one branch per model family keeps the members diverse
            if m.model not in seen:
                members.append(m)
                seen.add(m.model)
            if len(members) == config.ensemble_size:
                break
        if len(members) >= 2:
            models.append(train_ensemble(members, X, labels, config))
    return models


def champion(models: list[TrainedModel]) -> TrainedModel:
    """The best model by cross-validated macro-F1 on training data (never by test scores)."""
    return max(models, key=lambda m: m.cv_macro_f1)


def comparison_table(models: list[TrainedModel]) -> pd.DataFrame:
    """One row per model and branch, best cross-validated macro-F1 first."""
    table = pd.DataFrame([m.summary() for m in models])
    return table.sort_values("cv_macro_f1", ascending=False, ignore_index=True)


def level_comparison(clip: pd.DataFrame, segment: pd.DataFrame) -> pd.DataFrame:
    """The best row of each :func:`comparison_table` (clip, segment), winner (by CV macro-F1) first."""
    columns = ["level", "model", "branch", "families", "cv_macro_f1", "accuracy", "balanced_accuracy", "macro_f1",
               "majority_baseline"]
    rows = [table.sort_values("cv_macro_f1", ascending=False).iloc[0].to_dict() | {"level": level}
            for level, table in (("clip", clip), ("segment", segment)) if len(table)]
    frame = pd.DataFrame(rows)  # a table written before a column existed lacks it: leave it out
    return frame[[c for c in columns if c in frame]].sort_values("cv_macro_f1", ascending=False, ignore_index=True)
