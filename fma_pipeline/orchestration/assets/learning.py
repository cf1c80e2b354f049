"""Genre classifiers (logged to MLflow) and their evaluation, clip- and segment-level."""


import dataclasses
import tempfile
from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from fma_pipeline.core.audio.definition import DEFINITION_ATTR, DefinitionMismatch, require
from fma_pipeline.core.catalogue import (CHAMPION_CONFUSION, CHAMPION_PER_GENRE, CLASSIFIER_COMPARISON,
                                         CLASSIFIER_METRICS, GENRE_CLASSIFIER_RUNS, KEY_PREDICTOR_FAMILIES,
                                         KEY_PREDICTORS, LEVEL_COMPARISON, SEGMENT_CLASSIFIER_COMPARISON, AssetFiles)
from fma_pipeline.core.catalogue import COMPARISON_COLUMNS
from fma_pipeline.core.audio.served import SEGMENT, ServedModel
from fma_pipeline.core.learning import evaluation
from fma_pipeline.core.learning.models import SEGMENT_FAMILIES, SEGMENT_MODELS
from fma_pipeline.core.learning.novelty import guard_champion
from fma_pipeline.core.learning.calibration import calibrate
from fma_pipeline.core.learning.comparison import champion, comparison_table, level_comparison
from fma_pipeline.core.learning.problem import split_rows, tracks_needed
from fma_pipeline.core.learning.training import train_all
from fma_pipeline.core.learning.training_config import TrainingConfig
from fma_pipeline.core.tracking import load_run_model, log_training
from fma_pipeline.orchestration.assets.features import NO_SEGMENTS
from fma_pipeline.orchestration.config import mirrored
from fma_pipeline.orchestration.metadata_tables import markdown_table
from fma_pipeline.orchestration.progress import Console
from fma_pipeline.orchestration.resources import Extraction, FmaData, MlflowTracker


ClassifiersConfig = mirrored(
    TrainingConfig, "ClassifiersConfig", "Run config of genre_classifiers: every TrainingConfig field, and "
    "whether to register the champion.",
    extra={"register_champion": (bool, Field(default=True, description="Register the best as "
                                              "fma-genre-classifier@champion."))})


def _trained_definition(X, settings, matrix: str) -> str:
    """The feature definition of the training rows, which must be the extraction's: a model
    records it and the configuration ``predict`` extracts new audio with (one-line failure)."""
    try:
        require(X.attrs.get(DEFINITION_ATTR), settings.features.definition,
                f"{matrix} holds features of definition",
                "extract them again with the extraction's configuration (fma-pipeline materialise)")
    except DefinitionMismatch as exc:
        raise dg.Failure(str(exc)) from None
    return settings.features.definition


def _train_and_log(context: dg.AssetExecutionContext, console: Console, X, labels, training: TrainingConfig,
                   fma: FmaData, mlflow_tracker: MlflowTracker, *, what: str, register: bool, serve_champion: bool,
                   params: dict, model_metadata: dict) -> tuple[list, dict]:
    """Train every model; make the champion a servable model (calibrated probabilities and a
    novelty guard that says when a file is unlike the training music); log all to MLflow
    (each fitted model once)."""
    say = console.logger(context)
    models = train_all(X, labels, training, progress=say, what=what)
    if serve_champion:
        best = champion(models)
        served = guard_champion(calibrate(best, X, labels, training, progress=say), X, labels, training, say)
        models[models.index(best)] = served
    logged = log_training(mlflow_tracker.store(fma), models, X, champion=champion(models),
                          comparison=comparison_table(models), run_name=f"{what} {context.run.run_id[:8]}",
                          params={**dataclasses.asdict(training), **params},
                          model_metadata=model_metadata, register=register)
    say(f"{what}: logged {len(models)} models to MLflow (parent run {logged['parent_run_id']})")
    return models, logged


@dg.asset(group_name="learning", kinds={"sklearn", "mlflow"})
def genre_classifiers(context: dg.AssetExecutionContext, config: ClassifiersConfig, fma: FmaData,
                      extraction: Extraction, mlflow_tracker: MlflowTracker, console: Console,
                      tracks: AssetFiles, feature_matrix: AssetFiles) -> dg.Output:
    """The model zoo on the scaled and the PCA branch; one MLflow child run per model.

    Each model is a full Pipeline from the raw 708 features: its scaler (and PCA, on the
    pca branch) is refit inside every CV fold, so it reads ``feature_matrix``, not
    ``scaled_features``/``pca_features``. The champion's probabilities are calibrated on
    held-out folds before it is registered. Stores the comparison table and
    ``genre_classifiers.json`` (MLflow run ids and the champion's key: the fitted models
    themselves are stored once, in MLflow).
    """
    X = feature_matrix.read()
    labels = tracks.read().loc[X.index]
    settings = extraction.settings(fma)
    definition = _trained_definition(X, settings, "feature_matrix")
    models, logged = _train_and_log(
        context, console, X, labels, config.to_core(), fma, mlflow_tracker, what="genre_classifiers",
        register=config.register_champion, serve_champion=True,
        params={"n_tracks": len(X), "n_genres": labels["genre"].nunique()},
        model_metadata=ServedModel(settings.features, settings.limits.min_seconds,
                                   tuple(sorted(labels["genre"].unique())), feature_definition=definition).as_metadata())
    best = champion(models)
    table = comparison_table(models)
    outputs = {CLASSIFIER_COMPARISON.name: table,
               GENRE_CLASSIFIER_RUNS.name: {**logged, "champion": best.key, "feature_definition": definition}}
    return dg.Output(outputs, metadata={
        "models": len(models), "champion": best.key,
        "champion_cv_macro_f1": best.cv_macro_f1, "champion_test_accuracy": best.test["accuracy"],
        "champion_test_ece": best.test.get("ece", float("nan")),
        "champion_uncalibrated_test_ece": best.extra.get("uncalibrated", {}).get("ece", float("nan")),
        "scores": markdown_table(table[[c for c in COMPARISON_COLUMNS if c in table]]),
        "mlflow_parent_run": logged["parent_run_id"],
        "mlflow_model_version": str(logged.get("version")), "feature_definition": definition,
    })


@dg.asset(group_name="learning", kinds={"sklearn", "mlflow"})
def classifier_metrics(fma: FmaData, mlflow_tracker: MlflowTracker, tracks: AssetFiles, feature_matrix: AssetFiles,
                       genre_classifiers: AssetFiles) -> dg.Output:
    """Comparison table, per-genre scores and key predictors (permutation importance) of the champion.

    The champion is loaded from its MLflow run (stored there once); permutation importance
    uses a bounded sample of the test split (``evaluation.IMPORTANCE_ROWS`` tracks).
    """
    import mlflow

    from fma_pipeline.core.learning.plots import bar_png

    runs = genre_classifiers.read(GENRE_CLASSIFIER_RUNS.name)
    key = runs["champion"]
    X = feature_matrix.read()
    try:  # features re-extracted with another definition since the champion was trained
        require(runs.get("feature_definition"), X.attrs.get(DEFINITION_ATTR),
                f"the champion {key} was trained on features of definition",
                "retrain it (materialise genre_classifiers)")
    except DefinitionMismatch as exc:
        raise dg.Failure(str(exc)) from None
    store = mlflow_tracker.store(fma)
    model = load_run_model(store, runs["runs"][key])
    labels = tracks.read().loc[X.index]
    train_ids, test_ids = split_rows(labels)
    y_test = labels.loc[test_ids, "genre"]
    y_pred = model.predict(X.loc[test_ids])
    per_genre = evaluation.per_class(y_test, y_pred).reset_index()
    confusion = evaluation.confusion(y_test, y_pred, sorted(labels["genre"].unique()))
    families, top = evaluation.key_predictors(model, X.loc[test_ids], y_test)
    table = genre_classifiers.read()
    store.activate()
    with mlflow.start_run(run_id=runs["parent_run_id"]):
        mlflow.log_table(families, "key_predictor_families.json")
        mlflow.log_table(top, "key_predictors.json")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "key_predictor_families.png"
            bar_png(families.set_index("family")["importance"], path,
                    f"Key predictors of {key} (macro-F1 drop)", "permutation importance")
            mlflow.log_artifact(str(path))
    outputs = {CLASSIFIER_METRICS.name: table, CHAMPION_PER_GENRE.name: per_genre,
               CHAMPION_CONFUSION.name: confusion, KEY_PREDICTOR_FAMILIES.name: families, KEY_PREDICTORS.name: top}
    return dg.Output(outputs, metadata={
        "champion": key,
        "comparison": markdown_table(table[[c for c in COMPARISON_COLUMNS if c in table]]),
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


SegmentClassifiersConfig = mirrored(
    TrainingConfig, "SegmentClassifiersConfig", "Segment-level zoo: fewer models and tracks by default (every "
    "window is a training row; the timbre family sets, see models.SEGMENT_FAMILIES).",
    defaults={"models": SEGMENT_MODELS, "branches": ("scaled",), "families": SEGMENT_FAMILIES,
              "tune_tracks": SEGMENT_TUNE_TRACKS, "fit_tracks": SEGMENT_FIT_TRACKS},
    extra={"register_champion": (bool, Field(default=False, description="Register the segment champion "
                                              "instead (clip-level is the default, see README)."))})


@dg.asset(group_name="learning", kinds={"sklearn", "mlflow"})
def segment_classifiers(context: dg.AssetExecutionContext, config: SegmentClassifiersConfig, fma: FmaData,
                        extraction: Extraction, mlflow_tracker: MlflowTracker, console: Console,
                        tracks: AssetFiles, segment_matrix: AssetFiles,
                        genre_classifiers: AssetFiles) -> dg.Output:
    """Segment-level learning: models fit on 3 s windows, one vote per track, same split and CV.

    Reads only the windows of the tracks it needs (its fit sample and the test split).
    Also writes ``level_comparison.parquet``: the best clip-level and the best
    segment-level model side by side, the winner chosen by cross-validated macro-F1 on
    training data (never by test scores).

    With ``register_champion`` the segment champion (calibrated) becomes the registered
    model; ``predict``/``tag`` then cut new audio into the same windows and average their
    probabilities (the metadata carries ``level``, ``window_seconds`` and the features).
    """
    training = config.to_core()
    settings = extraction.settings(fma)
    labels = tracks.read()
    needed = tracks_needed(labels, training)
    X = segment_matrix.read(filters=[("track_id", "in", needed.tolist())])
    if not len(X):  # no audio, e.g. FMA's published features only: one line, not a failure
        context.log.warning(NO_SEGMENTS)
        levels = level_comparison(genre_classifiers.read(), pd.DataFrame())
        return dg.Output({SEGMENT_CLASSIFIER_COMPARISON.name: pd.DataFrame({"model": pd.Series(dtype=object)}),
                          LEVEL_COMPARISON.name: levels}, metadata={"models": 0, "note": NO_SEGMENTS})
    definition = _trained_definition(X, settings, "segment_matrix")
    labels = labels.loc[labels.index.intersection(X.index.get_level_values("track_id").unique())]
    models, logged = _train_and_log(
        context, console, X, labels, training, fma, mlflow_tracker, what="segment_classifiers",
        register=config.register_champion, serve_champion=config.register_champion,
        params={"n_tracks": labels.shape[0], "n_windows": len(X), "n_genres": labels["genre"].nunique()},
        model_metadata=ServedModel(settings.features, settings.limits.min_seconds,
                                   tuple(sorted(labels["genre"].unique())), level=SEGMENT,
                                   window_seconds=settings.segments.window_seconds,
                                   input="one row per 3 s window; a track's genre is the mean of its "
                                         "windows' probabilities", feature_definition=definition).as_metadata())
    table = comparison_table(models)
    levels = level_comparison(genre_classifiers.read(), table)
    winner = levels.iloc[0]
    context.log.info(f"best clip-level vs segment-level (CV macro-F1): {winner['level']} wins with {winner['model']}")
    outputs = {SEGMENT_CLASSIFIER_COMPARISON.name: table, LEVEL_COMPARISON.name: levels}
    return dg.Output(outputs, metadata={
        "models": len(models), "champion": champion(models).key, "winner_level": str(winner["level"]),
        "windows_read": len(X), "scores": markdown_table(table[[c for c in COMPARISON_COLUMNS if c in table]]),
        "levels": markdown_table(levels), "mlflow_parent_run": logged["parent_run_id"],
    })
