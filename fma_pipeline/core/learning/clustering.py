"""Do the features group tracks by genre without being told the genres?

Three clusterers run on each feature branch (scaled, PCA): k-means over a sweep of k,
a Gaussian mixture and Ward agglomerative clustering with k = number of genres. Each
clustering is scored against the true genres (ARI, NMI, homogeneity, completeness,
V-measure, purity) and on its own (silhouette), so "the clusters are genres" and "the
clusters are well separated" are told apart.

Scale decisions: the Gaussian mixture uses diagonal covariances (full ones need far more
tracks than 708² parameters). Every cost that grows with tracks is bounded by a field of
:class:`ClusterConfig`: k-means and the mixture are fitted on a seeded sample stratified
by genre and then assign every track; k-means restarts shrink as the fitted sample grows
(except at k = genres, the comparison reported);
Ward (O(n²) memory) is fitted on a smaller sample and the rest join the nearest cluster
centroid; the sweep takes every second k on large branches; silhouettes and 2-D maps use
seeded samples. Each bound only bites above its size, so a few thousand tracks get the
exhaustive clusterings (10 restarts on every track, every k). ``bench/clusters.py``
measures the bounded and the exhaustive settings side by side at FMA size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn import metrics
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE
from sklearn.mixture import GaussianMixture

from fma_pipeline.core.settings import documented

METHODS: tuple[str, ...] = ("kmeans", "gmm", "agglomerative")
SCORE_COLUMNS: list[str] = ["method", "branch", "k", "ari", "nmi", "homogeneity", "completeness",
                            "v_measure", "purity", "silhouette"]


@dataclass(frozen=True)
class ClusterConfig:
    """The k sweep, the seed and the bounds that keep clustering affordable at FMA size.

    Each field's documentation (why it exists, why its default): ``settings.field_doc(ClusterConfig, name)``.

    Parameters
    ----------
    k_min : int
        Smallest k of the k-means sweep.
    k_max : int
        Largest k of the k-means sweep; 0 = twice the number of genres.
    seed : int
        Seed of every sample, seeding and restart.
    fit_max : int
        k-means and the Gaussian mixture are fitted on at most this many tracks, then assign every track.
    kmeans_n_init : int
        k-means restarts on small branches, and always at k = genres.
    restart_rows : int
        Elsewhere in the sweep, restarts x fitted tracks stay within this.
    kmeans_max_iter : int
        Lloyd iterations per k-means restart.
    coarse_sweep_above : int
        Above this many tracks on a branch the sweep takes every second k.
    silhouette_sample : int
        Silhouettes use at most this many tracks.
    agglomerative_max : int
        Ward is fitted on at most this many tracks; the rest join the nearest centroid.
    map_points : int
        Tracks drawn per 2-D map.

    Raises
    ------
    ValueError
        If any of the bounds (``fit_max`` … ``map_points``) is below 1.
    """

    k_min: int = documented(2, "Smallest k of the k-means sweep.")
    k_max: int = documented(0, "Largest k of the k-means sweep; 0 = twice the number of genres.")
    seed: int = documented(0, "Seed of every sample, seeding and restart.")
    fit_max: int = documented(10_000, (
        "k-means and the Gaussian mixture are fitted on at most this many tracks (a seeded sample "
        "stratified by genre), then every track is assigned to its nearest centre or likeliest "
        "component. Fit cost grows with tracks, and 10,000 already pin 12-24 centres down: on "
        "FMA-like data 4 restarts on 10,000 tracks scored within 0.01 ARI of 3 on 20,000 at half "
        "the cost. FMA large then costs what FMA medium does."))
    kmeans_n_init: int = documented(10, (
        "k-means restarts (the lowest inertia is kept) on small branches, and always at k = genres, "
        "the clustering the asset compares: on weakly clustered features several near-equal optima "
        "exist, and 4 restarts there cost ~0.02-0.03 ARI on FMA-like data."))
    restart_rows: int = documented(40_000, (
        "Elsewhere in the sweep, k-means restarts x fitted tracks stay within this (at least 1, at "
        "most kmeans_n_init): 10 restarts up to 4,000 tracks, 4 on a 10,000-track fit. Each restart "
        "is a full fit, and the sweep's curve needs the trend, not the best optimum of every k."))
    kmeans_max_iter: int = documented(100, (
        "Lloyd iterations per k-means restart (scikit-learn's default: 300). Weakly clustered "
        "features creep on for hundreds of iterations at large k (201 at k = 24 on 25,000 "
        "FMA-like tracks); stopping at 100 moved ARI and NMI there by about 0.01 and changed "
        "nothing at k = 12, which converged in 52, nor on small branches."))
    coarse_sweep_above: int = documented(10_000, (
        "Above this many tracks on a branch the k-means sweep takes every second k (k = genres and "
        "k_max always run): each k costs a k-means fit and a silhouette, and the curve keeps its "
        "shape at half the cost."))
    silhouette_sample: int = documented(5000, (
        "Silhouettes use at most this many tracks (one seeded sample per branch, whose pairwise "
        "distances are computed once for all its clusterings): n² distances, 200 MB at 5,000."))
    agglomerative_max: int = documented(7500, (
        "Ward is fitted on at most this many tracks (seeded sample stratified by genre); every "
        "track then joins the nearest cluster centroid. Ward keeps all n²/2 pairwise distances and "
        "its time grows faster than n²: 225 MB at 7,500 tracks, while 20,000 peaked at 3.8 GB and "
        "took 99 s on 708 columns. On FMA-like data 7,500 scored within 0.015 ARI of 20,000; "
        "5,000 lost 0.05 on the PCA branch."))
    map_points: int = documented(2000, "Tracks drawn per 2-D map (seeded sample): t-SNE's cost grows with them.")

    def __post_init__(self) -> None:
        small = [f"{name}={getattr(self, name)}" for name in ("fit_max", "kmeans_n_init", "restart_rows",
                                                              "kmeans_max_iter", "silhouette_sample",
                                                              "agglomerative_max", "map_points")
                 if getattr(self, name) < 1]
        if small:
            raise ValueError(f"cluster bounds must be at least 1: {', '.join(small)}")


@dataclass
class Clustering:
    """One clustering of one branch: assignments (track id -> cluster) and its scores.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    branch : str
        The feature branch clustered (``scaled`` or ``pca``).
    k : int
        Number of clusters.
    clusters : pandas.Series
        Cluster label of each track, indexed by track id.
    scores : dict of str to float
        External scores (see :func:`external_scores`) and ``silhouette``.
    """

    method: str
    branch: str
    k: int
    clusters: pd.Series
    scores: dict[str, float] = field(default_factory=dict)


def purity(genres: pd.Series | np.ndarray, clusters: pd.Series | np.ndarray) -> float:
    """Share of tracks whose cluster's most common genre is their own genre.

    Parameters
    ----------
    genres : pandas.Series or numpy.ndarray
        True genre of each track.
    clusters : pandas.Series or numpy.ndarray
        Cluster label of each track, in the same order.

    Returns
    -------
    float
        Purity in [0, 1]; NaN when there are no tracks.
    """
    table = pd.crosstab(np.asarray(clusters), np.asarray(genres))
    return float(table.max(axis=1).sum() / table.to_numpy().sum()) if table.size else float("nan")


def external_scores(genres: pd.Series | np.ndarray, clusters: pd.Series | np.ndarray) -> dict[str, float]:
    """Agreement of a clustering with the true genres (1 = the clusters are the genres).

    Parameters
    ----------
    genres : pandas.Series or numpy.ndarray
        True genre of each track.
    clusters : pandas.Series or numpy.ndarray
        Cluster label of each track, in the same order.

    Returns
    -------
    dict of str to float
        ``ari``, ``nmi``, ``homogeneity``, ``completeness``, ``v_measure`` and ``purity``.
    """
    y, c = np.asarray(genres), np.asarray(clusters)
    homogeneity, completeness, v_measure = metrics.homogeneity_completeness_v_measure(y, c)
    return {"ari": float(metrics.adjusted_rand_score(y, c)),
            "nmi": float(metrics.normalized_mutual_info_score(y, c)),
            "homogeneity": float(homogeneity), "completeness": float(completeness),
            "v_measure": float(v_measure), "purity": purity(y, c)}


def sample_rows(n: int, size: int, seed: int = 0, strata: np.ndarray | None = None) -> np.ndarray:
    """Sorted positions of a seeded sample of ``size`` of ``n`` rows; all rows when ``n <= size``.

    With ``strata`` (one code per row) each stratum keeps its share to within a row: the rows
    are ordered by stratum, randomly within one, and every (n / size)-th is taken.

    Parameters
    ----------
    n : int
        Number of rows to sample from.
    size : int
        Number of rows to keep.
    seed : int, default 0
        Seed of the random order.
    strata : numpy.ndarray or None, default None
        One stratum code per row (e.g. genre codes); None samples without strata.

    Returns
    -------
    numpy.ndarray
        Sorted row positions, ``min(n, size)`` of them.

    Examples
    --------
    >>> sample_rows(3, 5).tolist()
    [0, 1, 2]
    >>> len(sample_rows(100, 10, seed=1))
    10
    """
    if n <= size:
        return np.arange(n)
    keys = np.random.default_rng(seed).random(n)
    order = np.argsort(keys) if strata is None else np.lexsort((keys, np.asarray(strata)))
    return np.sort(order[np.arange(size) * n // size])


def silhouette_scorer(X: np.ndarray, sample: int = 5000, seed: int = 0) -> Callable[[np.ndarray], float]:
    """Mean silhouette (euclidean) of any clustering of ``X``'s rows, on one shared sample.

    The sample holds at most ``sample`` rows, seeded, whose pairwise distances are computed
    once; NaN when the silhouette is undefined.

    Parameters
    ----------
    X : numpy.ndarray
        Feature matrix, one row per track.
    sample : int, default 5000
        Most rows the silhouette is computed on.
    seed : int, default 0
        Seed of the sample.

    Returns
    -------
    Callable[[numpy.ndarray], float]
        Takes the cluster labels of every row of ``X``, returns their mean silhouette on the sample.
    """
    rows = sample_rows(len(X), sample, seed)
    distances = metrics.pairwise_distances(X[rows])

    def score(clusters: np.ndarray) -> float:
        labels = np.asarray(clusters)[rows]
        if not 2 <= len(np.unique(labels)) <= len(rows) - 1:
            return float("nan")
        return float(metrics.silhouette_score(distances, labels, metric="precomputed"))

    return score


def silhouette(X: np.ndarray, clusters: np.ndarray, sample: int = 5000, seed: int = 0) -> float:
    """Mean silhouette (euclidean) on at most ``sample`` tracks; NaN when it is undefined.

    Parameters
    ----------
    X : numpy.ndarray
        Feature matrix, one row per track.
    clusters : numpy.ndarray
        Cluster label of each row of ``X``.
    sample : int, default 5000
        Most rows the silhouette is computed on (a seeded sample).
    seed : int, default 0
        Seed of the sample.

    Returns
    -------
    float
    """
    return silhouette_scorer(X, sample, seed)(clusters)


def contingency(genres: pd.Series, clusters: pd.Series) -> pd.DataFrame:
    """Cluster × genre counts, with each cluster's dominant genre, its share and the cluster size.

    Parameters
    ----------
    genres : pandas.Series
        True genre of each track.
    clusters : pandas.Series
        Cluster label of each track, in the same order.

    Returns
    -------
    pandas.DataFrame
        One row per cluster, one count column per genre, then ``size``, ``dominant`` and ``dominant_share``.
    """
    table = pd.crosstab(pd.Series(np.asarray(clusters), name="cluster"),
                        pd.Series(np.asarray(genres), name="genre"))
    table.columns = table.columns.astype(str)
    counts = table.copy()
    table["size"] = counts.sum(axis=1)
    table["dominant"] = counts.idxmax(axis=1)
    table["dominant_share"] = counts.max(axis=1) / table["size"]
    return table


def kmeans_restarts(fit_rows: int, config: ClusterConfig = ClusterConfig()) -> int:
    """k-means restarts for a fit on ``fit_rows`` tracks: ``kmeans_n_init`` within ``restart_rows``.

    Parameters
    ----------
    fit_rows : int
        Tracks the k-means fit sees.
    config : ClusterConfig, default ClusterConfig()
        Supplies ``kmeans_n_init`` and ``restart_rows``.

    Returns
    -------
    int
        Between 1 and ``config.kmeans_n_init``.

    Examples
    --------
    >>> kmeans_restarts(4000), kmeans_restarts(10_000), kmeans_restarts(1_000_000)
    (10, 4, 1)
    """
    return max(1, min(config.kmeans_n_init, config.restart_rows // max(fit_rows, 1)))


def fit_clusters(X: np.ndarray, method: str, k: int, config: ClusterConfig = ClusterConfig(),
                 strata: np.ndarray | None = None, restarts: int | None = None) -> np.ndarray:
    """Cluster labels 0..k-1 of every row of ``X``, fitted on a bounded sample then assigned to every row.

    The sample is stratified by ``strata`` (e.g. genre codes) when given. k-means makes
    ``restarts`` restarts (default: :func:`kmeans_restarts` of the fitted sample).

    Parameters
    ----------
    X : numpy.ndarray
        Feature matrix, one row per track.
    method : str
        ``kmeans``, ``gmm`` or ``agglomerative`` (see :data:`METHODS`).
    k : int
        Number of clusters.
    config : ClusterConfig, default ClusterConfig()
        Seed and sample bounds.
    strata : numpy.ndarray or None, default None
        One stratum code per row for the fit sample.
    restarts : int or None, default None
        k-means restarts; None = :func:`kmeans_restarts`.

    Returns
    -------
    numpy.ndarray
        Cluster label of every row of ``X``.

    Raises
    ------
    ValueError
        If ``method`` is not one of :data:`METHODS`.
    """
    if method not in METHODS:
        raise ValueError(f"unknown clustering method {method!r}; expected one of {METHODS}")
    bound = config.agglomerative_max if method == "agglomerative" else config.fit_max
    fit_rows = sample_rows(len(X), bound, config.seed, strata)
    sample = X[fit_rows] if len(fit_rows) < len(X) else X
    if method == "kmeans":
        model = KMeans(n_clusters=k, n_init=restarts or kmeans_restarts(len(sample), config),
                       max_iter=config.kmeans_max_iter, random_state=config.seed)
    elif method == "gmm":
        model = GaussianMixture(n_components=k, covariance_type="diag", reg_covar=1e-4, n_init=2,
                                random_state=config.seed)
    else:
        fitted = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(sample)
        if sample is X:
            return fitted
        centroids = np.stack([sample[fitted == c].mean(axis=0) for c in range(k)])
        return metrics.pairwise_distances_argmin(X, centroids)
    return model.fit(sample).predict(X)


def sweep_ks(n_genres: int, n_tracks: int, config: ClusterConfig = ClusterConfig()) -> list[int]:
    """The k-means sweep: ``k_min``..``k_max`` (default 2 × genres).

    Every second k above ``coarse_sweep_above`` tracks (``k_max`` kept), never more than tracks - 1.

    Parameters
    ----------
    n_genres : int
        Number of genres on the branch.
    n_tracks : int
        Number of tracks on the branch.
    config : ClusterConfig, default ClusterConfig()
        Supplies ``k_min``, ``k_max`` and ``coarse_sweep_above``.

    Returns
    -------
    list of int
        The values of k, ascending.

    Examples
    --------
    >>> sweep_ks(3, 100)
    [2, 3, 4, 5, 6]
    >>> sweep_ks(3, 20_000)
    [2, 4, 6]
    """
    k_min, k_max = max(2, config.k_min), config.k_max or 2 * n_genres
    step = 2 if n_tracks > config.coarse_sweep_above else 1
    ks = set(range(k_min, k_max + 1, step)) | ({k_max} if k_max >= k_min else set())
    return sorted(k for k in ks if k < n_tracks)


def cluster_branch(X: pd.DataFrame, genres: pd.Series, branch: str,
                   config: ClusterConfig = ClusterConfig()) -> list[Clustering]:
    """k-means over the sweep, the mixture and Ward at k = genres, each scored; on one branch.

    Parameters
    ----------
    X : pandas.DataFrame
        The branch's feature matrix, indexed by track id.
    genres : pandas.Series
        True genre of each track (at least those of ``X``).
    branch : str
        Name recorded with each clustering.
    config : ClusterConfig, default ClusterConfig()
        Sweep, seed and bounds.

    Returns
    -------
    list of Clustering
        One per run; empty when there is nothing to cluster.
    """
    values, y = X.to_numpy(dtype=float), genres.loc[X.index].astype(str)
    n_genres, strata = y.nunique(), pd.factorize(y)[0]
    runs = [("kmeans", k) for k in sweep_ks(n_genres, len(X), config)]
    if 2 <= n_genres < len(X):  # the comparison at k = genres always runs, whatever the sweep
        runs = [("kmeans", k) for k in sorted({k for _, k in runs} | {n_genres})]
        runs += [("gmm", n_genres), ("agglomerative", n_genres)]
    if not runs:
        return []
    silhouette_of = silhouette_scorer(values, config.silhouette_sample, config.seed)
    out = []
    for method, k in runs:
        labels = fit_clusters(values, method, k, config, strata,
                              restarts=config.kmeans_n_init if k == n_genres else None)
        scores = {**external_scores(y, labels), "silhouette": silhouette_of(labels)}
        out.append(Clustering(method, branch, k, pd.Series(labels, index=X.index, name="cluster"), scores))
    return out


def score_table(clusterings: list[Clustering]) -> pd.DataFrame:
    """One row per clustering, in :data:`SCORE_COLUMNS` order.

    Parameters
    ----------
    clusterings : list of Clustering
        Scored clusterings, e.g. from :func:`cluster_branch`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SCORE_COLUMNS`.
    """
    rows = [{"method": c.method, "branch": c.branch, "k": c.k, **c.scores} for c in clusterings]
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def embed_2d(X: pd.DataFrame, how: str, config: ClusterConfig = ClusterConfig()) -> pd.DataFrame:
    """2-D map (``pca`` or ``tsne``) of at most ``map_points`` tracks (seeded sample).

    Parameters
    ----------
    X : pandas.DataFrame
        Feature matrix, indexed by track id.
    how : str
        ``pca`` or ``tsne``.
    config : ClusterConfig, default ClusterConfig()
        Supplies ``map_points`` and the seed.

    Returns
    -------
    pandas.DataFrame
        Columns ``x`` and ``y``, indexed by the mapped tracks' ids.

    Raises
    ------
    ValueError
        If ``how`` is neither ``pca`` nor ``tsne``.
    """
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
    """Side-by-side scatter plots of one 2-D map, one panel per colouring (genre, clusters …).

    Parameters
    ----------
    xy : pandas.DataFrame
        The map, columns ``x`` and ``y`` (see :func:`embed_2d`).
    colourings : dict of str to pandas.Series
        Panel title -> value of each track (covering ``xy``'s index).
    path : pathlib.Path
        The PNG to write.
    title : str
        The figure's title.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
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


def sweep_png(scores: pd.DataFrame, path: Path, title: str | None = None,
              metrics: tuple[str, ...] = ("ari", "nmi", "silhouette")) -> Path:
    """Scores of k-means against k: one panel per score, one line per branch.

    The one k-sweep figure: the ``genre_clusters`` asset's ``k_sweep.png`` and the report's.

    Parameters
    ----------
    scores : pandas.DataFrame
        A :func:`score_table`; only its ``kmeans`` rows are drawn.
    path : pathlib.Path
        The PNG to write.
    title : str or None, default None
        The figure's title; None = none.
    metrics : tuple of str, default ('ari', 'nmi', 'silhouette')
        The scores drawn, those the table has.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    from fma_pipeline.core.learning.plots import plt

    sweep = scores[scores["method"] == "kmeans"].sort_values("k")
    shown = [m for m in metrics if m in sweep]
    fig, axes = plt.subplots(1, len(shown), figsize=(3.3 * len(shown), 3.6), squeeze=False)
    for ax, metric in zip(axes[0], shown):
        for branch, rows in sweep.groupby("branch"):
            ax.plot(rows["k"], rows[metric], marker="o", label=str(branch))
        ax.set_xlabel("k (clusters)")
        ax.set_title(metric)
    axes[0][0].legend(frameon=False, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png", bbox_inches="tight")
    plt.close(fig)
    return path
