"""The whole asset graph on a tiny sample, through a real Dagster instance and MLflow store."""

from __future__ import annotations


import dagster as dg
import mlflow
import pandas as pd
import pytest

from fma_pipeline.core.audio.extraction import FILE_COLUMNS
from fma_pipeline.core.audio.features import FEATURE_DEFINITION, N_FEATURES
from fma_pipeline.core.learning.families import FAMILY_SETS
from fma_pipeline.core.learning.models import SEGMENT_FAMILIES
from fma_pipeline.core.fma.layout import FOLDERS
from fma_pipeline.core.storage import read_parquet, write_parquet
from fma_pipeline.core.catalogue import DataRoot
from fma_pipeline.definitions import defs, resources
from fma_pipeline.orchestration.assets.features import folder_features, track_features
from fma_pipeline.orchestration.resources import Extraction, FmaData
from fma_pipeline_tests.runs import materialise_sample

FAST_RUN = {"ops": {
    "tracks": {"config": {"min_tracks": 2}},
    "genre_classifiers": {"config": {"models": ["random_forest", "svm", "knn"], "cv_folds": 2, "n_jobs": 1}},
    "segment_classifiers": {"config": {"models": ["random_forest", "lda"], "cv_folds": 2, "n_jobs": 1,
                                       "search": "random", "search_iterations": 3}},
}}


def test_definitions_load_every_asset_and_job():
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"tracks", "track_features", "extraction_errors", "feature_matrix", "scaled_features",
            "pca_features", "genre_classifiers", "classifier_metrics"} <= keys
    assert defs.resolve_job_def("extract_features") and defs.resolve_job_def("train_and_evaluate")
    assert len(folder_features.partitions_def.get_partition_keys()) == 156


@pytest.fixture(scope="module")
def pipeline_run(tiny_sample, tmp_path_factory):
    """Materialise every partition, then every downstream asset, in a fresh data root."""
    root = tmp_path_factory.mktemp("root")
    instance, first, rest = materialise_sample(tiny_sample, root, FAST_RUN)
    return root, instance, first, rest


def test_every_partition_materialises_and_checks_pass(pipeline_run):
    root, instance, first, rest = pipeline_run
    assert first.success and rest.success
    materialised = instance.get_materialized_partitions(track_features)
    assert materialised == set(FOLDERS)  # empty folders give empty tables, not errors
    assert all(e.passed for e in first.get_asset_check_evaluations())
    empty = read_parquet(root / "pipeline" / "track_features" / "001.parquet")
    assert len(empty) == 0 and empty.shape[1] == N_FEATURES + len(FILE_COLUMNS)
    errors = read_parquet(root / "pipeline" / "extraction_errors.parquet")
    assert len(errors) == 3 and errors["reason"].str.len().gt(0).all()


def test_matrices_and_classifiers(pipeline_run):
    root, *_ = pipeline_run
    matrix = read_parquet(root / "pipeline" / "feature_matrix.parquet")
    scaled = read_parquet(root / "pipeline" / "scaled_features.parquet")
    labels = read_parquet(root / "pipeline" / "tracks.parquet").loc[matrix.index]
    assert matrix.shape[1] == N_FEATURES and list(matrix.columns[:1]) == ["chroma_cens.kurtosis.01"]
    train = scaled[(labels["split"] != "test").to_numpy()]
    assert abs(train.mean()).max() < 1e-4  # scaler fit on training rows only
    assert abs(scaled[(labels["split"] == "test").to_numpy()].mean()).max() > 1e-4
    pca = read_parquet(root / "pipeline" / "pca_features.parquet")
    assert 1 < pca.shape[1] < N_FEATURES
    table = read_parquet(root / "pipeline" / "classifier_comparison.parquet")
    assert set(table["branch"]) == {"scaled", "pca", "mixed"} and len(table) == 7  # + soft voting
    assert table[["accuracy", "balanced_accuracy", "macro_f1", "majority_baseline"]].notna().all().all()
    assert (table["accuracy"] > table["majority_baseline"]).all()


def test_mlflow_has_a_run_per_model_and_a_champion(pipeline_run):
    root, *_ = pipeline_run
    store = DataRoot(root).mlflow_store()
    store.activate()
    runs = mlflow.search_runs(experiment_names=["fma-genre-classification"])
    parents = runs[runs["tags.mlflow.runName"].str.startswith("genre_classifiers")]
    children = runs[runs["tags.mlflow.parentRunId"].isin(parents["run_id"])]
    assert len(parents) == 1 and len(children) == 7
    assert {"metrics.test_accuracy", "metrics.test_balanced_accuracy", "metrics.test_macro_f1",
            "metrics.test_majority_baseline"} <= set(children.columns)
    model = mlflow.sklearn.load_model("models:/fma-genre-classifier@champion")
    matrix = read_parquet(root / "pipeline" / "feature_matrix.parquet")
    assert len(model.predict(matrix.head(2))) == 2
    assert (root / "mlflow.db").exists() and (root / "mlartifacts").is_dir()
    grid = children[children["params.search"] == "grid"]  # every zoo model; the ensemble has no search
    assert len(grid) == 6 and set(grid["params.param.families"]) <= set(FAMILY_SETS)
    # families chosen once per branch by the judge's search; each model then searches its own grid
    assert set(grid.loc[grid["params.model"] == "svm", "params.candidates"]) == {"3"}
    assert set(grid["params.families_chosen_by"]) == {"logistic_regression"}
    for _, branch in grid.groupby("params.branch"):
        assert branch["params.param.families"].nunique() == 1
    champion = children[children["tags.champion"] == "true"].iloc[0]
    assert champion["params.calibration"].startswith("temperature")  # calibrated on held-out folds
    assert {"metrics.test_ece", "metrics.uncalibrated_test_ece", "metrics.test_brier",
            "metrics.test_log_loss"} <= set(champion.dropna().index)
    table = read_parquet(root / "pipeline" / "classifier_comparison.parquet")
    assert table["n_test"].gt(0).all() and table["ece"].between(0, 1).all()


def test_segment_features_come_from_the_same_extraction_and_are_compared(pipeline_run):
    root, instance, *_ = pipeline_run
    assert instance.get_materialized_partitions(dg.AssetKey("segment_features")) == set(FOLDERS)
    features = read_parquet(root / "pipeline" / "track_features" / "000.parquet")
    segments = read_parquet(root / "pipeline" / "segment_features" / "000.parquet")
    assert set(segments.index.get_level_values("track_id")) == set(features.index)
    assert segments.shape[1] == N_FEATURES and len(segments) == 2 * len(features)  # 6 s clips: two 3 s windows
    long = read_parquet(root / "pipeline" / "segment_matrix.parquet")  # one float32 row per window
    matrix = read_parquet(root / "pipeline" / "feature_matrix.parquet")
    assert list(long.index.get_level_values("track_id").unique()) == list(matrix.index)
    assert long.shape == (2 * len(matrix), N_FEATURES) and long.dtypes.eq("float32").all()
    table = read_parquet(root / "pipeline" / "segment_classifier_comparison.parquet")
    assert set(table["model"]) == {"random_forest", "lda", "soft_voting"}
    assert (table["accuracy"] > table["majority_baseline"]).all()
    levels = read_parquet(root / "pipeline" / "level_comparison.parquet")
    assert sorted(levels["level"]) == ["clip", "segment"]
    assert levels["cv_macro_f1"].is_monotonic_decreasing  # the winner, by training CV, first
    store = DataRoot(root).mlflow_store()
    store.activate()
    version = mlflow.MlflowClient().get_model_version_by_alias("fma-genre-classifier", "champion")
    parent = mlflow.get_run(mlflow.get_run(version.run_id).data.tags["mlflow.parentRunId"])
    assert parent.info.run_name.startswith("genre_classifiers")  # the clip level stays the registered default
    runs = mlflow.search_runs(experiment_names=["fma-genre-classification"])
    segment_parent = runs.loc[runs["tags.mlflow.runName"].str.startswith("segment_classifiers"), "run_id"]
    searched = runs[runs["tags.mlflow.parentRunId"].isin(segment_parent) & runs["params.search"].notna()]
    assert set(searched["params.search"]) == {"random"} and set(searched["params.candidates"]) == {"3"}
    assert set(searched["params.param.families"]) <= set(SEGMENT_FAMILIES)  # the segment default: timbre sets


def test_a_segment_champion_predicts_with_its_own_windows_and_vote(pipeline_run, tiny_sample):
    """A segment-level model, as registered with segment_classifiers' register_champion, is
    fed 3 s windows of a new file (not 30 s clips) and its answer is their mean probability."""
    from fma_pipeline.core.audio.tagging import TagSettings, file_features, tag_files

    root, *_ = pipeline_run
    DataRoot(root).mlflow_store().activate()
    runs = mlflow.search_runs(experiment_names=["fma-genre-classification"])
    parents = runs.loc[runs["tags.mlflow.runName"].str.startswith("segment_classifiers"), "run_id"]
    best = runs[runs["tags.mlflow.parentRunId"].isin(parents) & (runs["tags.champion"] == "true")].iloc[0]
    uri = f"runs:/{best['run_id']}/model"
    metadata = dict(mlflow.models.get_model_info(uri).metadata)
    model = mlflow.sklearn.load_model(uri)
    settings = TagSettings.from_model_metadata(metadata)
    assert metadata["level"] == "segment" and settings.window_seconds == 3.0 == metadata["window_seconds"]
    assert settings.max_windows == 200
    assert TagSettings.from_model_metadata({"feature_definition": FEATURE_DEFINITION}).window_seconds == 30.0
    clip = sorted((tiny_sample / "fma_small" / "000").glob("*.mp3"))[0]  # a 6 s clip: two 3 s windows
    windows = file_features(clip, settings)
    assert len(windows) == 2
    row = tag_files(model, [clip], settings).iloc[0]
    assert row["status"] == "ok" and row["windows"] == 2 and row["genre"] in set(metadata["classes"])
    mean = model.predict_proba(windows.loc[:, list(model.feature_names_in_)]).mean(axis=0)
    assert row["probability"] == pytest.approx(mean.max())


def _metadata(result, asset: str) -> dict:
    return next(m.metadata for m in result.asset_materializations_for_node("folder_features")
                if m.asset_key == dg.AssetKey(asset))


def test_incremental_rematerialisation_reuses_unchanged_files(pipeline_run):
    root, instance, *_ = pipeline_run
    with_root = resources(FmaData(data_dir=str(root)), Extraction(workers=1))
    result = dg.materialize([folder_features], instance=instance, resources=with_root, partition_key="000")
    meta = _metadata(result, "track_features")
    assert meta["extracted"].value == 0 and meta["reused"].value > 0
    segments = root / "pipeline" / "segment_features" / "000.parquet"
    before = read_parquet(segments)
    segments.unlink()  # lost (or written by an older version): its clips are decoded again
    again = _metadata(dg.materialize([folder_features], instance=instance, resources=with_root,
                                     partition_key="000"), "track_features")
    assert again["extracted"].value == meta["reused"].value and again["reused"].value == 0
    pd.testing.assert_frame_equal(read_parquet(segments), before, check_exact=False, rtol=1e-4, atol=1e-5)
    features = root / "pipeline" / "track_features" / "000.parquet"
    current = read_parquet(features)
    write_parquet(current.drop(columns="mfcc_corr", level="feature"), features)  # as the 518-column version wrote it
    third = _metadata(dg.materialize([folder_features], instance=instance, resources=with_root,
                                     partition_key="000"), "track_features")
    assert third["extracted"].value == meta["reused"].value and third["reused"].value == 0
    assert list(read_parquet(features).columns) == list(current.columns)


def test_mlflow_opens_on_training_runs_and_the_demo_links_the_champions_run(pipeline_run):
    from fma_pipeline.cli import champion_run_url
    from fma_pipeline.core.tracking import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG

    root, *_ = pipeline_run
    DataRoot(root).mlflow_store().activate()
    for name in ("fma-genre-classification", "fma-genre-clusters"):
        assert mlflow.get_experiment_by_name(name).tags[EXPERIMENT_KIND_TAG] == EXPERIMENT_KIND  # not GenAI
    url = champion_run_url(root)
    version = mlflow.MlflowClient().get_model_version_by_alias("fma-genre-classifier", "champion")
    experiment = mlflow.get_experiment_by_name("fma-genre-classification").experiment_id
    assert url == f"http://127.0.0.1:5000/#/experiments/{experiment}/runs/{version.run_id}"
