"""``genre_clusters``: unsupervised clusterings of both feature branches, scored against the genres."""

from pathlib import Path

import dagster as dg
import pandas as pd
from pydantic import Field

from fma_pipeline.core.catalogue import CLUSTER_CONTINGENCY, CLUSTER_MAPS, AssetFiles
from fma_pipeline.core.learning import clustering
from fma_pipeline.core.storage import atomic_path, write_parquet
from fma_pipeline.core.tracking import log_nested_runs
from fma_pipeline.orchestration.config import mirrored
from fma_pipeline.orchestration.metadata_tables import markdown_table
from fma_pipeline.orchestration.resources import FmaData, MlflowTracker

EXPERIMENT = "fma-genre-clusters"
BRANCHES = ("scaled", "pca")
MAP_NAMES = {"pca": "PCA", "tsne": "t-SNE"}


ClustersConfig = mirrored(
    clustering.ClusterConfig, "ClustersConfig",
    "Run config of genre_clusters: which branches and maps, and every ClusterConfig field.",
    extra={"branches": (list[str], Field(default=list(BRANCHES), description="scaled and/or pca.")),
           "maps": (list[str], Field(default=["pca", "tsne"], description="2-D maps to draw: pca and/or tsne."))})


def _save_png(draw, target: Path, **kwargs) -> Path:
    """Draw into a temporary ``.png`` beside ``target``, then rename it (readers never see half a PNG)."""
    with atomic_path(target) as tmp:
        draw(path=tmp, **kwargs)
    return target


def _draw(folder: Path, features: dict[str, pd.DataFrame], genres: pd.Series, main: list[clustering.Clustering],
          scores: pd.DataFrame, maps: list[str], settings: clustering.ClusterConfig) -> list[Path]:
    """The k sweep, then per branch and map one figure: true genres beside each clustering."""
    paths = [_save_png(clustering.sweep_png, folder / "k_sweep.png", scores=scores, title="k-means sweep")]
    for branch, X in features.items():
        colourings = {"true genre": genres, **{f"{c.method} (k={c.k})": c.clusters
                                               for c in main if c.branch == branch}}
        for how in maps:
            paths.append(_save_png(clustering.map_png, folder / f"{branch}_branch_{how}.png",
                                   xy=clustering.embed_2d(X, how, settings), colourings=colourings,
                                   title=f"{MAP_NAMES[how]} map of the {branch} branch"))
    return paths


@dg.asset(group_name="learning", kinds={"sklearn", "mlflow"})
def genre_clusters(context: dg.AssetExecutionContext, config: ClustersConfig, fma: FmaData,
                   mlflow_tracker: MlflowTracker, tracks: AssetFiles, scaled_features: AssetFiles,
                   pca_features: AssetFiles) -> dg.Output:
    """k-means (k sweep), Gaussian mixture and Ward on both branches, against the true genres.

    Answers whether genre is visible in the features without labels: external scores
    (ARI, NMI, V-measure, purity), silhouettes, cluster × genre tables and 2-D maps.
    """
    unknown = set(config.branches) - set(BRANCHES) or set(config.maps) - set(MAP_NAMES)
    if unknown:
        raise ValueError(f"unknown branches or maps {sorted(unknown)}: branches {list(BRANCHES)}, maps pca/tsne")
    settings = config.to_core()
    genres = tracks.read()["genre"].astype(str)
    branch_inputs = {"scaled": scaled_features, "pca": pca_features}
    features = {b: branch_inputs[b].read() for b in config.branches}
    runs = [c for b, X in features.items() for c in clustering.cluster_branch(X, genres, b, settings)]
    scores = clustering.score_table(runs)
    n_genres = genres.loc[next(iter(features.values())).index].nunique()
    main = [c for c in runs if c.k == n_genres]
    figures = fma.catalogue.path(CLUSTER_MAPS)
    maps = _draw(figures, features, genres, main, scores, config.maps, settings)
    tables = {f"{c.method}/{c.branch}": clustering.contingency(genres.loc[c.clusters.index], c.clusters)
              for c in main}
    for key, table in tables.items():  # the report draws these (cluster x genre counts)
        write_parquet(table, fma.catalogue.path(CLUSTER_CONTINGENCY) / f"{key.replace('/', '_')}.parquet")
    children = [{"name": key, "params": {"method": c.method, "branch": c.branch, "k": c.k},
                 "metrics": c.scores, "tables": {"contingency.csv": tables[key],
                                                 "k_sweep.csv": scores[scores["branch"] == c.branch]},
                 "artifacts": [p for p in maps if p.name.startswith(f"{c.branch}_branch_")]}
                for key, c in zip(tables, main)]
    logged = log_nested_runs(mlflow_tracker.store(fma), experiment=EXPERIMENT,
                             run_name=f"genre_clusters {context.run.run_id[:8]}",
                             params={**settings.__dict__, "branches": config.branches, "n_genres": n_genres},
                             children=children, tables={"cluster_scores.csv": scores}, artifacts=maps)
    shown = ["size", "dominant", "dominant_share"]
    return dg.Output(scores, metadata={
        "dagster/row_count": len(scores), "genres": n_genres, "tracks": len(next(iter(features.values()))),
        "scores_at_k_genres": markdown_table(clustering.score_table(main)),
        "kmeans_sweep": markdown_table(scores[scores["method"] == "kmeans"], max_rows=200),
        **{f"contingency_{k.replace('/', '_')}": markdown_table(t, floatfmt=".2f") for k, t in tables.items()},
        "dominant_genres": markdown_table(pd.concat({k: t[shown] for k, t in tables.items()}, names=["clustering"])
                                          .reset_index() if tables else pd.DataFrame(columns=shown),
                                          floatfmt=".2f", max_rows=500),
        "maps": dg.MetadataValue.path(str(figures)),
        "mlflow_parent_run": logged["parent_run_id"],
    })
