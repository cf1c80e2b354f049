"""``subgenre_labels`` (from the genre tree) and ``subgenre_classifiers`` (logged to MLflow)."""


import dagster as dg
import pandas as pd
from pydantic import Field

from fma_pipeline.core.catalogue import AssetFiles
from fma_pipeline.core.learning.subgenre_training import TABLE_COLUMNS, SubgenreConfig, train_subgenres
from fma_pipeline.core.fma.metadata import read_genres
from fma_pipeline.core.fma.subgenres import DEFAULT_MIN_TRACKS, derive_subgenres, subgenre_counts
from fma_pipeline.core.tracking import log_nested_runs, trained_model_run
from fma_pipeline.orchestration.config import mirrored
from fma_pipeline.orchestration.metadata_tables import markdown_table
from fma_pipeline.orchestration.progress import Console
from fma_pipeline.orchestration.resources import FmaData, MlflowTracker

EXPERIMENT = "fma-subgenre-classification"


class SubgenreLabelsConfig(dg.Config):
    min_tracks: int = Field(default=DEFAULT_MIN_TRACKS, ge=1,
                            description="Sub-genres with fewer tracks fold into their parent.")


@dg.asset(group_name="metadata", kinds={"pandas", "parquet"})
def subgenre_labels(config: SubgenreLabelsConfig, fma: FmaData, tracks: AssetFiles) -> dg.Output:
    """Each track's most specific genre under its top-level genre, small sub-genres folded upward.

    Tracks that fold to their top-level genre keep a row with no sub-genre
    (``has_subgenre`` False); the sub-genre classifiers leave them out.
    """
    labels = derive_subgenres(tracks.read(), read_genres(fma.catalogue.genres_csv), config.min_tracks)
    return dg.Output(labels, metadata={
        "dagster/row_count": len(labels), "min_tracks": config.min_tracks,
        "with_subgenre": int(labels["has_subgenre"].sum()),
        "subgenres": int(labels["subgenre"].nunique()),
        "counts": markdown_table(subgenre_counts(labels), max_rows=200),
    })


SubgenreClassifiersConfig = mirrored(SubgenreConfig, "SubgenreClassifiersConfig",
                                     "Run config of subgenre_classifiers: every SubgenreConfig field.")


def _child(name: str, trained) -> dict:
    """One MLflow child run (the zoo's mapping of a trained model), and which sub-genres it tells apart."""
    run = trained_model_run(trained, name)
    return {**run, "params": {**run["params"], "classifier": name, "classes": ", ".join(trained.extra["classes"]),
                              "left_out": ", ".join(trained.extra.get("left_out", []))}}


@dg.asset(group_name="learning", kinds={"sklearn", "mlflow"})
def subgenre_classifiers(context: dg.AssetExecutionContext, config: SubgenreClassifiersConfig, fma: FmaData,
                         mlflow_tracker: MlflowTracker, console: Console, feature_matrix: AssetFiles,
                         subgenre_labels: AssetFiles) -> dg.Output:
    """Sub-genre classifiers per top-level genre, flat and hierarchical, on FMA's artist split.

    With no top-level genre holding two sub-genres of enough tracks, the table is empty
    and the metadata says why; that is a property of the data, not a failure.
    """
    X = feature_matrix.read()
    results = train_subgenres(X, subgenre_labels.read(), config.to_core(), progress=console.logger(context))
    table = results.table.astype({c: float for c in TABLE_COLUMNS[4:8] + ["cv_macro_f1"]})
    skipped = pd.DataFrame({"reason": results.skipped}).rename_axis("classifier")
    metadata = {"dagster/row_count": len(table), "scores": markdown_table(table),
                "skipped": markdown_table(skipped) if len(skipped) else "none"}
    if not results.models:
        metadata["note"] = ("No top-level genre has two sub-genres with enough tracks and artists: "
                            "lower subgenre_labels' min_tracks or add data. The table is empty.")
        return dg.Output(table, metadata=metadata)
    logged = log_nested_runs(mlflow_tracker.store(fma), experiment=EXPERIMENT,
                             run_name=f"subgenre_classifiers {context.run.run_id[:8]}",
                             params={**config.to_core().__dict__, "n_tracks": len(X),
                                     "skipped": results.skipped},
                             children=[_child(n, m) for n, m in results.models.items()],
                             tables={"subgenre_scores.csv": table}, X_example=X)
    metadata["mlflow_parent_run"] = logged["parent_run_id"]
    return dg.Output(table, metadata=metadata)
