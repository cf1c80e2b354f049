"""Clustering scores with known answers: perfect, random and hand-made clusterings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fma_pipeline.core.learning import clustering


def test_perfect_clustering_scores_one_whatever_the_cluster_names():
    genres = np.repeat(["Rock", "Jazz", "Folk"], 50)
    clusters = np.repeat([7, 0, 3], 50)  # same partition, other names
    scores = clustering.external_scores(genres, clusters)
    for name in ("ari", "nmi", "homogeneity", "completeness", "v_measure", "purity"):
        assert scores[name] == pytest.approx(1.0), name


def test_random_clustering_scores_about_zero():
    rng = np.random.default_rng(0)
    genres = rng.integers(0, 10, 2000)
    clusters = rng.integers(0, 10, 2000)
    scores = clustering.external_scores(genres, clusters)
    assert abs(scores["ari"]) < 0.05 and scores["nmi"] < 0.05
    assert scores["purity"] < 0.2  # ~ the largest genre's share


def test_contingency_and_dominant_genre_on_a_hand_made_example():
    genres = pd.Series(["Rock"] * 4 + ["Jazz"] * 3 + ["Folk"] * 3)
    clusters = pd.Series([0, 0, 0, 1, 1, 1, 1, 2, 2, 2])
    table = clustering.contingency(genres, clusters)
    assert table.loc[0, "Rock"] == 3 and table.loc[1, "Rock"] == 1 and table.loc[1, "Jazz"] == 3
    assert list(table["dominant"]) == ["Rock", "Jazz", "Folk"]
    assert list(table["size"]) == [3, 4, 3]
    assert table.loc[1, "dominant_share"] == pytest.approx(0.75)
    assert clustering.purity(genres, clusters) == pytest.approx(9 / 10)


def test_clusterers_recover_well_separated_genres_and_sweep_k():
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 20, (3, 5))
    X = pd.DataFrame(np.concatenate([c + rng.normal(0, 1, (40, 5)) for c in centres]))
    genres = pd.Series(np.repeat(["a", "b", "c"], 40), index=X.index)
    runs = clustering.cluster_branch(X, genres, "scaled", clustering.ClusterConfig(k_max=5))
    table = clustering.score_table(runs)
    assert list(table.columns) == clustering.SCORE_COLUMNS
    assert sorted(table.loc[table["method"] == "kmeans", "k"]) == [2, 3, 4, 5]
    at_k = table[table["k"] == 3].set_index("method")
    assert set(at_k.index) == set(clustering.METHODS)
    assert (at_k["ari"] > 0.99).all() and (at_k["purity"] > 0.99).all()
    assert table.set_index(["method", "k"]).loc[("kmeans", 3), "silhouette"] > 0.8


def test_ward_on_a_sample_assigns_every_track():
    rng = np.random.default_rng(2)
    X = np.concatenate([rng.normal(0, 1, (60, 3)), rng.normal(10, 1, (60, 3))])
    labels = clustering.fit_clusters(X, "agglomerative", 2, clustering.ClusterConfig(agglomerative_max=30))
    assert len(labels) == 120 and clustering.external_scores(np.repeat([0, 1], 60), labels)["ari"] == 1.0


def test_maps_have_two_columns_and_unknown_inputs_are_refused(tmp_path):
    X = pd.DataFrame(np.random.default_rng(3).normal(size=(30, 6)))
    for how in ("pca", "tsne"):
        xy = clustering.embed_2d(X, how, clustering.ClusterConfig(map_points=20))
        assert xy.shape == (20, 2)
    colour = pd.Series(["a", "b"] * 15, index=X.index)
    assert clustering.map_png(xy, {"genre": colour}, tmp_path / "m.png", "t").stat().st_size > 0
    with pytest.raises(ValueError, match="unknown clustering method"):
        clustering.fit_clusters(X.to_numpy(), "dbscan", 2)
