"""Train and evaluate the model zoo on one feature matrix.

Protocol (what makes the numbers trustworthy):
- hyper-parameters are chosen by cross-validation on the training + validation rows
  only, folds grouped by artist (``StratifiedGroupKFold``), scored by macro-F1;
- the refitted best model is scored once on the test split, which never picks anything;
- the champion is the model with the best *cross-validated* macro-F1.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold

from fma_pipeline.core.learning import evaluation
from fma_pipeline.core.learning.models import (BRANCHES, DEFAULT_MODELS, IMBALANCE, make_pipeline,
                                               search_grid, zoo)


@dataclass(frozen=True)
class TrainingConfig:
    """What to train: models, branches, PCA variance kept, CV folds, parallel jobs, seed."""

    models: tuple[str, ...] = DEFAULT_MODELS
    branches: tuple[str, ...] = BRANCHES
    pca_variance: float = 0.95
    cv_folds: int = 5
    n_jobs: int = -1
    seed: int = 0


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
        return {"model": self.model, "branch": self.branch, **self.test,
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


def train_one(name: str, branch: str, X: pd.DataFrame, labels: pd.DataFrame,
              config: TrainingConfig = TrainingConfig()) -> TrainedModel:
    """Grid-search one model on one branch, refit on train+validation, score on test."""
    spec = zoo(config.seed)[name]
    train_ids, test_ids = split_rows(labels)
    X_train, y_train = X.loc[train_ids], labels.loc[train_ids, "genre"]
    groups = labels.loc[train_ids, "artist_id"]
    pipeline = make_pipeline(spec.build(), branch, config.pca_variance, config.seed)
    search = GridSearchCV(pipeline, search_grid(spec), scoring="f1_macro",
                          cv=cv_splitter(y_train, groups, config.cv_folds, config.seed),
                          n_jobs=config.n_jobs, refit=False, error_score="raise")
    started = time.perf_counter()
    search.fit(X_train, y_train, groups=groups)
    best = clone(pipeline).set_params(**search.best_params_)
    fit_started = time.perf_counter()
    best.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - fit_started
    X_test, y_test = X.loc[test_ids], labels.loc[test_ids, "genre"]
    predict_started = time.perf_counter()
    y_pred = best.predict(X_test) if len(X_test) else np.array([], dtype=object)
    predict_seconds = time.perf_counter() - predict_started
    i = search.best_index_
    classes = sorted(labels["genre"].unique())
    return TrainedModel(
        model=name, branch=branch, pipeline=best,
        best_params={k.removeprefix("model__"): v for k, v in search.best_params_.items()},
        cv_macro_f1=float(search.cv_results_["mean_test_score"][i]),
        cv_macro_f1_std=float(search.cv_results_["std_test_score"][i]),
        test=evaluation.score(y_test, y_pred, y_train),
        per_class=evaluation.per_class(y_test, y_pred),
        confusion=evaluation.confusion(y_test, y_pred, classes),
        fit_seconds=fit_seconds, predict_seconds=predict_seconds,
        imbalance=IMBALANCE.get(name, "none"),
        extra={"search_seconds": time.perf_counter() - started, "n_train": len(train_ids),
               "n_test": len(test_ids), "cv_folds": search.n_splits_},
    )


def train_all(X: pd.DataFrame, labels: pd.DataFrame, config: TrainingConfig = TrainingConfig()
              ) -> list[TrainedModel]:
    """Every configured model on every configured branch."""
    unknown = set(config.models) - set(zoo())
    if unknown:
        raise ValueError(f"unknown models {sorted(unknown)}; choose from {sorted(zoo())}")
    labels = labels.loc[labels.index.intersection(X.index)]
    X = X.loc[labels.index]
    return [train_one(m, b, X, labels, config) for b in config.branches for m in config.models]


def champion(models: list[TrainedModel]) -> TrainedModel:
    """The best model by cross-validated macro-F1 on training data (never by test scores)."""
    return max(models, key=lambda m: m.cv_macro_f1)


def comparison_table(models: list[TrainedModel]) -> pd.DataFrame:
    """One row per model and branch, best cross-validated macro-F1 first."""
    table = pd.DataFrame([m.summary() for m in models])
    return table.sort_values("cv_macro_f1", ascending=False, ignore_index=True)
