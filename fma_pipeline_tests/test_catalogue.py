"""The data root's catalogue: one owner of the layout, true lineage, one MLflow store for all."""

from __future__ import annotations

import dagster as dg
import pandas as pd
import pytest

from fma_pipeline.core import catalogue
from fma_pipeline.core.catalogue import CATALOGUE, AssetFiles, DataRoot, produced_by
from fma_pipeline.definitions import defs


def test_every_asset_stores_what_the_catalogue_says_and_nothing_else():
    assets = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    producers = {s.asset for s in CATALOGUE if s.asset}
    assert producers == assets  # every asset has its files named, and no file names a ghost
    names = [s.name for s in CATALOGUE]
    assert len(names) == len(set(names))


def test_lineage_is_what_each_asset_reads():
    graph = defs.resolve_asset_graph()
    parents = {k.to_user_string(): {p.to_user_string() for p in graph.get(k).parent_keys}
               for k in graph.get_all_asset_keys()}
    # the classifiers refit scaler and PCA inside their Pipelines: they read feature_matrix
    assert parents["genre_classifiers"] == {"tracks", "feature_matrix"}
    assert parents["genre_clusters"] == {"tracks", "scaled_features", "pca_features"}
    assert parents["classifier_metrics"] == {"tracks", "feature_matrix", "genre_classifiers"}
    assert parents["segment_classifiers"] == {"tracks", "segment_matrix", "genre_classifiers"}
    assert parents["feature_matrix"] == {"tracks", "track_features", "published_features"}


def test_the_mlflow_store_honours_the_team_uri_everywhere(tmp_path, monkeypatch):
    """predict, tag, report and mlflow-ui used to ignore FMA_MLFLOW_TRACKING_URI."""
    from fma_pipeline.cli import load_model

    root = DataRoot(tmp_path / "root")
    assert root.mlflow_store().tracking_uri == f"sqlite:///{(tmp_path / 'root').resolve() / 'mlflow.db'}"
    assert not root.has_mlflow_store()
    team = f"sqlite:///{tmp_path / 'team.db'}"
    monkeypatch.setenv(catalogue.MLFLOW_URI_ENV, team)
    assert root.mlflow_store().tracking_uri == team
    assert root.has_mlflow_store()
    with pytest.raises(SystemExit, match=f"no champion model in {team}"):
        load_model(root.root, None)  # predict/tag look in the team store, not under the data root


def test_asset_files_read_tables_json_and_partitions_lazily(tmp_path):
    from fma_pipeline.core.storage import write_parquet

    root = DataRoot(tmp_path)
    files = AssetFiles(root, "genre_classifiers")
    with pytest.raises(FileNotFoundError, match="classifier_comparison.parquet is missing .materialise genre_classifiers"):
        files.read()
    table = pd.DataFrame({"track_id": [1, 2, 3], "genre": ["Rock", "Pop", "Rock"]}).set_index("track_id")
    write_parquet(table, root.path(catalogue.CLASSIFIER_COMPARISON))
    root.path(catalogue.GENRE_CLASSIFIER_RUNS).write_text('{"champion": "lda/pca"}')
    pd.testing.assert_frame_equal(files.read(), table)
    assert files.read("genre_classifiers.json") == {"champion": "lda/pca"}
    assert len(files.read(filters=[("track_id", "in", [2])])) == 1
    with pytest.raises(KeyError, match="not 'tracks.parquet'"):
        files.read("tracks.parquet")
    write_parquet(table, root.partition_path(catalogue.TRACK_FEATURES, "003"))
    write_parquet(table.iloc[:0], root.partition_path(catalogue.TRACK_FEATURES, "001"))
    assert [k for k, _ in AssetFiles(root, "track_features").partitions()] == ["003"]  # empty folders skipped
    assert [s.name for s in produced_by("track_features")] == ["track_features", "track_feature_errors"]


def test_the_io_manager_writes_an_assets_tables_where_the_catalogue_says(tmp_path):
    from fma_pipeline.definitions import resources
    from fma_pipeline.orchestration.resources import FmaData

    @dg.asset(name="pca_features")
    def fake_pca() -> dg.Output:
        return dg.Output({"pca_features.parquet": pd.DataFrame({"pc001": [1.0]}),
                          "pca_explained_variance.parquet": pd.DataFrame({"explained_variance_ratio": [1.0]})})

    @dg.asset(name="genre_clusters")
    def reads(pca_features: AssetFiles) -> None:
        assert isinstance(pca_features, AssetFiles) and pca_features.read()["pc001"].tolist() == [1.0]

    assert dg.materialize([fake_pca, reads], resources=resources(FmaData(data_dir=str(tmp_path)))).success
    assert (tmp_path / "pipeline" / "pca_explained_variance.parquet").is_file()

    @dg.asset(name="tracks")
    def stray() -> dg.Output:
        return dg.Output({"not_in_the_catalogue.parquet": pd.DataFrame({"a": [1]})})

    with pytest.raises(KeyError, match="not 'not_in_the_catalogue.parquet'"):
        dg.materialize([stray], resources=resources(FmaData(data_dir=str(tmp_path))))


def test_the_demo_tables_print_test_sizes_and_flag_tiny_ones(tmp_path):
    from fma_pipeline.cli import RESULT_TABLES, results_table
    from fma_pipeline.core.storage import write_parquet

    root = DataRoot(tmp_path)
    table = pd.DataFrame({"parent": ["Rock", "Jazz"], "classes": [2, 3], "n_train": [40, 60], "n_test": [2, 25],
                          "accuracy": [1.0, 0.64], "balanced_accuracy": [1.0, 0.6], "macro_f1": [1.0, 0.61],
                          "majority_baseline": [0.5, 0.4], "model": ["svm", "lda"], "cv_macro_f1": [0.7, 0.6]})
    write_parquet(table, root.path(catalogue.SUBGENRE_SCORES))
    which = next(i for i, t in enumerate(RESULT_TABLES) if t[1] == "SUBGENRE_SCORES")
    lines = results_table(tmp_path, which).splitlines()
    assert "n_test" in lines[1]
    rock = next(line for line in lines if line.strip().startswith("Rock"))
    jazz = next(line for line in lines if line.strip().startswith("Jazz"))
    assert "only 2 test tracks: unreliable" in rock and "unreliable" not in jazz


def test_empty_tables_are_encoded_once_per_schema_and_read_back_the_same(tmp_path):
    """A run over 156 folders writes three empty tables per folder without audio; their
    Parquet bytes are encoded once (713 columns cost ~75 ms each to convert)."""
    from fma_pipeline.core.audio.extraction import empty_errors, empty_features
    from fma_pipeline.core.storage import read_parquet, write_parquet

    for make in (empty_features, empty_errors):
        first, second = write_parquet(make(), tmp_path / "a.parquet"), write_parquet(make(), tmp_path / "b.parquet")
        assert first.read_bytes() == second.read_bytes()
        pd.testing.assert_frame_equal(read_parquet(second), make(), check_index_type=False)
        make().to_parquet(tmp_path / "direct.parquet", engine="pyarrow", compression="zstd")
        pd.testing.assert_frame_equal(read_parquet(second), read_parquet(tmp_path / "direct.parquet"))
