"""The Dagster code location: ``dagster dev`` (see workspace.yaml) serves ``defs``."""

from __future__ import annotations

import warnings

import dagster as dg

from fma_pipeline.core import settings
from fma_pipeline.orchestration import checks
from fma_pipeline.orchestration.assets import clusters, features, learning, matrices, metadata, published, subgenres
from fma_pipeline.orchestration.instance import team_executor
from fma_pipeline.orchestration.io_manager import CatalogueIOManager
from fma_pipeline.orchestration.progress import Console
from fma_pipeline.orchestration.resources import Extraction, FmaData, MlflowTracker
from fma_pipeline.orchestration.schedules import rescan_schedule
from fma_pipeline.orchestration.sensors import DOWNSTREAM_CONDITION, downstream_automation_sensor, new_tracks_sensor

all_assets = dg.load_assets_from_modules([metadata, features, published, matrices, learning, clusters, subgenres])
all_checks = checks.feature_checks

#: Partitioned extraction; launch it for one folder, a range or all 156 (a backfill).
extract_features_job = dg.define_asset_job(
    "extract_features", selection=dg.AssetSelection.assets(features.folder_features),
    description="Extract audio features for the selected FMA folders.")
#: Everything downstream of the per-folder features, in one run.
train_job = dg.define_asset_job(
    "train_and_evaluate",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(features.folder_features),
    description="Metadata, feature matrices, classifiers and metrics from the extracted features.")


def resources(fma: FmaData | None = None, extraction: Extraction | None = None,
              mlflow_tracker: MlflowTracker | None = None, console: Console | None = None) -> dict[str, object]:
    """Every resource the assets need, the IO manager bound to the same data root as ``fma``.

    Defaults are read from the environment at load time: ``FMA_DATA_DIR`` (the data root,
    whose layout is the core's catalogue), ``FMA_MLFLOW_TRACKING_URI`` (a team's MLflow
    server; default SQLite under the data root; read by the catalogue, so the CLI agrees)
    and ``FMA_EXTRACTION_WORKERS`` (0 = one process per core; 1 on Celery workers, where a
    process pool inside a task breaks). Scripts and tests pass their own ``fma`` etc.; the CLI
    passes ``Console(progress=True)`` so that the runs it executes show progress on stderr.
    These are optional settings with defaults, so they are read here rather than through
    ``dg.EnvVar``, which has no default and fails a run whose variable is unset.
    """
    fma = fma or FmaData()
    workers = settings.EXTRACTION_WORKERS.read()
    return {"fma": fma, "extraction": extraction or Extraction(workers=workers),
            "mlflow_tracker": mlflow_tracker or MlflowTracker(), "console": console or Console(),
            "io_manager": CatalogueIOManager(fma=fma)}


with warnings.catch_warnings():  # map_resolved_asset_specs is "preview" in Dagster 1.13
    warnings.simplefilter("ignore", dg.PreviewWarning)
    defs = dg.Definitions(
        assets=all_assets,
        asset_checks=all_checks,
        jobs=[extract_features_job, train_job],
        sensors=[new_tracks_sensor, downstream_automation_sensor],
        schedules=[rescan_schedule],
        resources=resources(),
        executor=team_executor(),  # Celery when FMA_EXECUTOR=celery (deploy/), else Dagster's default
    ).map_resolved_asset_specs(  # downstream assets follow new features (see sensors.py)
        func=lambda spec: spec.replace_attributes(automation_condition=DOWNSTREAM_CONDITION),
        selection=dg.AssetSelection.all() - dg.AssetSelection.assets(features.folder_features),
    )
