"""Sub-genre classifiers: one per top-level genre, one flat, one hierarchical.

Same protocol as the genre zoo (:mod:`fma_pipeline.core.learning.training`): FMA's
artist-filtered split, hyper-parameters and the model chosen by artist-grouped CV
macro-F1 on training + validation, one score on test. The scope is the tracks with a
sub-genre under a parent that has a classifier, so the three approaches answer the same
question on the same tracks:

- per parent: the parent is known, only its sub-genres compete;
- flat: one classifier over every sub-genre in scope;
- hierarchical: a top-level classifier (trained here on all tracks of those parents,
  with or without a sub-genre) picks the parent, then that parent's classifier decides.

Small data degrades instead of failing: a sub-genre with fewer than two training
artists cannot be cross-validated by artist and is left out of its classifier; a parent
with fewer than two sub-genres left, or no test track, is skipped with its reason.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from fma_pipeline.core.learning import evaluation
from fma_pipeline.core.learning.comparison import champion
from fma_pipeline.core.learning.problem import split_rows, training_data
from fma_pipeline.core.learning.search import train_branch
from fma_pipeline.core.learning.trained_model import TrainedModel
from fma_pipeline.core.learning.training_config import TrainingConfig
from fma_pipeline.core.progress import Progress, Reporter
from fma_pipeline.core.settings import documented, field_doc

FLAT, HIERARCHICAL, TOP = "(flat)", "(hierarchical)", "(top level)"
TABLE_COLUMNS: list[str] = ["parent", "classes", "n_train", "n_test", "accuracy", "balanced_accuracy",
                            "macro_f1", "majority_baseline", "model", "cv_macro_f1"]


def _same(name: str):
    """A field shared with :class:`TrainingConfig`: its default and documentation."""
    return documented(TrainingConfig.__dataclass_fields__[name].default, field_doc(TrainingConfig, name))


@dataclass(frozen=True)
class SubgenreConfig:
    """A small model set, chosen per classifier by artist-grouped CV macro-F1.

    Each field's documentation: ``settings.field_doc(SubgenreConfig, name)``.

    Parameters
    ----------
    models : tuple of str
        Zoo entries; the best by artist-grouped CV macro-F1 is kept.
    branch : str
        ``scaled`` or ``pca`` pipeline.
    pca_variance : float
        Variance kept by the PCA branch.
    cv_folds : int
        Artist-grouped CV folds (fewer when artists are few).
    n_jobs : int
        Parallel search jobs (-1 = all cores).
    seed : int
        Seed of samples, folds and models.
    search : str
        ``grid`` or ``random``.
    search_iterations : int
        Random search budget: candidates per model.
    families : tuple of str
        Feature family sets the search may choose from.
    tune_tracks : int
        Each classifier's search runs on an artist-grouped sample of at most this many
        training tracks; 0 = all.
    """

    models: tuple[str, ...] = documented(("logistic_regression", "svm"), "Zoo entries; the best by "
                                         "artist-grouped CV macro-F1 is kept.")
    branch: str = documented("scaled", "scaled or pca pipeline.")
    pca_variance: float = _same("pca_variance")
    cv_folds: int = documented(TrainingConfig.cv_folds, "Artist-grouped CV folds (fewer when artists are few).")
    n_jobs: int = _same("n_jobs")
    seed: int = _same("seed")
    search: str = _same("search")
    search_iterations: int = documented(12, "Random search budget: candidates per model.")
    families: tuple[str, ...] = _same("families")
    tune_tracks: int = documented(TrainingConfig.tune_tracks, "Each classifier's search runs on an "
                                  "artist-grouped sample of at most this many training tracks; 0 = all.")

    def training(self) -> TrainingConfig:
        """The equivalent :class:`TrainingConfig`: one branch, no ensemble, no calibration.

        Returns
        -------
        TrainingConfig
        """
        return TrainingConfig(models=self.models, branches=(self.branch,), pca_variance=self.pca_variance,
                              cv_folds=self.cv_folds, n_jobs=self.n_jobs, seed=self.seed, ensemble_size=0,
                              search=self.search, search_iterations=self.search_iterations,
                              families=self.families, tune_tracks=self.tune_tracks, calibration_folds=0)


class HierarchicalClassifier(ClassifierMixin, BaseEstimator):
    """Top-level genre first, then that genre's sub-genre classifier (fitted pipelines, predict only).

    Parameters
    ----------
    top : estimator or None, default None
        Fitted top-level classifier; None when there is a single parent.
    per_parent : dict or None, default None
        Parent genre -> its fitted sub-genre classifier.
    """

    def __init__(self, top=None, per_parent: dict | None = None):
        self.top = top
        self.per_parent = per_parent or {}

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Sub-genre of each row, from the classifier of its predicted parent.

        Parameters
        ----------
        X : pandas.DataFrame
            Feature rows.

        Returns
        -------
        numpy.ndarray
            Object array of sub-genre titles, one per row.
        """
        parents = (self.top.predict(X) if self.top is not None
                   else np.full(len(X), next(iter(self.per_parent)), dtype=object))
        out = np.empty(len(X), dtype=object)
        for parent in pd.unique(parents):
            rows = np.asarray(parents == parent)
            out[rows] = self.per_parent[parent].predict(X[rows])
        return out


@dataclass
class SubgenreResults:
    """Trained classifiers by name (parent title, FLAT, TOP, HIERARCHICAL), the table, skip reasons.

    Parameters
    ----------
    models : dict of str to TrainedModel
        Classifier name -> trained model.
    table : pandas.DataFrame
        One row per trained classifier, columns :data:`TABLE_COLUMNS`.
    skipped : dict of str to str
        Classifier name -> why it was not trained.
    """

    models: dict[str, TrainedModel] = field(default_factory=dict)
    table: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=TABLE_COLUMNS))
    skipped: dict[str, str] = field(default_factory=dict)


def target_frame(labels: pd.DataFrame, column: str) -> pd.DataFrame:
    """The layout :func:`train_one` expects: the target as ``genre``, with split and artist.

    Parameters
    ----------
    labels : pandas.DataFrame
        A ``subgenre_labels`` table (``split``, ``artist_id`` and ``column``).
    column : str
        The column to learn (``subgenre`` or ``genre``).

    Returns
    -------
    pandas.DataFrame
        Columns ``genre``, ``split``, ``artist_id``, indexed like ``labels``.
    """
    return pd.DataFrame({"genre": labels[column].astype(str), "split": labels["split"].astype(str),
                         "artist_id": labels["artist_id"]}, index=labels.index)


def trainable(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Drop classes with fewer than two training artists (artist-grouped CV needs two).

    Parameters
    ----------
    frame : pandas.DataFrame
        A :func:`target_frame`.

    Returns
    -------
    kept : pandas.DataFrame
        The rows of the classes kept.
    dropped : list of str
        The classes left out, sorted.
    """
    train_ids, _ = split_rows(frame)
    artists = frame.loc[train_ids].groupby("genre")["artist_id"].nunique()
    keep = set(artists.index[artists >= 2])
    return frame[frame["genre"].isin(keep)], sorted(set(frame["genre"]) - keep)


def fit_best(X: pd.DataFrame, frame: pd.DataFrame, config: SubgenreConfig) -> TrainedModel | str:
    """The configured model with the best CV macro-F1 on ``frame``'s classes, or why none could be.

    Parameters
    ----------
    X : pandas.DataFrame
        Feature matrix, covering ``frame``'s tracks.
    frame : pandas.DataFrame
        A :func:`target_frame`.
    config : SubgenreConfig
        Models, branch, folds and search.

    Returns
    -------
    TrainedModel or str
        The best model (its ``extra`` holds ``ids``, ``classes``, ``left_out`` and
        ``candidates``), or the reason no model was trained.
    """
    frame, dropped = trainable(frame)
    if frame["genre"].nunique() < 2:
        return f"fewer than 2 classes with 2+ training artists (left out: {', '.join(dropped) or 'none'})"
    if not len(split_rows(frame)[1]):
        return "no test track"
    try:
        models = train_branch(config.models, config.branch, training_data(X.loc[frame.index], frame, config.training()))
    except ValueError as exc:  # a fold sklearn cannot fit (e.g. one class left): skip, keep the reason
        return f"training failed: {exc}"
    best = champion(models)
    best.extra.update(ids=frame.index, classes=sorted(frame["genre"].unique()), left_out=dropped,
                      candidates={m.model: round(m.cv_macro_f1, 4) for m in models})
    return best


def _hierarchical(X: pd.DataFrame, flat: TrainedModel, top: TrainedModel | None,
                  per_parent: dict[str, TrainedModel], labels: pd.DataFrame) -> TrainedModel:
    """Score the top-level → sub-genre chain end to end on the flat classifier's test tracks."""
    model = HierarchicalClassifier(top.pipeline if top else None, {p: m.pipeline for p, m in per_parent.items()})
    frame = target_frame(labels.loc[flat.extra["ids"]], "subgenre")
    train_ids, test_ids = split_rows(frame)
    started = time.perf_counter()
    y_pred = model.predict(X.loc[test_ids])
    y_test, y_train = frame.loc[test_ids, "genre"], frame.loc[train_ids, "genre"]
    return TrainedModel(
        model="hierarchical", branch=flat.branch, pipeline=model,
        best_params={"top": top.model if top else "single parent", **{p: m.model for p, m in per_parent.items()}},
        cv_macro_f1=float("nan"), cv_macro_f1_std=float("nan"), test=evaluation.score(y_test, y_pred, y_train),
        per_class=evaluation.per_class(y_test, y_pred),
        confusion=evaluation.confusion(y_test, y_pred, flat.extra["classes"]),
        fit_seconds=0.0, predict_seconds=time.perf_counter() - started, imbalance="inherited",
        extra={"n_train": len(train_ids), "n_test": len(test_ids), "ids": frame.index,
               "classes": flat.extra["classes"]})


def _row(name: str, m: TrainedModel) -> dict:
    return {"parent": name, "classes": len(m.extra["classes"]), "n_train": m.extra["n_train"],
            "n_test": m.extra["n_test"], **m.test, "model": m.model, "cv_macro_f1": m.cv_macro_f1}


def train_subgenres(X: pd.DataFrame, labels: pd.DataFrame, config: SubgenreConfig = SubgenreConfig(),
                    progress: Progress | None = None) -> SubgenreResults:
    """Every classifier of the study; ``labels`` is a ``subgenre_labels`` table.

    ``progress`` receives a line per classifier (its best model and scores, or why it was skipped).

    Parameters
    ----------
    X : pandas.DataFrame
        Feature matrix, indexed by track id.
    labels : pandas.DataFrame
        A ``subgenre_labels`` table.
    config : SubgenreConfig, default SubgenreConfig()
        Models, branch, folds and search.
    progress : Progress or None, default None
        Receives the progress lines.

    Returns
    -------
    SubgenreResults
    """
    labels = labels.loc[labels.index.intersection(X.index)]
    with_sub = labels[labels["has_subgenre"].astype(bool)]
    results, per_parent = SubgenreResults(), {}
    # One unit per classifier: a parent each, and the flat and top-level ones.
    report = Reporter(progress, with_sub["genre"].nunique() + 2, "subgenre_classifiers")

    def fit(name: str, frame: pd.DataFrame) -> TrainedModel | str:
        trained = fit_best(X, frame, config)
        outcome = (f"skipped: {trained}" if isinstance(trained, str) else
                   f"{trained.model}, CV macro-F1 {trained.cv_macro_f1:.3f}, test accuracy "
                   f"{trained.test['accuracy']:.3f} on {trained.extra['n_test']} tracks")
        report.say(f"{name}: {outcome}", units=1)
        return trained

    for parent, group in with_sub.groupby("genre"):
        if group["subgenre"].nunique() < 2:
            results.skipped[parent] = f"only one sub-genre with enough tracks ({group['subgenre'].iloc[0]})"
            continue
        trained = fit(parent, target_frame(group, "subgenre"))
        if isinstance(trained, str):
            results.skipped[parent] = trained
        else:
            per_parent[parent] = trained
    if not per_parent:
        return results
    scope = pd.Index(np.concatenate([m.extra["ids"] for m in per_parent.values()]))
    flat = fit(FLAT, target_frame(labels.loc[scope], "subgenre"))
    top = fit(TOP, target_frame(labels[labels["genre"].isin(per_parent)], "genre")) if len(per_parent) > 1 else None
    results.models = dict(sorted(per_parent.items()))
    for name, trained in ((TOP, top), (FLAT, flat)):
        if isinstance(trained, str):
            results.skipped[name] = trained
        elif trained is not None:
            results.models[name] = trained
    if not isinstance(flat, str) and not isinstance(top, str):
        results.models[HIERARCHICAL] = _hierarchical(X, flat, top, per_parent, labels)
    elif HIERARCHICAL not in results.skipped:
        results.skipped[HIERARCHICAL] = "needs the flat scope and the top-level classifier"
    results.table = pd.DataFrame([_row(n, m) for n, m in results.models.items()], columns=TABLE_COLUMNS)
    return results
