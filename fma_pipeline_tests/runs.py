"""Materialise the pipeline on a generated sample, in-process, for the module fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg

from fma_pipeline.core.fma.layout import FOLDERS
from fma_pipeline.definitions import all_assets, all_checks
from fma_pipeline.definitions import resources as pipeline_resources
from fma_pipeline.orchestration.assets.features import folder_features
from fma_pipeline.orchestration.checks import feature_checks
from fma_pipeline.orchestration.resources import Extraction, FmaData


def materialise_sample(sample: Path, root: Path, run_config: dict, selection=None):
    """Copy ``sample`` to ``root``, extract every folder (with the feature checks), then the
    downstream ``selection`` (default: everything else). Returns ``(instance, features, rest)``."""
    shutil.copytree(sample, root, dirs_exist_ok=True)
    instance = dg.DagsterInstance.ephemeral()
    resources = pipeline_resources(FmaData(data_dir=str(root)), Extraction(workers=2))
    features = dg.materialize([folder_features, *feature_checks], instance=instance, resources=resources,
                              tags={"dagster/asset_partition_range_start": FOLDERS[0],
                                    "dagster/asset_partition_range_end": FOLDERS[-1]})
    downstream = dg.AssetSelection.all() if selection is None else selection
    rest = dg.materialize([*all_assets, *all_checks], instance=instance, resources=resources,
                          selection=downstream - dg.AssetSelection.assets(folder_features), run_config=run_config)
    return instance, features, rest
