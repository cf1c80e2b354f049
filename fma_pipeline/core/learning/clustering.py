"""Do the features group tracks by genre without being told the genres?

Three clusterers run on each feature branch (scaled, PCA): k-means over a sweep of k,
a Gaussian mixture and Ward agglomerative clustering with k = number of genres. Each
clustering is scored against the true genres (ARI, NMI, homogeneity, completeness,
V-measure, purity) and on its own (silhouette), so "the clusters are genres" and "the
clusters are well separated" are told apart.

Scale decisions: the Gaussian mixture uses diagonal covariances (full ones need far more
tracks than 708² parameters); Ward needs O(n²) memory, so above ``agglomerative_max``
tracks it is fitted on a seeded sample and the rest join the nearest cluster centroid;
silhouettes and 2-D maps use seeded samples of bounded size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.mixture import GaussianMixture

METHODS: tuple[str, ...] = ("kmeans", "gmm", "agglomerative")
SCORE_COLUMNS: list[str] = ["method", "branch", "k", "ari", "nmi", "homogeneity", "completeness",
                            "v_measure", "purity", "silhouette"]


@dataclass(frozen=True)
class ClusterConfig:
    """k sweep (``k_max`` 0 = twice the number of genres), sample bounds and seed."""

    k_min: int = 2
    k_max: int = 0
    seed: int = 0
    silhouette_sample: int = 5000
    agglomerative_max: int = 20000
    map_points: int = 2000


@dataclass
class Clustering:
    """One clustering of one branch: assignments (track id -> cluster) and its scores."""

    method: str
    branch: str
    k: int
    clusters: pd.Series
    scores: dict[str, float] = field(default_factory=dict)


def purity(genres: pd.Series | np.ndarray, clusters: pd.Series | np.ndarray) -> float:
    """Share of tracks whose cluster's most common genre is their own genre."""
    table = pd.crosstab(np.asarray(clusters), np.asarray(genres))
    return float(table.max(axis=1).sum() / table.to_numpy().sum()) if table.size else float("nan")


def external_scores(genres: pd.Series | np.ndarray, clusters: pd.Series | np.ndarray) -> dict[str, float]:
    """Agreement of a clustering with the true genres (1 = the clusters are the genres)."""
    y, c = np.asarray(genres), np.asarray(clusters)
    homogeneity, completeness, v_measure = metrics.homogeneity_completeness_v_measure(y, c)
    return {"ari": float(metrics.adjusted_rand_score(y, c)),
            "nmi": float(metrics.normalized_mutual_info_score(y, c)),
            "homogeneity": float(homogeneity), "completeness": float(completeness),
            "v_measure": float(v_measure), "purity": purity(y, c)}


def silhouette(X: np.ndarray, clusters: np.ndarray, sample: int = 5000, seed: int = 0) -> float:
    """Mean silhouette (euclidean) on at most ``sample`` tracks; NaN when it is undefined."""
    n_labels = len(np.unique(clusters))
    if not 2 <= n_labels <= len(X) - 1:
        return float("nan")
    size = sample if len(X) > sample else None
    return float(metrics.silhouette_score(X, clusters, sample_size=size, random_state=seed))


def contingency(genres: pd.Series, clusters: pd.Series) -> pd.DataFrame:
    """Cluster × genre counts, with each cluster's dominant genre, its share and the cluster size."""
    table = pd.crosstab(pd.Series(np.asarray(clusters), name="cluster"),
                        pd.Series(np.asarray(genres), name="genre"))
    table.columns = table.columns.astype(str)
    counts = table.copy()
    table["size"] = counts.sum(axis=1)
    table["dominant"] = counts.idxmax(axis=1)
    table["dominant_share"] = counts.max(axis=1) / table["size"]
    return table


def fit_clusters(X: np.ndarray, method: str, k: int, config: ClusterConfig = ClusterConfig()) -> np.ndarray:
    """Cluster labels 0..k-1 of every row of ``X``."""
    rng = np.random.default_rng(config.seed)
    if method == "kmeans":
        return KMeans(n_clusters=k, n_init=10, random_state=config.seed).fit_predict(X)
    if method == "gmm":
        return GaussianMixture(n_components=k, covariance_type="diag", reg_covar=1e-4, n_init=2,
                               random_state=config.seed).fit(X).predict(X)
    if method == "agglomerative":
        fit_rows = (np.sort(rng.choice(len(X), config.agglomerative_max, replace=False))
                    if len(X) > config.agglomerative_max else np.arange(len(X)))
        fitted = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(X[fit_rows])
        if len(fit_rows) == len(X):
            return fitted
        centroids = np.stack([X[fit_rows][fitted == c].mean(axis=0) for c in range(k)])
        return metrics.pairwise_distances_argmin(X, centroids)
    raise ValueError(f"unknown clustering method {method!r}; expected one of {METHODS}")


def sweep_ks(n_genres: int, n_tracks: int, config: ClusterConfig = ClusterConfig()) -> list[int]:
    """The k-means sweep: ``k_min``..``k_max`` (default 2 × genres), never more than tracks - 1."""
    k_max = config.k_max or 2 * n_genres
    return [k for k in range(max(2, config.k_min), k_max + 1) if k < n_tracks]


def cluster_branch(X: pd.DataFrame, genres: pd.Series, branch: str,
                   config: ClusterConfig = ClusterConfig()) -> list[Clustering]:
    """k-means over the sweep, the mixture and Ward at k = genres, each scored; on one branch."""
    values, y = X.to_numpy(dtype=float), genres.loc[X.index].astype(str)
    n_genres = y.nunique()
    runs = [("kmeans", k) for k in sweep_ks(n_genres, len(X), config)]
    if 2 <= n_genres < len(X):  # the comparison at k = genres always runs, whatever the sweep
        runs = [("kmeans", k) for k in sorted({k for _, k in runs} | {n_genres})]
        runs += [("gmm", n_genres), ("agglomerative", n_genres)]
    out = []
    for method, k in runs:
        labels = fit_clusters(values, method, k, config)
        scores = {**external_scores(y, labels),
                  "silhouette": silhouette(values, labels, config.silhouette_sample, config.seed)}
        out.append(Clustering(method, branch, k, pd.Series(labels, index=X.index, name="cluster"), scores))
    return out


def score_table(clusterings: list[Clustering]) -> pd.DataFrame:
    """One row per clustering, in :data:`SCORE_COLUMNS` order."""
    rows = [{"method": c.method, "branch": c.branch, "k": c.k, **c.scores} for c in clusterings]
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def embed_2d(X: pd.DataFrame, how: str, config: ClusterConfig = ClusterConfig()) -> pd.DataFrame:
    """2-D map (``pca`` or ``tsne``) of at most ``map_points`` tracks (seeded sample)."""
    if len(X) > config.map_points:
        X = X.sample(config.map_points, random_state=config.seed).sort_index()
    values = X.to_numpy(dtype=float)
    if how == "pca":
        xy = PCA(n_components=2, random_state=config.seed).fit_transform(values)
    elif how == "tsne":
        xy = TSNE(n_components=2, perplexity=min(30.0, max(2.0, (len(X) - 1) / 3.0)), init="pca",
                  random_state=config.seed).fit_transform(values)
    else:
        raise ValueError(f"unknown map {how!r}; expected 'pca' or 'tsne'")
    return pd.DataFrame(xy, index=X.index, columns=["x", "y"])


def map_png(xy: pd.DataFrame, colourings: dict[str, pd.Series], path: Path, title: str) -> Path:
    """Side-by-side scatter plots of one 2-D map, one panel per colouring (genre, clusters …)."""
    from fma_pipeline.core.learning.plots import plt  # Agg backend set there

    fig, axes = plt.subplots(1, len(colourings), figsize=(5.2 * len(colourings), 5), squeeze=False)
    for ax, (name, colour) in zip(axes[0], colourings.items()):
        values = colour.loc[xy.index]
        cmap = plt.get_cmap("tab20", max(values.nunique(), 1))
        for i, value in enumerate(sorted(values.unique())):  # clusters sort as numbers, genres as text
            rows = (values == value).to_numpy()
            ax.scatter(xy["x"][rows], xy["y"][rows], s=9, color=cmap(i), label=str(value), alpha=0.8)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
        if values.nunique() <= 20:
            ax.legend(fontsize=6, markerscale=1.5, loc="best", frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def sweep_png(scores: pd.DataFrame, path: Path, title: str) -> Path:
    """ARI, NMI and silhouette of k-means against k, one line per branch."""
    from fma_pipeline.core.learning.plots import plt

    sweep = scores[scores["method"] == "kmeans"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for ax, metric in zip(axes, ("ari", "nmi", "silhouette")):
        for branch, rows in sweep.groupby("branch"):
            ax.plot(rows["k"], rows[metric], marker="o", label=branch)
        ax.set_xlabel("k")
        ax.set_title(metric)
        ax.legend(frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
