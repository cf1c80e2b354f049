"""Asset checks: the feature tables are complete, finite and shaped like FMA's.

Each check reads only the folders the run just materialised (its partition tags: one
``dagster/partition`` or a ``dagster/asset_partition_range_start``..``_end`` range), so a
156-folder backfill of one-folder runs reads each folder once, not the whole table each
time. A check launched on its own, outside a partitioned run, reads every stored folder.
"""


import dagster as dg
import numpy as np

from fma_pipeline.core.catalogue import TRACK_FEATURE_ERRORS, TRACK_FEATURES, DataRoot
from fma_pipeline.core.audio.extraction import FILE_COLUMNS, empty_features, feature_values
from fma_pipeline.core.audio.features import N_FEATURES, feature_columns
from fma_pipeline.core.fma.layout import FOLDERS, list_audio_files
from fma_pipeline.core.storage import parquet_rows, read_parquet
from fma_pipeline.orchestration.assets.features import track_features
from fma_pipeline.orchestration.resources import FmaData

PARTITION_TAG = "dagster/partition"
RANGE_TAGS = ("dagster/asset_partition_range_start", "dagster/asset_partition_range_end")


def run_partitions(tags: dict[str, str]) -> list[str] | None:
    """The folders a run materialised, from its tags; None when it names none (check all)."""
    if PARTITION_TAG in tags:
        return [tags[PARTITION_TAG]]
    if all(tag in tags for tag in RANGE_TAGS):
        first, last = (FOLDERS.index(tags[tag]) for tag in RANGE_TAGS)
        return list(FOLDERS[first:last + 1])
    return None


def stored_folders(root: DataRoot, keys: list[str] | None = None):
    """(folder key, features, errors) of the stored folders among ``keys`` (None = all)."""
    paths = root.partition_paths(TRACK_FEATURES) if keys is None else [
        p for p in (root.partition_path(TRACK_FEATURES, k) for k in keys) if p.exists()]
    for path in paths:
        errors_path = root.partition_path(TRACK_FEATURE_ERRORS, path.stem)
        errors = read_parquet(errors_path) if errors_path.exists() and parquet_rows(errors_path) else None
        yield path.stem, read_parquet(path) if parquet_rows(path) else empty_features(), errors


def _folders(context: dg.AssetCheckExecutionContext, fma: FmaData):
    return stored_folders(fma.catalogue, run_partitions(context.run.tags))


def non_finite_rows(folders) -> dict[str, int]:
    """Rows holding a NaN or infinite value, per folder (folders without any left out)."""
    bad = {key: int((~np.isfinite(feature_values(f).to_numpy(dtype=np.float64))).any(axis=1).sum())
           for key, f, _ in folders}
    return {k: v for k, v in bad.items() if v}


def wrong_widths(folders) -> dict[str, int]:
    """Folders whose feature columns are not exactly :func:`feature_columns`, with their width."""
    expected = list(feature_columns())
    widths = {key: [c for c in f.columns if c not in FILE_COLUMNS] for key, f, _ in folders}
    return {k: len(cols) for k, cols in widths.items() if cols != expected}


@dg.asset_check(asset=track_features, description="No NaN or infinite feature value.", blocking=True)
def features_are_finite(context: dg.AssetCheckExecutionContext, fma: FmaData) -> dg.AssetCheckResult:
    bad = non_finite_rows(_folders(context, fma))
    return dg.AssetCheckResult(passed=not bad, metadata={"rows_with_non_finite": sum(bad.values()),
                                                         "folders": str(sorted(bad))})


@dg.asset_check(asset=track_features, description="Feature rows + error rows = audio files in the folder.")
def every_file_accounted_for(context: dg.AssetCheckExecutionContext, fma: FmaData) -> dg.AssetCheckResult:
    mismatched = {}
    for key, features, errors in _folders(context, fma):
        files = len(list_audio_files(fma.audio_dir / key))
        stored = len(features) + (0 if errors is None else len(errors))
        if files != stored:
            mismatched[key] = f"{stored} rows for {files} files"
    return dg.AssetCheckResult(passed=not mismatched, metadata={"mismatched_folders": str(mismatched)},
                               severity=dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=track_features, blocking=True,
                description=f"Exactly the {N_FEATURES} feature columns in order: FMA's 518, then mfcc_corr.")
def has_all_feature_columns(context: dg.AssetCheckExecutionContext, fma: FmaData) -> dg.AssetCheckResult:
    """A folder written by a version with another feature set fails here until it is re-extracted."""
    wrong = wrong_widths(_folders(context, fma))
    return dg.AssetCheckResult(passed=not wrong, metadata={"wrong_widths": str(wrong)})


#: The checks of ``track_features``, run with every extraction (CLI, backfill, jobs).
feature_checks = [features_are_finite, every_file_accounted_for, has_all_feature_columns]
