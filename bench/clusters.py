"""Benchmark of ``genre_clusters`` at FMA size: a plain command that prints figures (never a test).

    python bench/clusters.py [--tracks 25000] [--settings old,new] [--branches scaled,pca]
                             [--spread 0] [--seed 0]

Makes an FMA-like feature matrix (``--tracks`` rows × 708 columns, 12 genres with FMA
medium's shares, each genre a mixture of three Gaussians in a 16-dimensional latent space,
mapped linearly to 708 columns with correlated and independent noise, standardised; the
PCA branch keeps 95 % of the variance, fitted on 80 % of the rows like ``pca_features``),
then times ``cluster_branch`` on each branch under each setting:

- ``old``: the settings before bounds (k-means with 10 restarts and up to 300 iterations
  on every track at every k = 2..24, the mixture on every track, Ward on up to 20,000);
- ``new``: the defaults of :class:`ClusterConfig`.

Each setting runs in a fresh process (its peak resident memory, input matrices included,
read from ``VmHWM`` after a reset once the data is made). Printed per branch: wall and CPU
seconds, the seconds spent per method (silhouettes included in the total only), the
number of clusterings, peak memory, the seconds of the branch's PCA and t-SNE maps
(``embed_2d``, timed apart), and the scores at k = genres side by side.
``--spread N`` then re-runs only the k = genres clusterings with N more seeds per setting
and prints each score's mean and range: on weakly clustered data which of several
near-equal k-means optima wins depends on the seed, and that spread is the yardstick for
"close". Always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fma_pipeline.core.learning import clustering  # noqa: E402
from fma_pipeline.core.learning.clustering import ClusterConfig  # noqa: E402

#: FMA medium's 12 top genres kept by the pipeline, with their track counts.
GENRE_SIZES = {"Rock": 7103, "Electronic": 6314, "Experimental": 2250, "Hip-Hop": 2201, "Folk": 1519,
               "Instrumental": 1350, "Pop": 1186, "Classical": 619, "Jazz": 384, "Country": 178,
               "Soul-RnB": 154, "Blues": 74}
N_COLUMNS, LATENT, NUISANCE = 708, 16, 200
UNBOUNDED = 10**9
SETTINGS = {
    "old": ClusterConfig(fit_max=UNBOUNDED, kmeans_n_init=10, restart_rows=UNBOUNDED, kmeans_max_iter=300,
                         coarse_sweep_above=UNBOUNDED, agglomerative_max=20_000),
    "new": ClusterConfig(),
}
SHOWN = ["ari", "nmi", "v_measure", "purity", "silhouette"]


def fma_like(tracks: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Scaled branch, PCA branch and genres of ``tracks`` FMA-like tracks (deterministic)."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    share = np.array(list(GENRE_SIZES.values()), dtype=float) / sum(GENRE_SIZES.values())
    counts = np.maximum(1, np.round(share * tracks).astype(int))
    counts[0] += tracks - counts.sum()
    latent = np.empty((tracks, LATENT))
    start = 0
    for count in counts:  # each genre: three sub-styles with their own spreads
        centres = rng.normal(0, 1.5, (3, LATENT))
        spread = rng.uniform(0.6, 1.2, LATENT)
        latent[start:start + count] = centres[rng.integers(0, 3, count)] + rng.normal(0, 1, (count, LATENT)) * spread
        start += count
    order = rng.permutation(tracks)
    latent, genres = latent[order], np.repeat(list(GENRE_SIZES), counts)[order]
    X = (latent @ rng.normal(0, 1, (LATENT, N_COLUMNS))).astype(np.float32)
    nuisance = rng.standard_normal((tracks, NUISANCE), dtype=np.float32) * (3 * np.arange(1, NUISANCE + 1) ** -0.3)
    X += nuisance.astype(np.float32) @ rng.normal(0, 1, (NUISANCE, N_COLUMNS)).astype(np.float32)
    X += rng.standard_normal((tracks, N_COLUMNS), dtype=np.float32)
    del latent, nuisance
    index = pd.RangeIndex(1, tracks + 1, name="track_id")
    scaled = pd.DataFrame(StandardScaler().fit_transform(X).astype(float), index=index,
                          columns=[f"f{i:03d}" for i in range(N_COLUMNS)])
    del X
    pca = PCA(n_components=0.95, svd_solver="full", random_state=0).fit(scaled.iloc[: int(0.8 * tracks)])
    components = pd.DataFrame(pca.transform(scaled), index=index,
                              columns=[f"pc{i + 1:03d}" for i in range(pca.n_components_)])
    return scaled, components, pd.Series(genres, index=index, name="genre")


def peak_rss_mb(reset: bool = False) -> float:
    """Peak resident memory of this process (MB); ``reset`` starts a new peak from now (Linux)."""
    if reset:
        Path("/proc/self/clear_refs").write_text("5")
    from fma_pipeline.core.procfs import status_kib

    kib = status_kib("self", "VmHWM")
    return float("nan") if kib is None else kib / 1024


def child(setting: str, tracks: int, seed: int, branches: list[str], only_k_genres: bool) -> None:
    """One setting in this process: print one JSON line per branch."""
    started = time.perf_counter()
    scaled, pca, genres = fma_like(tracks, seed=0)
    data = {"scaled": scaled, "pca": pca}
    made = time.perf_counter() - started
    n_genres = genres.nunique()
    config = replace(SETTINGS[setting], seed=seed,
                     **({"k_min": n_genres, "k_max": n_genres} if only_k_genres else {}))
    spent: dict[str, float] = {}
    fit_clusters = clustering.fit_clusters

    def timed(X, method, *args, **kwargs):
        t = time.perf_counter()
        try:
            return fit_clusters(X, method, *args, **kwargs)
        finally:
            spent[method] = spent.get(method, 0.0) + time.perf_counter() - t

    clustering.fit_clusters = timed  # cluster_branch looks it up at call time
    for branch in branches:
        spent.clear()
        peak_rss_mb(reset=True)
        wall, cpu = time.perf_counter(), time.process_time()
        runs = clustering.cluster_branch(data[branch], genres, branch, config)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        maps = time.perf_counter()
        for how in ("pca", "tsne"):  # the asset's two maps of this branch
            clustering.embed_2d(data[branch], how, config)
        maps = time.perf_counter() - maps
        at_k = {c.method: {m: c.scores[m] for m in SHOWN} for c in runs if c.k == n_genres}
        print(json.dumps({"setting": setting, "seed": seed, "branch": branch, "columns": data[branch].shape[1],
                          "wall": wall, "cpu": cpu, "maps": maps, "peak_mb": peak_rss_mb(), "spent": spent, "runs": len(runs),
                          "ks": sorted(c.k for c in runs if c.method == "kmeans"), "at_k": at_k,
                          "data_seconds": made}), flush=True)


def run_child(setting: str, args, seed: int, only_k_genres: bool) -> list[dict]:
    command = [sys.executable, __file__, "--child", setting, "--tracks", str(args.tracks), "--seed", str(seed),
               "--branches", ",".join(args.branches)] + (["--only-k-genres"] if only_k_genres else [])
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode:
        print(f"  {setting} (seed {seed}) failed:\n{done.stderr[-2000:]}")
        return []
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracks", type=int, default=25_000)
    parser.add_argument("--settings", type=lambda s: s.split(","), default=["old", "new"])
    parser.add_argument("--branches", type=lambda s: s.split(","), default=["scaled", "pca"])
    parser.add_argument("--spread", type=int, default=0, help="extra seeds at k = genres only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", choices=list(SETTINGS), help=argparse.SUPPRESS)
    parser.add_argument("--only-k-genres", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.tracks, args.seed, args.branches, args.only_k_genres)
        return
    print(f"genre_clusters bench: {args.tracks:,} FMA-like tracks x {N_COLUMNS} columns, 12 genres; "
          f"{os.cpu_count()} cores, Python {platform.python_version()}, load {os.getloadavg()[0]:.1f}")
    results = []
    for setting in args.settings:
        print(f"\n== {setting}: {SETTINGS[setting]}", flush=True)
        for r in run_child(setting, args, args.seed, only_k_genres=False):
            results.append(r)
            spent = ", ".join(f"{m} {s:.0f}s" for m, s in r["spent"].items())
            print(f"  {r['branch']:6} ({r['columns']} columns): {r['wall']:7.1f} s wall, {r['cpu']:7.1f} s CPU, "
                  f"peak {r['peak_mb']:6.0f} MB; {r['runs']} clusterings, k-means k = {r['ks']}; {spent}; "
                  f"maps {r['maps']:.0f}s",
                  flush=True)
    if results:
        print(f"\nTotals over the branches (without MLflow; data made in {results[0]['data_seconds']:.0f} s):")
        for setting in args.settings:
            mine = [r for r in results if r["setting"] == setting]
            if mine:
                print(f"  {setting}: {sum(r['wall'] for r in mine):7.1f} s wall, "
                      f"{sum(r['cpu'] for r in mine):7.1f} s CPU, peak {max(r['peak_mb'] for r in mine):.0f} MB; "
                      f"with the PCA and t-SNE maps {sum(r['wall'] + r['maps'] for r in mine):.1f} s wall")
        rows = [{"branch": r["branch"], "method": m, "setting": r["setting"], **s}
                for r in results for m, s in r["at_k"].items()]
        table = pd.DataFrame(rows).set_index(["branch", "method", "setting"]).sort_index()
        print(f"\nScores at k = genres (seed {args.seed}):\n{table.to_string(float_format='{:.3f}'.format)}")
    if args.spread:
        seeds = [args.seed + 1 + i for i in range(args.spread)]
        print(f"\nSpread at k = genres over seeds {[args.seed, *seeds]} (mean [min, max]):", flush=True)
        rows = [{"branch": r["branch"], "method": m, "setting": r["setting"], **s}
                for r in results for m, s in r["at_k"].items()]
        for setting in args.settings:
            for seed in seeds:
                rows += [{"branch": r["branch"], "method": m, "setting": setting, **s}
                         for r in run_child(setting, args, seed, only_k_genres=True) for m, s in r["at_k"].items()]
        frame = pd.DataFrame(rows)
        if frame.empty:
            return
        summary = frame.groupby(["branch", "method", "setting"])[["ari", "nmi", "purity"]].agg(["mean", "min", "max"])
        for key, row in summary.iterrows():
            cells = "  ".join(f"{m} {row[(m, 'mean')]:.3f} [{row[(m, 'min')]:.3f}, {row[(m, 'max')]:.3f}]"
                              for m in ("ari", "nmi", "purity"))
            print(f"  {' '.join(key):28} {cells}")


if __name__ == "__main__":
    main()
