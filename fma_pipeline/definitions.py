"""The Dagster code location: ``dagster dev`` (see workspace.yaml) serves ``defs``."""

from __future__ import annotations

import dagster as dg

from fma_pipeline.orchestration import checks
from fma_pipeline.orchestration.assets import clusters, features, learning, matrices, metadata, subgenres
from fma_pipeline.orchestration.resources import Extraction, FmaData, MlflowTracker

all_assets = dg.load_assets_from_modules([metadata, features, matrices, learning, clusters, subgenres])
all_checks = dg.load_asset_checks_from_modules([checks])

#: Partitioned extraction; launch it for one folder, a range or all 156 (a backfill).
extract_features_job = dg.define_asset_job(
    "extract_features", selection=dg.AssetSelection.assets(features.track_features),
    description="Extract audio features for the selected FMA folders.")
#: Everything downstream of the per-folder features, in one run.
train_job = dg.define_asset_job(
    "train_and_evaluate",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(features.track_features),
    description="Metadata, feature matrices, classifiers and metrics from the extracted features.")


def resources() -> dict[str, object]:
    """Resources read from the environment (``FMA_DATA_DIR``) at load time."""
    return {"fma": FmaData(), "extraction": Extraction(), "mlflow_tracker": MlflowTracker()}


defs = dg.Definitions(
    assets=all_assets,
    asset_checks=all_checks,
    jobs=[extract_features_job, train_job],
    resources=resources(),
)
