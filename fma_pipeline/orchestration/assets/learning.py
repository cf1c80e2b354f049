"""Genre classifiers (logged to MLflow) and their evaluation, clip- and segment-level."""


import dataclasses
import json

import dagster as dg
from pydantic import Field

from fma_pipeline.core.learning import evaluation
from fma_pipeline.core.learning.families import FAMILY_SETS
from fma_pipeline.core.learning.models import BRANCHES, DEFAULT_MODELS, SEGMENT_FAMILIES, SEGMENT_MODELS
from fma_pipeline.core.learning.training import (TrainingConfig, calibrate, champion, comparison_table,
                                                 level_comparison, split_rows, tracks_needed, train_all)
from fma_pipeline.core.storage import atomic_path, read_parquet, write_parquet
from fma_pipeline.core.tracking import load_run_model, log_training
from fma_pipeline.orchestration.assets.matrices import pca_features, scaled_features
from fma_pipeline.orchestration.metadata_tables import markdown_table
from fma_pipeline.orchestration.progress import progress_logger
from fma_pipeline.orchestration.resources import Extraction, FmaData, MlflowTracker

SHOWN = ["model", "branch", "accuracy", "balanced_accuracy", "macro_f1", "majority_baseline", "n_test",
         "cv_macro_f1", "ece"]
#: What genre_classifiers hands to classifier_metrics: MLflow run ids and the champion's key
#: (the fitted models themselves are stored once, in MLflow).
RUNS_FILE = "genre_classifiers.json"


class ClassifiersConfig(dg.Config):
    models: list[str] = Field(default=list(DEFAULT_MODELS), description="Zoo entries to train.")
    branches: list[str] = Field(default=list(BRANCHES), description="scaled and/or pca.")
    pca_variance: float = Field(default=0.95, description="Variance kept by the PCA branch.")
    cv_folds: int = Field(default=TrainingConfig.cv_folds, description="Artist-grouped CV folds of the search.")
    n_jobs: int = Field(default=-1, description="Parallel search jobs (-1 = all cores).")
    seed: int = 0
    ensemble_size: int = Field(default=3, description="Soft-voting ensemble of the best N models; 0 = none.")
    search: str = Field(default="grid", description="'grid': each model's small grid; 'random': a randomised "
                                                    "search over its wider space.")
    search_iterations: int = Field(default=12, description="Random search budget: candidates per model and branch.")
    families: list[str] = Field(default=list(FAMILY_SETS), description="Feature family sets the search may choose "
                                "from: fma, fma_timbre, all, timbre (see README, Design).")
    tune_tracks: int = Field(default=TrainingConfig.tune_tracks, description="The search runs on an artist-grouped "
                             "sample of at most this many training tracks, then the best is refit on all; 0 = all.")
    fit_tracks: int = Field(default=TrainingConfig.fit_tracks, description="The final fit's sample of training "
                            "tracks; 0 = all.")
    calibration_folds: int = Field(default=TrainingConfig.calibration_folds, description="Held-out folds that "
                                   "calibrate the champion's probabilities (temperature scaling); 0 = off.")
    register_champion: bool = Field(default=True, description="Register the best as fma-genre-classifier@champion.")

    def training(self) -> TrainingConfig:
        fields = {f.name for f in dataclasses.fields(TrainingConfig)}
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in self.model_dump().items() if k in fields}
        return TrainingConfig(**values)


def _train_and_log(context: dg.AssetExecutionContext, X, labels, training: TrainingConfig, fma: FmaData,
                   mlflow_tracker: MlflowTracker, *, what: str, register: bool, calibrate_champion: bool,
                   params: dict, model_metadata: dict) -> tuple[list, dict]:
    """Train every model, calibrate the champion, log all to MLflow (each fitted model once)."""
    say = progress_logger(context)
    models = train_all(X, labels, training, progress=say, what=what)
    if calibrate_champion:
        best = champion(models)
        models[models.index(best)] = calibrate(best, X, labels, training, progress=say)
    logged = log_training(mlflow_tracker.store(fma), models, X, run_name=f"{what} {context.run.run_id[:8]}",
                          params={**dataclasses.asdict(training), **params},
                          model_metadata=model_metadata, register=register)
    say(f"{what}: logged {len(models)} models to MLflow (parent run {logged['parent_run_id']})")
    return models, logged


@dg.asset(group_name="learning", deps=[scaled_features, pca_features], kinds={"sklearn", "mlflow"})
def genre_classifiers(context: dg.AssetExecutionContext, config: ClassifiersConfig, fma: FmaData,
                      extraction: Extraction, mlflow_tracker: MlflowTracker) -> dg.MaterializeResult:
    """The model zoo on the scaled and the PCA branch; one MLflow child run per model.

    Each model is a full Pipeline from the raw 708 features (scaler and PCA refit inside
    every CV fold, fit on the same training rows as ``scaled_features``/``pca_features``).
    The champion's probabilities are calibrated on held-out folds before it is registered.
    """
    X = read_parquet(fma.output("feature_matrix.parquet"))
    labels = read_parquet(fma.output("tracks.parquet")).loc[X.index]
    settings = extraction.settings(fma)
    models, logged = _train_and_log(
        context, X, labels, config.training(), fma, mlflow_tracker, what="genre_classifiers",
        register=config.register_champion, calibrate_champion=True,
        params={"n_tracks": len(X), "n_genres": labels["genre"].nunique()},
        model_metadata={"feature_config": settings.features.as_dict(), "min_seconds": settings.limits.min_seconds,
                        "classes": sorted(labels["genre"].unique()),
                        "feature_names": "fma_pipeline.core.features.flat_feature_names"})
    best = champion(models)
    with atomic_path(fma.output(RUNS_FILE)) as tmp:
        tmp.write_text(json.dumps({**logged, "champion": best.key}, indent=2))
    table = comparison_table(models)
    write_parquet(table, fma.output("classifier_comparison.parquet"))
    return dg.MaterializeResult(metadata={
        "models": len(models), "champion": best.key,
        "champion_cv_macro_f1": best.cv_macro_f1, "champion_test_accuracy": best.test["accuracy"],
        "champion_test_ece": best.test.get("ece", float("nan")),
        "champion_uncalibrated_test_ece": best.extra.get("uncalibrated", {}).get("ece", float("nan")),
        "scores": markdown_table(table[[c for c in SHOWN if c in table]]),
        "mlflow_parent_run": logged["parent_run_id"],
        "mlflow_model_version": str(logged.get("version")),
    })


@dg.asset(group_name="learning", deps=[genre_classifiers], kinds={"sklearn", "mlflow"})
def classifier_metrics(fma: FmaData, mlflow_tracker: MlflowTracker) -> dg.MaterializeResult:
    """Comparison table, per-genre scores and key predictors (permutation importance) of the champion.

    The champion is loaded from its MLflow run (stored there once); permutation importance
    uses a bounded sample of the test split (``evaluation.IMPORTANCE_ROWS`` tracks).
    """
    import mlflow

    from fma_pipeline.core.learning.plots import bar_png

    runs = json.loads(fma.output(RUNS_FILE).read_text())
    key = runs["champion"]
    store = mlflow_tracker.store(fma)
    model = load_run_model(store, runs["runs"][key])
    X = read_parquet(fma.output("feature_matrix.parquet"))
    labels = read_parquet(fma.output("tracks.parquet")).loc[X.index]
    train_ids, test_ids = split_rows(labels)
    y_test = labels.loc[test_ids, "genre"]
    y_pred = model.predict(X.loc[test_ids])
    per_genre = evaluation.per_class(y_test, y_pred).reset_index()
    confusion = evaluation.confusion(y_test, y_pred, sorted(labels["genre"].unique()))
    families, top = evaluation.key_predictors(model, X.loc[test_ids], y_test)
    table = read_parquet(fma.output("classifier_comparison.parquet"))
    write_parquet(table, fma.output("classifier_metrics.parquet"))
    write_parquet(per_genre, fma.output("champion_per_genre.parquet"))
    write_parquet(confusion, fma.output("champion_confusion.parquet"))
    write_parquet(families, fma.output("key_predictor_families.parquet"))
    write_parquet(top, fma.output("key_predictors.parquet"))
    store.activate()
    with mlflow.start_run(run_id=runs["parent_run_id"]):
        mlflow.log_table(families, "key_predictor_families.json")
        mlflow.log_table(top, "key_predictors.json")
        path = fma.pipeline_dir / "key_predictor_families.png"
        bar_png(families.set_index("family")["importance"], path,
                f"Key predictors of {key} (macro-F1 drop)", "permutation importance")
        mlflow.log_artifact(str(path))
    return dg.MaterializeResult(metadata={
        "champion": key,
        "comparison": markdown_table(table[[c for c in SHOWN if c in table]]),
        "per_genre": markdown_table(per_genre),
        "confusion": markdown_table(confusion, floatfmt="d"),
        "key_predictor_families": markdown_table(families),
        "top_features": markdown_table(top[["feature", "importance", "std"]], floatfmt=".4f"),
        "importance_rows": min(len(test_ids), evaluation.IMPORTANCE_ROWS),
    })


#: Segment-level search budget: windows are 10x the rows of clips, so the search samples
#: fewer tracks (1,000 tracks = ~10,000 windows) and the final fit uses at most 6,000
#: training tracks' windows (~60,000 rows; all of them below that size).
SEGMENT_TUNE_TRACKS = 1000
SEGMENT_FIT_TRACKS = 6000


class SegmentClassifiersConfig(ClassifiersConfig):
    """Segment-level zoo: fewer models and tracks by default (every window is a training row)."""

    models: list[str] = Field(default=list(SEGMENT_MODELS), description="Zoo entries to train on windows.")
    branches: list[str] = Field(default=["scaled"], description="scaled and/or pca.")
    families: list[str] = Field(default=list(SEGMENT_FAMILIES), description="Feature family sets the search may "
                                "choose from (the timbre sets by default: see models.SEGMENT_FAMILIES).")
    tune_tracks: int = Field(default=SEGMENT_TUNE_TRACKS, description="Tracks whose windows the search uses; 0 = all.")
    fit_tracks: int = Field(default=SEGMENT_FIT_TRACKS, description="Training tracks whose windows the final fit "
                            "uses; 0 = all.")
    register_champion: bool = Field(
        default=False, description="Register the segment champion instead (clip-level is the default, see README).")


@dg.asset(group_name="learning", deps=["segment_matrix", genre_classifiers], kinds={"sklearn", "mlflow"})
def segment_classifiers(context: dg.AssetExecutionContext, config: SegmentClassifiersConfig, fma: FmaData,
                        mlflow_tracker: MlflowTracker) -> dg.MaterializeResult:
    """Segment-level learning: models fit on 3 s windows, one vote per track, same split and CV.

    Reads only the windows of the tracks it needs (its fit sample and the test split).
    Also writes ``level_comparison.parquet``: the best clip-level and the best
    segment-level model side by side, the winner chosen by cross-validated macro-F1 on
    training data (never by test scores).
    """
    training = config.training()
    labels = read_parquet(fma.output("tracks.parquet"))
    needed = tracks_needed(labels, training)
    X = read_parquet(fma.output("segment_matrix.parquet"), filters=[("track_id", "in", needed.tolist())])
    labels = labels.loc[labels.index.intersection(X.index.get_level_values("track_id").unique())]
    models, logged = _train_and_log(
        context, X, labels, training, fma, mlflow_tracker, what="segment_classifiers",
        register=config.register_champion, calibrate_champion=config.register_champion,
        params={"n_tracks": labels.shape[0], "n_windows": len(X), "n_genres": labels["genre"].nunique()},
        model_metadata={"level": "segment", "classes": sorted(labels["genre"].unique()),
                        "feature_names": "fma_pipeline.core.features.flat_feature_names",
                        "input": "one row per 3 s window; a track's genre is the mean of its windows' probabilities"})
    table = comparison_table(models)
    write_parquet(table, fma.output("segment_classifier_comparison.parquet"))
    clip = read_parquet(fma.output("classifier_comparison.parquet"))
    levels = level_comparison(clip, table)
    write_parquet(levels, fma.output("level_comparison.parquet"))
    winner = levels.iloc[0]
    context.log.info(f"best clip-level vs segment-level (CV macro-F1): {winner['level']} wins with {winner['model']}")
    return dg.MaterializeResult(metadata={
        "models": len(models), "champion": champion(models).key, "winner_level": str(winner["level"]),
        "windows_read": len(X), "scores": markdown_table(table[[c for c in SHOWN if c in table]]),
        "levels": markdown_table(levels), "mlflow_parent_run": logged["parent_run_id"],
    })
