"""``subgenre_labels`` (from the genre tree) and ``subgenre_classifiers`` (logged to MLflow)."""


import dagster as dg
import pandas as pd
from pydantic import Field

from fma_pipeline.core.learning.families import FAMILY_SETS
from fma_pipeline.core.learning.subgenre_training import TABLE_COLUMNS, SubgenreConfig, train_subgenres
from fma_pipeline.core.metadata import read_genres
from fma_pipeline.core.storage import read_parquet, write_parquet
from fma_pipeline.core.subgenres import DEFAULT_MIN_TRACKS, derive_subgenres, subgenre_counts
from fma_pipeline.core.tracking import log_nested_runs
from fma_pipeline.orchestration.assets.matrices import scaled_features
from fma_pipeline.orchestration.assets.metadata import tracks
from fma_pipeline.orchestration.metadata_tables import markdown_table
from fma_pipeline.orchestration.progress import progress_logger
from fma_pipeline.orchestration.resources import FmaData, MlflowTracker

EXPERIMENT = "fma-subgenre-classification"


class SubgenreLabelsConfig(dg.Config):
    min_tracks: int = Field(default=DEFAULT_MIN_TRACKS, ge=1,
                            description="Sub-genres with fewer tracks fold into their parent.")


@dg.asset(group_name="metadata", deps=[tracks], kinds={"pandas", "parquet"})
def subgenre_labels(config: SubgenreLabelsConfig, fma: FmaData) -> dg.MaterializeResult:
    """Each track's most specific genre under its top-level genre, small sub-genres folded upward.

    Tracks that fold to their top-level genre keep a row with no sub-genre
    (``has_subgenre`` False); the sub-genre classifiers leave them out.
    """
    selected = read_parquet(fma.output("tracks.parquet"))
    labels = derive_subgenres(selected, read_genres(fma.metadata_dir / "genres.csv"), config.min_tracks)
    write_parquet(labels, fma.output("subgenre_labels.parquet"))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(labels), "min_tracks": config.min_tracks,
        "with_subgenre": int(labels["has_subgenre"].sum()),
        "subgenres": int(labels["subgenre"].nunique()),
        "counts": markdown_table(subgenre_counts(labels), max_rows=200),
    })


class SubgenreClassifiersConfig(dg.Config):
    models: list[str] = Field(default=list(SubgenreConfig.models),
                              description="Zoo entries; the best by artist-grouped CV macro-F1 is kept.")
    branch: str = Field(default="scaled", description="scaled or pca pipeline.")
    cv_folds: int = Field(default=SubgenreConfig.cv_folds, description="Artist-grouped CV folds (fewer when artists are few).")
    n_jobs: int = Field(default=-1, description="Parallel grid-search jobs (-1 = all cores).")
    seed: int = 0
    search: str = Field(default="grid", description="'grid' or 'random' (randomised search over wider spaces).")
    search_iterations: int = Field(default=12, description="Random search budget: candidates per model.")
    families: list[str] = Field(default=list(FAMILY_SETS), description="Feature family sets the search may choose "
                                "from: fma, fma_timbre, all, timbre.")
    tune_tracks: int = Field(default=SubgenreConfig.tune_tracks, description="Each classifier's search runs on "
                             "an artist-grouped sample of at most this many training tracks; 0 = all.")

    def training(self) -> SubgenreConfig:
        return SubgenreConfig(models=tuple(self.models), branch=self.branch, cv_folds=self.cv_folds,
                              n_jobs=self.n_jobs, seed=self.seed, search=self.search,
                              search_iterations=self.search_iterations, families=tuple(self.families),
                              tune_tracks=self.tune_tracks)


def _child(name: str, trained) -> dict:
    """One MLflow child run: choice, test scores, per-class table, confusion matrix, model."""
    return {"name": name, "model": trained.pipeline,
            "params": {"classifier": name, "model": trained.model, "branch": trained.branch,
                       "classes": ", ".join(trained.extra["classes"]),
                       "left_out": ", ".join(trained.extra.get("left_out", [])),
                       "cv_candidates": trained.extra.get("candidates", {}),
                       **{f"param.{k}": v for k, v in trained.best_params.items()}},
            "metrics": {**{f"test_{k}": v for k, v in trained.test.items()}, "cv_macro_f1": trained.cv_macro_f1,
                        "n_train": trained.extra["n_train"], "n_test": trained.extra["n_test"]},
            "tables": {"per_class.csv": trained.per_class, "confusion.csv": trained.confusion}}


@dg.asset(group_name="learning", deps=[subgenre_labels, scaled_features], kinds={"sklearn", "mlflow"})
def subgenre_classifiers(context: dg.AssetExecutionContext, config: SubgenreClassifiersConfig, fma: FmaData,
                         mlflow_tracker: MlflowTracker) -> dg.MaterializeResult:
    """Sub-genre classifiers per top-level genre, flat and hierarchical, on FMA's artist split.

    With no top-level genre holding two sub-genres of enough tracks, the table is empty
    and the metadata says why; that is a property of the data, not a failure.
    """
    X = read_parquet(fma.output("feature_matrix.parquet"))
    labels = read_parquet(fma.output("subgenre_labels.parquet"))
    results = train_subgenres(X, labels, config.training(), progress=progress_logger(context))
    table = results.table.astype({c: float for c in TABLE_COLUMNS[4:8] + ["cv_macro_f1"]})
    write_parquet(table, fma.output("subgenre_scores.parquet"))
    skipped = pd.DataFrame({"reason": results.skipped}).rename_axis("classifier")
    metadata = {"dagster/row_count": len(table), "scores": markdown_table(table),
                "skipped": markdown_table(skipped) if len(skipped) else "none"}
    if not results.models:
        metadata["note"] = ("No top-level genre has two sub-genres with enough tracks and artists: "
                            "lower subgenre_labels' min_tracks or add data. The table is empty.")
        return dg.MaterializeResult(metadata=metadata)
    logged = log_nested_runs(mlflow_tracker.store(fma), experiment=EXPERIMENT,
                             run_name=f"subgenre_classifiers {context.run.run_id[:8]}",
                             params={**config.training().__dict__, "n_tracks": len(X),
                                     "skipped": results.skipped},
                             children=[_child(n, m) for n, m in results.models.items()],
                             tables={"subgenre_scores.csv": table}, X_example=X)
    metadata["mlflow_parent_run"] = logged["parent_run_id"]
    return dg.MaterializeResult(metadata=metadata)
