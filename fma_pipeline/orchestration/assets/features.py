"""Feature assets: ``track_features`` and ``segment_features`` per FMA folder (one extraction,
``folder_features``), ``extraction_errors``, ``feature_matrix``, ``segment_matrix``."""


import contextlib
import os
import sys

import dagster as dg
import pandas as pd

from fma_pipeline.core.extraction import FolderResult, extract_folders, feature_values
from fma_pipeline.core.features import N_FEATURES, flat_feature_names
from fma_pipeline.core.storage import parquet_rows, read_parquet, write_parquet, write_parquet_parts
from fma_pipeline.orchestration.partitions import folder_partitions, partitions_per_run
from fma_pipeline.orchestration.progress import PROGRESS_ENV
from fma_pipeline.orchestration.resources import Extraction, FmaData

FEATURES = "track_features"
SEGMENTS = "segment_features"
#: Keys for ``deps=``/checks; select :data:`folder_features` (both assets) in jobs.
track_features = dg.AssetKey(FEATURES)
segment_features = dg.AssetKey(SEGMENTS)
ERRORS = "track_feature_errors"  # per-folder error tables written beside the features


@contextlib.contextmanager
def progress_bar(desc: str):
    """``(update, set_total)`` callbacks of a tqdm bar when ``FMA_PROGRESS=1``, else no-ops."""
    if os.environ.get(PROGRESS_ENV) != "1":
        yield (None, None)
        return
    from tqdm import tqdm

    with tqdm(desc=desc, unit="clip", file=sys.stderr) as bar:
        def set_total(n: int) -> None:
            bar.total = n
            bar.refresh()

        yield bar.update, set_total


def _previous(fma: FmaData, key: str) -> tuple[pd.DataFrame | None, ...]:
    """Last good output of a folder (features, errors, segments), the cache for incremental runs."""
    paths = (fma.partition_output(FEATURES, key), fma.partition_output(ERRORS, key),
             fma.partition_output(SEGMENTS, key))
    return tuple(read_parquet(p) if p.exists() else None for p in paths)


@dg.multi_asset(
    name="folder_features",
    specs=[
        dg.AssetSpec(FEATURES, group_name="features", kinds={"librosa", "parquet"},
                     description="708 librosa features per clip of one FMA folder (FMA's 518 + 190 MFCC correlations; one row per track)."),
        dg.AssetSpec(SEGMENTS, group_name="features", kinds={"librosa", "parquet"},
                     description="The same 708 features per 3 s window of each clip (segment-level learning)."),
    ],
    partitions_def=folder_partitions,
    # 40 folders per run on one machine (one process pool), 1 with the Celery executor (partitions.py)
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=partitions_per_run()),
    can_subset=False,
)
def folder_features(context: dg.AssetExecutionContext, fma: FmaData, extraction: Extraction):
    """Clip and window features of FMA folders; only new or changed files are decoded.

    One extraction makes both assets: each clip's frame series are computed once, the
    clip's statistics go to ``track_features`` and each window's to ``segment_features``
    (a slice of the same series, nearly free), so the two are never out of step and are
    always materialised together. Several folders in one run share one process pool, and
    each folder's Parquet files are written as soon as its files are done, so a run killed
    after some of its folders keeps them (the next run reuses them). Files that cannot be
    used are recorded with their reason (see ``extraction_errors``) and skipped.
    """
    from fma_pipeline.core.locking import exclusive_locks
    from fma_pipeline.core.warmup import warm_numba_cache

    keys = context.partition_keys
    folders = {key: fma.audio_dir / key for key in keys}
    settings = extraction.settings(fma)
    warm_numba_cache(settings, log=context.log.warning)  # numba#10128: no concurrent cold compiles

    def commit(key: str, result: FolderResult) -> None:
        """Write one folder as soon as its files are done: a run killed later keeps it."""
        if result.changed:  # else keep the last good files untouched
            write_parquet(result.errors, fma.partition_output(ERRORS, key))
            write_parquet(result.segments, fma.partition_output(SEGMENTS, key))
            write_parquet(result.features, fma.partition_output(FEATURES, key))  # last: the sensor's mark
        context.log.debug(f"folder {key} committed: {result.counts()}")

    # One writer per folder at a time (read previous -> extract -> write); a concurrent
    # run of the same folder waits here, then finds this run's output as its cache.
    locks = [fma.partition_output(FEATURES, key).with_name(f".{key}.lock") for key in keys]
    with exclusive_locks(locks, log=context.log.info):
        with progress_bar(f"extracting {keys[0]}..{keys[-1]}") as (update, total):
            results = extract_folders(folders, {key: _previous(fma, key) for key in keys}, settings,
                                      progress=update, on_total=total, on_folder=commit)
    totals = pd.DataFrame([r.counts() for r in results.values()], index=list(results)).sum()
    context.log.info(f"{len(keys)} folder(s): " + ", ".join(
        f"{k} {int(totals[k])}" for k in ("files", "reused", "extracted", "failed", "removed")))
    yield dg.MaterializeResult(asset_key=track_features, metadata={
        "dagster/row_count": int(sum(len(r.features) for r in results.values())),
        **{k: int(totals[k]) for k in ("files", "reused", "extracted", "failed", "removed")},
        "seconds": float(max((r.seconds for r in results.values()), default=0.0)),
        "folders": len(keys),
    })
    yield dg.MaterializeResult(asset_key=segment_features, metadata={
        "dagster/row_count": int(sum(len(r.segments) for r in results.values())),
        "window_seconds": settings.segments.window_seconds if settings.segments else 0.0,
        "tracks": int(sum(r.segments.index.get_level_values(0).nunique() for r in results.values())),
    })


def read_all_partitions(fma: FmaData, asset: str) -> list[pd.DataFrame]:
    """Every non-empty partition file of ``asset`` (most of FMA's 156 folders may be empty)."""
    folder = fma.pipeline_dir / asset
    return [read_parquet(p) for p in sorted(folder.glob("[0-9][0-9][0-9].parquet")) if parquet_rows(p)]


@dg.asset(group_name="features", deps=[track_features], kinds={"parquet"})
def extraction_errors(fma: FmaData) -> dg.MaterializeResult:
    """Every file extraction skipped, with track_id, path, reason, exception class and when."""
    parts = [p for p in read_all_partitions(fma, ERRORS) if len(p)]
    errors = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["track_id", "folder", "name", "path", "reason", "exception_class", "at"])
    write_parquet(errors, fma.output("extraction_errors.parquet"))
    reasons = errors["reason"].str.split(":").str[0].value_counts() if len(errors) else pd.Series(dtype=int)
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(errors),
        "reasons": dg.MetadataValue.md(reasons.to_frame("files").to_markdown() if len(reasons) else "none"),
    })


@dg.asset(group_name="features", deps=[track_features, "tracks"], kinds={"pandas", "parquet"})
def feature_matrix(context: dg.AssetExecutionContext, fma: FmaData) -> dg.MaterializeResult:
    """One row per selected track with features; columns are the 708 flat names (``mfcc.mean.01``)."""
    selected = read_parquet(fma.output("tracks.parquet"))
    parts = [feature_values(p) for p in read_all_partitions(fma, FEATURES) if len(p)]
    if not parts:
        raise dg.Failure("no features yet: materialise track_features for the folders that hold audio")
    features = pd.concat(parts)
    features.columns = list(flat_feature_names())
    matrix = features.loc[features.index.intersection(selected.index)].sort_index()
    write_parquet(matrix, fma.output("feature_matrix.parquet"))
    missing = len(selected) - len(matrix)
    if missing:
        context.log.warning(f"{missing} selected track(s) have no features (see extraction_errors)")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(matrix), "columns": matrix.shape[1],
        "selected_tracks_without_features": missing,
    })


@dg.asset(group_name="features", deps=[segment_features, "tracks"], kinds={"pandas", "parquet"})
def segment_matrix(context: dg.AssetExecutionContext, fma: FmaData) -> dg.MaterializeResult:
    """Every window of every selected track: one float32 row of 708 features per 3 s window.

    Long rows indexed ``(track_id, segment)``, streamed folder by folder into one Parquet
    file (one row group per folder), so neither this asset nor ``segment_classifiers``,
    which reads only the tracks it needs, ever holds the whole table (~250,000 windows at
    FMA-medium size, over a million at large).
    """
    selected = read_parquet(fma.output("tracks.parquet")).index
    counts = {"tracks": 0, "windows": 0, "short": 0}

    def parts():
        for path in sorted((fma.pipeline_dir / SEGMENTS).glob("[0-9][0-9][0-9].parquet")):
            if not parquet_rows(path):
                continue
            part = read_parquet(path)
            part = part.loc[part.index.get_level_values("track_id").isin(selected)].sort_index()
            if len(part):
                per_track = part.groupby(level="track_id").size()
                counts["tracks"] += len(per_track)
                counts["windows"] += len(part)
                counts["short"] += int((per_track < per_track.max()).sum())
                yield part.astype("float32")

    try:
        write_parquet_parts(parts(), fma.output("segment_matrix.parquet"))
    except ValueError:
        raise dg.Failure("no segment features yet: materialise track_features/segment_features first") from None
    if len(selected) - counts["tracks"]:
        context.log.warning(f"{len(selected) - counts['tracks']} selected track(s) have no segment features")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": counts["windows"], "tracks": counts["tracks"], "windows": counts["windows"],
        "columns": N_FEATURES, "tracks_with_fewer_windows": counts["short"],
    })
