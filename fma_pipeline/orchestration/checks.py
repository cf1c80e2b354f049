"""Asset checks: the feature tables are complete, finite and shaped like FMA's."""


import dagster as dg
import numpy as np

from fma_pipeline.core.extraction import FILE_COLUMNS, empty_features, feature_values
from fma_pipeline.core.features import N_FEATURES, feature_columns
from fma_pipeline.core.fma import list_audio_files
from fma_pipeline.core.storage import parquet_rows, read_parquet
from fma_pipeline.orchestration.assets.features import ERRORS, FEATURES, track_features
from fma_pipeline.orchestration.resources import FmaData


def _materialised(fma: FmaData):
    """(folder key, features, errors) of every folder with stored output; empty ones cheaply."""
    for path in sorted((fma.pipeline_dir / FEATURES).glob("[0-9][0-9][0-9].parquet")):
        errors_path = fma.partition_output(ERRORS, path.stem)
        errors = read_parquet(errors_path) if errors_path.exists() and parquet_rows(errors_path) else None
        yield path.stem, read_parquet(path) if parquet_rows(path) else empty_features(), errors


@dg.asset_check(asset=track_features, description="No NaN or infinite feature value.", blocking=True)
def features_are_finite(fma: FmaData) -> dg.AssetCheckResult:
    bad = {key: int((~np.isfinite(feature_values(f).to_numpy(dtype=np.float64))).any(axis=1).sum())
           for key, f, _ in _materialised(fma)}
    bad = {k: v for k, v in bad.items() if v}
    return dg.AssetCheckResult(passed=not bad, metadata={"rows_with_non_finite": sum(bad.values()),
                                                         "folders": str(sorted(bad))})


@dg.asset_check(asset=track_features, description="Feature rows + error rows = audio files in the folder.")
def every_file_accounted_for(fma: FmaData) -> dg.AssetCheckResult:
    mismatched = {}
    for key, features, errors in _materialised(fma):
        files = len(list_audio_files(fma.audio_dir / key))
        stored = len(features) + (0 if errors is None else len(errors))
        if files != stored:
            mismatched[key] = f"{stored} rows for {files} files"
    return dg.AssetCheckResult(passed=not mismatched, metadata={"mismatched_folders": str(mismatched)},
                               severity=dg.AssetCheckSeverity.WARN)


@dg.asset_check(asset=track_features, blocking=True,
                description=f"Exactly the {N_FEATURES} feature columns in order: FMA's 518, then mfcc_corr.")
def has_all_feature_columns(fma: FmaData) -> dg.AssetCheckResult:
    """A folder written by a version with another feature set fails here until it is re-extracted."""
    expected = list(feature_columns())
    widths = {key: [c for c in f.columns if c not in FILE_COLUMNS] for key, f, _ in _materialised(fma)}
    wrong = {k: len(cols) for k, cols in widths.items() if cols != expected}
    return dg.AssetCheckResult(passed=not wrong, metadata={"wrong_widths": str(wrong)})
