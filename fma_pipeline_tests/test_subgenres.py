"""Sub-genre labels on FMA's real genre tree, sub-genre classifiers, and both new assets end to end."""

from __future__ import annotations


import dagster as dg
import mlflow
import numpy as np
import pandas as pd
import pytest

from fma_pipeline.core.learning.clustering import SCORE_COLUMNS
from fma_pipeline.core.learning.subgenre_training import (FLAT, HIERARCHICAL, TABLE_COLUMNS, TOP, SubgenreConfig,
                                                          train_subgenres)
from fma_pipeline.core.fma.metadata import read_genres
from fma_pipeline.core.storage import read_parquet
from fma_pipeline.core.fma.subgenres import derive_subgenres, fold_small
from fma_pipeline.core.catalogue import DataRoot
from fma_pipeline.orchestration.assets.clusters import genre_clusters
from fma_pipeline.orchestration.assets.subgenres import subgenre_classifiers
from fma_pipeline.orchestration.resources import FmaData
from fma_pipeline_tests.runs import materialise_sample

ROCK, PUNK, POST_PUNK, METAL, TECHNO = 12, 25, 89, 31, 181  # FMA's real ids: Post-Punk ⊂ Punk ⊂ Rock


def rock_tracks(tags: list[list[int]]) -> pd.DataFrame:
    """Rock tracks tagged with ``tags``; genres_all adds the ancestors as FMA does."""
    ancestors = {POST_PUNK: [PUNK, ROCK], PUNK: [ROCK], METAL: [ROCK], ROCK: [], TECHNO: [15]}
    return pd.DataFrame({
        "genre": "Rock", "genre_id": ROCK, "split": "training", "artist_id": range(len(tags)),
        "genres": tags, "genres_all": [sorted({g for t in ts for g in [t, *ancestors[t]]}) for ts in tags],
    }, index=pd.Index(range(1, len(tags) + 1), name="track_id"))


def test_small_grandchild_folds_into_the_child_of_its_root(real_genres_csv):
    labels = derive_subgenres(rock_tracks([[POST_PUNK]] + [[PUNK]] * 3), read_genres(real_genres_csv), 3)
    assert labels.loc[1, "tagged_id"] == POST_PUNK
    assert labels["subgenre"].tolist() == ["Punk"] * 4 and labels["has_subgenre"].all()
    assert labels["depth"].tolist() == [1] * 4


def test_big_enough_grandchild_is_its_own_subgenre(real_genres_csv):
    labels = derive_subgenres(rock_tracks([[POST_PUNK]] * 3 + [[PUNK]]), read_genres(real_genres_csv), 3)
    assert labels.loc[1, "subgenre"] == "Post-Punk" and labels.loc[1, "subgenre_id"] == POST_PUNK
    assert labels.loc[1, "depth"] == 2
    assert not labels.loc[4, "has_subgenre"]  # the lone Punk track folds to Rock


def test_everything_too_small_folds_to_the_root_and_has_no_subgenre(real_genres_csv):
    labels = derive_subgenres(rock_tracks([[POST_PUNK], [PUNK], [ROCK]]), read_genres(real_genres_csv), 3)
    assert not labels["has_subgenre"].any() and labels["subgenre"].isna().all()
    assert labels["subgenre_id"].isna().all() and (labels["genre_id"] == ROCK).all()


def test_ties_go_to_the_bigger_genre_and_other_roots_are_ignored(real_genres_csv):
    tree = read_genres(real_genres_csv)
    labels = derive_subgenres(rock_tracks([[PUNK, METAL], [METAL], [METAL, TECHNO]]), tree, 1)
    assert labels["subgenre"].tolist() == ["Metal", "Metal", "Metal"]
    folded = fold_small(pd.Series([POST_PUNK, POST_PUNK, PUNK, METAL]), tree, 3)
    assert folded.tolist() == [PUNK, PUNK, PUNK, ROCK]


def synthetic(n_artists: int = 6, per_artist: int = 3, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two parents with two sub-genres each, features centred per sub-genre; artist-level split."""
    rng = np.random.default_rng(seed)
    rows, features, artist = [], [], 0
    for p, parent in enumerate(["Rock", "Jazz"]):
        for s in range(2):
            centre = rng.normal(0, 6, 8)
            for a in range(n_artists):
                artist += 1
                split = "test" if a == 0 else "validation" if a == 1 else "training"
                for _ in range(per_artist):
                    rows.append({"genre": parent, "subgenre": f"{parent}-{s}", "split": split,
                                 "artist_id": artist, "has_subgenre": True})
                    features.append(centre + rng.normal(0, 1, 8))
    index = pd.Index(range(len(rows)), name="track_id")
    return pd.DataFrame(features, index=index).add_prefix("f"), pd.DataFrame(rows, index=index)


FAST = SubgenreConfig(models=("logistic_regression",), cv_folds=2, n_jobs=1)


def test_subgenre_classifiers_learn_separable_subgenres():
    X, labels = synthetic()
    results = train_subgenres(X, labels, FAST)
    table = results.table.set_index("parent")
    assert list(results.table.columns) == TABLE_COLUMNS
    assert set(table.index) == {"Jazz", "Rock", TOP, FLAT, HIERARCHICAL}
    assert table.loc["Rock", "classes"] == 2 and table.loc[FLAT, "classes"] == 4
    assert table.loc["Rock", "n_test"] == 6 and table.loc[HIERARCHICAL, "n_test"] == 12
    assert (table["accuracy"] == 1.0).all() and (table["majority_baseline"] <= 0.5).all()
    assert results.models[HIERARCHICAL].pipeline.predict(X.head(3)).tolist() == labels["subgenre"].head(3).tolist()


def test_small_data_degrades_to_skips_not_errors():
    X, labels = synthetic(n_artists=2, per_artist=2)  # one training artist per sub-genre
    results = train_subgenres(X, labels, FAST)
    assert results.table.empty and list(results.table.columns) == TABLE_COLUMNS
    assert set(results.skipped) == {"Jazz", "Rock"} and "training artists" in results.skipped["Rock"]
    none = train_subgenres(X, labels.assign(has_subgenre=False, subgenre=None), FAST)
    assert none.table.empty and not none.skipped


RUN = {"ops": {
    "tracks": {"config": {"min_tracks": 2}},
    "genre_clusters": {"config": {"k_max": 5, "map_points": 200}},
    "subgenre_labels": {"config": {"min_tracks": 1}},
    "subgenre_classifiers": {"config": {"models": ["logistic_regression"], "cv_folds": 2, "n_jobs": 1}},
}}


@pytest.fixture(scope="module")
def new_assets_run(tiny_sample, tmp_path_factory):
    """Features for every folder of the tiny sample, then the new assets and what they need."""
    root = tmp_path_factory.mktemp("root")
    selection = dg.AssetSelection.assets(genre_clusters, subgenre_classifiers).upstream()
    _, _, result = materialise_sample(tiny_sample, root, RUN, selection)
    return root, result


def test_new_assets_materialise_on_the_tiny_sample(new_assets_run):
    root, result = new_assets_run
    assert result.success
    scores = read_parquet(root / "pipeline" / "cluster_scores.parquet")
    assert list(scores.columns) == SCORE_COLUMNS and set(scores["branch"]) == {"scaled", "pca"}
    assert {"kmeans", "gmm", "agglomerative"} <= set(scores["method"])
    assert scores[["ari", "nmi", "purity"]].notna().all().all()
    assert (root / "pipeline" / "cluster_maps" / "scaled_branch_tsne.png").stat().st_size > 0
    stored = sorted(p.stem for p in (root / "pipeline" / "cluster_contingency").glob("*.parquet"))
    assert stored == sorted(f"{m}_{b}" for m in ("agglomerative", "gmm", "kmeans") for b in ("pca", "scaled"))
    labels = read_parquet(root / "pipeline" / "subgenre_labels.parquet")
    assert labels["has_subgenre"].any() and {"Punk", "Metal"} <= set(labels["subgenre"].dropna())
    table = read_parquet(root / "pipeline" / "subgenre_scores.parquet")
    assert list(table.columns) == TABLE_COLUMNS  # may be empty: 4 tracks per genre is too few to learn
    meta = result.asset_materializations_for_node("subgenre_classifiers")[0].metadata
    assert "scores" in meta and ("note" in meta) == table.empty
    store = DataRoot(root).mlflow_store()
    store.activate("fma-genre-clusters")
    runs = mlflow.search_runs(experiment_names=["fma-genre-clusters"])
    assert (runs["tags.mlflow.parentRunId"].notna()).sum() == 6  # 3 methods x 2 branches


def test_subgenre_classifiers_asset_logs_a_child_run_per_classifier(tmp_path):
    """The asset's non-empty path on synthetic inputs (the tiny sample is too small to learn)."""
    from fma_pipeline.core.storage import write_parquet

    X, labels = synthetic()
    write_parquet(X, tmp_path / "pipeline" / "feature_matrix.parquet")
    write_parquet(labels, tmp_path / "pipeline" / "subgenre_labels.parquet")
    from fma_pipeline.definitions import all_assets, resources

    result = dg.materialize(all_assets, selection=[subgenre_classifiers],
                            resources=resources(FmaData(data_dir=str(tmp_path))),
                            run_config={"ops": {"subgenre_classifiers": {"config": {
                                **RUN["ops"]["subgenre_classifiers"]["config"],
                                "search": "random", "search_iterations": 2}}}})
    assert result.success
    table = read_parquet(tmp_path / "pipeline" / "subgenre_scores.parquet")
    assert len(table) == 5 and (table["accuracy"] == 1.0).all()
    DataRoot(tmp_path).mlflow_store().activate("fma-subgenre-classification")
    runs = mlflow.search_runs(experiment_names=["fma-subgenre-classification"])
    children = runs[runs["tags.mlflow.parentRunId"].notna()]
    assert set(children["tags.mlflow.runName"]) == {"Jazz", "Rock", TOP, FLAT, HIERARCHICAL}
    parent = runs[runs["tags.mlflow.parentRunId"].isna()].iloc[0]
    assert (parent["params.search"], parent["params.search_iterations"]) == ("random", "2")
    hierarchical = children[children["tags.mlflow.runName"] == HIERARCHICAL].iloc[0]
    model = mlflow.sklearn.load_model(f"runs:/{hierarchical.run_id}/model")
    assert list(model.predict(X.head(2))) == list(labels["subgenre"].head(2))
