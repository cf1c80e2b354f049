"""Genre classifiers (logged to MLflow) and their evaluation, clip- and segment-level."""


import dataclasses

import dagster as dg
import joblib
from pydantic import Field

from fma_pipeline.core.features import N_FEATURES
from fma_pipeline.core.learning import evaluation
from fma_pipeline.core.learning.families import FAMILY_SETS
from fma_pipeline.core.learning.models import BRANCHES, DEFAULT_MODELS, SEGMENT_FAMILIES, SEGMENT_MODELS
from fma_pipeline.core.learning.training import (TrainingConfig, champion, comparison_table, level_comparison,
                                                 split_rows, train_all)
from fma_pipeline.core.storage import atomic_path, read_parquet, write_parquet
from fma_pipeline.core.tracking import log_training
from fma_pipeline.orchestration.assets.matrices import pca_features, scaled_features
from fma_pipeline.orchestration.metadata_tables import markdown_table
from fma_pipeline.orchestration.resources import Extraction, FmaData, MlflowTracker

SHOWN = ["model", "branch", "accuracy", "balanced_accuracy", "macro_f1", "majority_baseline", "cv_macro_f1"]


class ClassifiersConfig(dg.Config):
    models: list[str] = Field(default=list(DEFAULT_MODELS), description="Zoo entries to train.")
    branches: list[str] = Field(default=list(BRANCHES), description="scaled and/or pca.")
    pca_variance: float = Field(default=0.95, description="Variance kept by the PCA branch.")
    cv_folds: int = Field(default=5, description="Artist-grouped CV folds for the grid search.")
    n_jobs: int = Field(default=-1, description="Parallel grid-search jobs (-1 = all cores).")
    seed: int = 0
    ensemble_size: int = Field(default=3, description="Soft-voting ensemble of the best N models; 0 = none.")
    search: str = Field(default="grid", description="'grid': each model's small grid; 'random': a randomised "
                                                    "search over its wider space.")
    search_iterations: int = Field(default=12, description="Random search budget: candidates per model and branch.")
    families: list[str] = Field(default=list(FAMILY_SETS), description="Feature family sets the search may choose "
                                "from: fma, fma_timbre, all, timbre (see README, Design).")
    register_champion: bool = Field(default=True, description="Register the best as fma-genre-classifier@champion.")

    def training(self) -> TrainingConfig:
        return TrainingConfig(models=tuple(self.models), branches=tuple(self.branches),
                              pca_variance=self.pca_variance, cv_folds=self.cv_folds,
                              n_jobs=self.n_jobs, seed=self.seed, ensemble_size=self.ensemble_size,
                              search=self.search, search_iterations=self.search_iterations,
                              families=tuple(self.families))


@dg.asset(group_name="learning", deps=[scaled_features, pca_features], kinds={"sklearn", "mlflow"})
def genre_classifiers(context: dg.AssetExecutionContext, config: ClassifiersConfig, fma: FmaData,
                      extraction: Extraction, mlflow_tracker: MlflowTracker) -> dg.MaterializeResult:
    """The model zoo on the scaled and the PCA branch; one MLflow child run per model.

    Each model is a full Pipeline from the raw 708 features (scaler and PCA refit inside
    every CV fold, fit on the same training rows as ``scaled_features``/``pca_features``).
    """
    X = read_parquet(fma.output("feature_matrix.parquet"))
    labels = read_parquet(fma.output("tracks.parquet")).loc[X.index]
    models = train_all(X, labels, config.training())
    settings = extraction.settings(fma)
    metadata = {"feature_config": settings.features.as_dict(),
                "min_seconds": settings.limits.min_seconds, "classes": sorted(labels["genre"].unique()),
                "feature_names": "fma_pipeline.core.features.flat_feature_names"}
    logged = log_training(mlflow_tracker.store(fma), models, X, run_name=f"genre_classifiers {context.run.run_id[:8]}",
                          params={**config.training().__dict__, "n_tracks": len(X),
                                  "n_genres": labels["genre"].nunique()},
                          model_metadata=metadata, register=config.register_champion)
    with atomic_path(fma.output("genre_classifiers.joblib")) as tmp:
        joblib.dump({"models": models, "mlflow": logged}, tmp)
    table = comparison_table(models)
    write_parquet(table, fma.output("classifier_comparison.parquet"))
    best = champion(models)
    return dg.MaterializeResult(metadata={
        "models": len(models), "champion": best.key,
        "champion_cv_macro_f1": best.cv_macro_f1, "champion_test_accuracy": best.test["accuracy"],
        "scores": markdown_table(table[SHOWN]),
        "mlflow_parent_run": logged["parent_run_id"],
        "mlflow_model_version": str(logged.get("version")),
    })


@dg.asset(group_name="learning", deps=[genre_classifiers], kinds={"sklearn", "mlflow"})
def classifier_metrics(fma: FmaData, mlflow_tracker: MlflowTracker) -> dg.MaterializeResult:
    """Comparison table, per-genre scores and key predictors (permutation importance) of the champion."""
    import mlflow

    from fma_pipeline.core.learning.plots import bar_png

    saved = joblib.load(fma.output("genre_classifiers.joblib"))
    models, logged = saved["models"], saved["mlflow"]
    best = champion(models)
    X = read_parquet(fma.output("feature_matrix.parquet"))
    labels = read_parquet(fma.output("tracks.parquet")).loc[X.index]
    _, test_ids = split_rows(labels)
    families, top = evaluation.key_predictors(best.pipeline, X.loc[test_ids], labels.loc[test_ids, "genre"])
    per_genre = best.per_class.reset_index()
    write_parquet(comparison_table(models), fma.output("classifier_metrics.parquet"))
    write_parquet(per_genre, fma.output("champion_per_genre.parquet"))
    write_parquet(best.confusion, fma.output("champion_confusion.parquet"))
    write_parquet(families, fma.output("key_predictor_families.parquet"))
    write_parquet(top, fma.output("key_predictors.parquet"))
    mlflow_tracker.store(fma).activate()
    with mlflow.start_run(run_id=logged["parent_run_id"]):
        mlflow.log_table(families, "key_predictor_families.json")
        mlflow.log_table(top, "key_predictors.json")
        path = fma.pipeline_dir / "key_predictor_families.png"
        bar_png(families.set_index("family")["importance"], path,
                f"Key predictors of {best.key} (macro-F1 drop)", "permutation importance")
        mlflow.log_artifact(str(path))
    return dg.MaterializeResult(metadata={
        "champion": best.key,
        "comparison": markdown_table(comparison_table(models)[SHOWN]),
        "per_genre": markdown_table(per_genre),
        "confusion": markdown_table(best.confusion, floatfmt="d"),
        "key_predictor_families": markdown_table(families),
        "top_features": markdown_table(top[["feature", "importance", "std"]], floatfmt=".4f"),
    })


class SegmentClassifiersConfig(ClassifiersConfig):
    """Segment-level zoo: fewer models by default (every window is a training row)."""

    models: list[str] = Field(default=list(SEGMENT_MODELS), description="Zoo entries to train on windows.")
    branches: list[str] = Field(default=["scaled"], description="scaled and/or pca.")
    families: list[str] = Field(default=list(SEGMENT_FAMILIES), description="Feature family sets the search may "
                                "choose from (the timbre sets by default: see models.SEGMENT_FAMILIES).")
    register_champion: bool = Field(
        default=False, description="Register the segment champion instead (clip-level is the default, see README).")


@dg.asset(group_name="learning", deps=["segment_matrix", genre_classifiers], kinds={"sklearn", "mlflow"})
def segment_classifiers(context: dg.AssetExecutionContext, config: SegmentClassifiersConfig, fma: FmaData,
                        mlflow_tracker: MlflowTracker) -> dg.MaterializeResult:
    """Segment-level learning: models fit on 3 s windows, one vote per track, same split and CV.

    Also writes ``level_comparison.parquet``: the best clip-level and the best
    segment-level model side by side, the winner chosen by cross-validated macro-F1 on
    training data (never by test scores).
    """
    X = read_parquet(fma.output("segment_matrix.parquet"))
    labels = read_parquet(fma.output("tracks.parquet")).loc[X.index]
    training = dataclasses.replace(config.training(), level="segment")
    models = train_all(X, labels, training)
    logged = log_training(mlflow_tracker.store(fma), models, X,
                          run_name=f"segment_classifiers {context.run.run_id[:8]}",
                          params={**training.__dict__, "n_tracks": len(X), "n_genres": labels["genre"].nunique(),
                                  "windows_per_track": X.shape[1] // N_FEATURES},
                          model_metadata={"level": "segment", "classes": sorted(labels["genre"].unique()),
                                          "feature_names": "fma_pipeline.core.learning.segments.wide_segments"},
                          register=config.register_champion)
    table = comparison_table(models)
    write_parquet(table, fma.output("segment_classifier_comparison.parquet"))
    clip = read_parquet(fma.output("classifier_comparison.parquet"))
    levels = level_comparison(clip, table)
    write_parquet(levels, fma.output("level_comparison.parquet"))
    winner = levels.iloc[0]
    context.log.info(f"best clip-level vs segment-level (CV macro-F1): {winner['level']} wins with {winner['model']}")
    return dg.MaterializeResult(metadata={
        "models": len(models), "champion": champion(models).key, "winner_level": str(winner["level"]),
        "scores": markdown_table(table[SHOWN]), "levels": markdown_table(levels),
        "mlflow_parent_run": logged["parent_run_id"],
    })
