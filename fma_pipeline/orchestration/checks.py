"""Asset checks: the feature tables are complete, finite and shaped like FMA's."""


import dagster as dg
import numpy as np

from fma_pipeline.core.extraction import empty_features, feature_values
from fma_pipeline.core.features import N_FEATURES
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


@dg.asset_check(asset=track_features, description="Exactly FMA's 518 feature columns.", blocking=True)
def has_518_columns(fma: FmaData) -> dg.AssetCheckResult:
    widths = {key: feature_values(f).shape[1] for key, f, _ in _materialised(fma)}
    wrong = {k: w for k, w in widths.items() if w != N_FEATURES}
    return dg.AssetCheckResult(passed=not wrong, metadata={"wrong_widths": str(wrong)})
