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


def test_samples_are_seeded_sorted_and_keep_each_genre_share():
    strata = np.repeat([0, 1, 2], [700, 250, 50])
    rows = clustering.sample_rows(1000, 200, seed=5, strata=strata)
    assert len(rows) == 200 and len(np.unique(rows)) == 200 and (np.diff(rows) > 0).all()
    assert list(np.bincount(strata[rows])) == [140, 50, 10]
    assert (rows == clustering.sample_rows(1000, 200, seed=5, strata=strata)).all()
    assert not (rows == clustering.sample_rows(1000, 200, seed=6, strata=strata)).all()
    assert (clustering.sample_rows(150, 200) == np.arange(150)).all()  # no sample below the bound


def test_bounds_only_bite_above_their_size():
    config = clustering.ClusterConfig()
    assert clustering.kmeans_restarts(240, config) == clustering.kmeans_restarts(4000, config) == 10
    assert clustering.kmeans_restarts(10_000, config) == 4 and clustering.kmeans_restarts(10**7, config) == 1
    assert clustering.sweep_ks(12, 240, config) == list(range(2, 25))
    assert clustering.sweep_ks(12, 106_574, config) == list(range(2, 25, 2))
    assert clustering.sweep_ks(12, 25_000, clustering.ClusterConfig(k_min=3)) == [*range(3, 25, 2), 24]


def test_k_genres_keeps_every_restart_when_the_sweep_has_fewer(monkeypatch):
    restarts = {}
    real_kmeans = clustering.KMeans

    def recording_kmeans(n_clusters, n_init, **kwargs):
        restarts[n_clusters] = n_init
        return real_kmeans(n_clusters, n_init=n_init, **kwargs)

    monkeypatch.setattr(clustering, "KMeans", recording_kmeans)
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.normal(size=(60, 3)))
    genres = pd.Series(np.repeat(list("abc"), 20), index=X.index)
    clustering.cluster_branch(X, genres, "scaled", clustering.ClusterConfig(k_max=5, restart_rows=60))
    assert restarts == {2: 1, 3: 10, 4: 1, 5: 1}


def test_small_branches_get_the_exhaustive_clusterings():
    rng = np.random.default_rng(4)
    X = pd.DataFrame(np.concatenate([c + rng.normal(0, 2, (50, 6)) for c in rng.normal(0, 3, (4, 6))]))
    genres = pd.Series(np.repeat(list("abcd"), 50), index=X.index)
    huge = 10**9
    exhaustive = clustering.ClusterConfig(k_max=6, fit_max=huge, restart_rows=huge, kmeans_max_iter=300,
                                          coarse_sweep_above=huge, agglomerative_max=huge)
    bounded, unbounded = (clustering.score_table(clustering.cluster_branch(X, genres, "scaled", c))
                          for c in (clustering.ClusterConfig(k_max=6), exhaustive))
    pd.testing.assert_frame_equal(bounded, unbounded)


def test_kmeans_and_mixture_fit_on_a_sample_and_assign_every_track():
    rng = np.random.default_rng(5)
    X = np.concatenate([rng.normal(0, 1, (300, 4)), rng.normal(12, 1, (100, 4))])
    strata = np.repeat([0, 1], [300, 100])
    config = clustering.ClusterConfig(fit_max=40)
    for method in ("kmeans", "gmm"):
        labels = clustering.fit_clusters(X, method, 2, config, strata)
        assert len(labels) == 400 and clustering.external_scores(strata, labels)["ari"] == 1.0, method


def test_silhouette_from_one_distance_matrix_matches_scikit_learn():
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(6)
    X, labels = rng.normal(size=(90, 5)), np.repeat([0, 1, 2], 30)
    assert clustering.silhouette(X, labels) == pytest.approx(silhouette_score(X, labels))
    score = clustering.silhouette_scorer(X, sample=40, seed=1)
    assert -1 <= score(labels) <= 1 and np.isnan(score(np.zeros(90, dtype=int)))


@pytest.mark.parametrize("config_name", ["ClustersConfig", "ClassifiersConfig", "SegmentClassifiersConfig",
                                         "SubgenreClassifiersConfig"])
def test_every_setting_is_documented_in_the_core_and_mirrored_in_the_dagster_config(config_name):
    """Run-config classes are derived from the core's dataclasses: one name, default and text."""
    from dataclasses import fields

    from fma_pipeline.core.settings import field_doc
    from fma_pipeline.orchestration.assets import clusters, learning, subgenres

    config = next(getattr(m, config_name) for m in (clusters, learning, subgenres) if hasattr(m, config_name))
    core = type(config().to_core())
    schema = config.model_json_schema()["properties"]
    for f in fields(core):
        assert len(field_doc(core, f.name)) > 10, f.name
        assert schema[f.name]["description"] == field_doc(core, f.name)
        default = config().model_dump()[f.name]
        if config_name != "SegmentClassifiersConfig":  # its own defaults: fewer tracks and models
            assert (tuple(default) if isinstance(default, list) else default) == f.default
    if config_name == "ClustersConfig":
        assert config(fit_max=7, k_max=5).to_core() == clustering.ClusterConfig(fit_max=7, k_max=5)
        with pytest.raises(ValueError, match="fit_max=0"):
            config(fit_max=0).to_core()
