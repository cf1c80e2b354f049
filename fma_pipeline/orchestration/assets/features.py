"""Feature assets: ``track_features`` and ``segment_features`` per FMA folder (one extraction,
``folder_features``), ``extraction_errors``, ``feature_matrix``, ``segment_matrix``."""

import dagster as dg
import pandas as pd

from fma_pipeline.core.catalogue import (SEGMENT_FEATURES, SEGMENT_MATRIX, TRACK_FEATURE_ERRORS, TRACK_FEATURES,
                                         AssetFiles)
from fma_pipeline.core.audio.definition import DEFINITION_ATTR, DefinitionMismatch, single_definition
from fma_pipeline.core.audio.extraction import FolderResult, extract_folders, feature_values
from fma_pipeline.core.audio.features import N_FEATURES, flat_feature_names
from fma_pipeline.core.storage import DamagedFile, read_parquet, write_parquet, write_parquet_parts
from fma_pipeline.orchestration.partitions import folder_partitions, partitions_per_run
from fma_pipeline.orchestration.progress import Console
from fma_pipeline.orchestration.resources import Extraction, FmaData

#: Keys of the two assets :data:`folder_features` makes (select ``folder_features`` in jobs).
track_features = dg.AssetKey(TRACK_FEATURES.asset)
segment_features = dg.AssetKey(SEGMENT_FEATURES.asset)
ERROR_COLUMNS = ["track_id", "folder", "name", "path", "reason", "exception_class", "at"]


def _previous(fma: FmaData, key: str, log=None) -> tuple[pd.DataFrame | None, ...]:
    """Last good output of a folder (features, errors, segments), the cache for incremental runs.

    A damaged file (cut short, overwritten) is named in one line through ``log`` and treated as
    missing: the folder is extracted again and the file rewritten, instead of every run of the
    folder failing on it.
    """
    paths = (fma.catalogue.partition_path(TRACK_FEATURES, key),
             fma.catalogue.partition_path(TRACK_FEATURE_ERRORS, key),
             fma.catalogue.partition_path(SEGMENT_FEATURES, key))
    found = []
    for path in paths:
        try:
            found.append(read_parquet(path) if path.exists() else None)
        except DamagedFile as exc:
            if log:
                log(f"{exc}: treated as missing, folder {key} is extracted again")
            found.append(None)
    return tuple(found)


@dg.multi_asset(
    name="folder_features",
    specs=[
        dg.AssetSpec(track_features, group_name="features", kinds={"librosa", "parquet"},
                     description="708 librosa features per clip of one FMA folder (FMA's 518 + 190 MFCC correlations; one row per track)."),
        dg.AssetSpec(segment_features, group_name="features", kinds={"librosa", "parquet"},
                     description="The same 708 features per 3 s window of each clip (segment-level learning)."),
    ],
    partitions_def=folder_partitions,
    # 40 folders per run on one machine (one process pool), 1 with the Celery executor (partitions.py)
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=partitions_per_run()),
    can_subset=False,
)
def folder_features(context: dg.AssetExecutionContext, fma: FmaData, extraction: Extraction, console: Console):
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

    keys = context.partition_keys
    root = fma.catalogue
    folders = {key: fma.audio_dir / key for key in keys}
    settings = extraction.settings(fma)

    def commit(key: str, result: FolderResult) -> None:
        """Write one folder as soon as its files are done: a run killed later keeps it."""
        if result.changed:  # else keep the last good files untouched
            write_parquet(result.errors, root.partition_path(TRACK_FEATURE_ERRORS, key))
            write_parquet(result.segments, root.partition_path(SEGMENT_FEATURES, key))
            write_parquet(result.features, root.partition_path(TRACK_FEATURES, key))  # last: the sensor's mark
        context.log.debug(f"folder {key} committed: {result.counts()}")

    # One writer per folder at a time (read previous -> extract -> write); a concurrent
    # run of the same folder waits here, then finds this run's output as its cache.
    locks = [root.partition_path(TRACK_FEATURES, key).with_name(f".{key}.lock") for key in keys]
    with exclusive_locks(locks, log=context.log.info):
        with console.bar(f"extracting {keys[0]}..{keys[-1]}") as (update, total):
            results = extract_folders(folders, {key: _previous(fma, key, context.log.warning) for key in keys}, settings,
                                      progress=update, on_total=total, on_folder=commit,
                                      log=console.logger(context))
    totals = pd.DataFrame([r.counts() for r in results.values()], index=list(results)).sum()
    context.log.info(f"{len(keys)} folder(s): " + ", ".join(
        f"{k} {int(totals[k])}" for k in ("files", "reused", "extracted", "failed", "removed")))
    yield dg.MaterializeResult(asset_key=track_features, metadata={
        "dagster/row_count": int(sum(len(r.features) for r in results.values())),
        **{k: int(totals[k]) for k in ("files", "reused", "extracted", "failed", "removed")},
        "seconds": float(max((r.seconds for r in results.values()), default=0.0)),
        "folders": len(keys), "feature_definition": settings.features.definition,
    })
    yield dg.MaterializeResult(asset_key=segment_features, metadata={
        "dagster/row_count": int(sum(len(r.segments) for r in results.values())),
        "window_seconds": settings.segments.window_seconds if settings.segments else 0.0,
        "tracks": int(sum(r.segments.index.get_level_values(0).nunique() for r in results.values())),
    })


@dg.asset(group_name="features", ins={"track_features": dg.AssetIn(track_features)}, kinds={"parquet"})
def extraction_errors(track_features: AssetFiles) -> dg.Output:
    """Every file extraction skipped, with track_id, path, reason, exception class and when."""
    parts = [p for _, p in track_features.partitions(TRACK_FEATURE_ERRORS.name) if len(p)]
    errors = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ERROR_COLUMNS)
    reasons = errors["reason"].str.split(":").str[0].value_counts() if len(errors) else pd.Series(dtype=int)
    return dg.Output(errors, metadata={
        "dagster/row_count": len(errors),
        "reasons": dg.MetadataValue.md(reasons.to_frame("files").to_markdown() if len(reasons) else "none"),
    })


@dg.asset(group_name="features", ins={"track_features": dg.AssetIn(track_features)}, kinds={"pandas", "parquet"})
def feature_matrix(context: dg.AssetExecutionContext, tracks: AssetFiles, track_features: AssetFiles) -> dg.Output:
    """One row per selected track with features; columns are the 708 flat names (``mfcc.mean.01``).

    Carries the folders' feature definition (in its ``attrs``, so in its Parquet metadata) to
    training, which records it with every model; folders of several definitions are refused.
    """
    selected = tracks.read()
    parts, definitions, attrs = [], {}, {}
    for key, part in track_features.partitions():
        if len(part):
            definitions[key], attrs = part.attrs.get(DEFINITION_ATTR), part.attrs
            parts.append(feature_values(part))
    if not parts:
        raise dg.Failure("no features yet: materialise track_features for the folders that hold audio")
    try:
        definition = single_definition(definitions, "track_features")
    except DefinitionMismatch as exc:
        raise dg.Failure(str(exc)) from None
    features = pd.concat(parts)
    features.columns = list(flat_feature_names())
    matrix = features.loc[features.index.intersection(selected.index)].sort_index()
    matrix.attrs = dict(attrs)
    missing = len(selected) - len(matrix)
    if missing:
        context.log.warning(f"{missing} selected track(s) have no features (see extraction_errors)")
    return dg.Output(matrix, metadata={
        "dagster/row_count": len(matrix), "columns": matrix.shape[1],
        "selected_tracks_without_features": missing, "feature_definition": definition,
    })


@dg.asset(group_name="features", ins={"segment_features": dg.AssetIn(segment_features)},
          kinds={"pandas", "parquet"})
def segment_matrix(context: dg.AssetExecutionContext, fma: FmaData, tracks: AssetFiles,
                   segment_features: AssetFiles) -> dg.MaterializeResult:
    """Every window of every selected track: one float32 row of 708 features per 3 s window.

    Long rows indexed ``(track_id, segment)``, streamed folder by folder into one Parquet
    file (one row group per folder, written here rather than by the IO manager so the
    table is never whole in memory), so neither this asset nor ``segment_classifiers``,
    which reads only the tracks it needs, ever holds the whole table (~250,000 windows at
    FMA-medium size, over a million at large). Carries the folders' feature definition like
    ``feature_matrix``.
    """
    selected = tracks.read().index
    counts = {"tracks": 0, "windows": 0, "short": 0}
    definitions: dict[str, str | None] = {}

    def parts():
        for key, part in segment_features.partitions():
            definitions[key] = part.attrs.get(DEFINITION_ATTR)
            single_definition(definitions, "segment_features")  # before a part of another is written
            part = part.loc[part.index.get_level_values("track_id").isin(selected)].sort_index()
            if len(part):
                per_track = part.groupby(level="track_id").size()
                counts["tracks"] += len(per_track)
                counts["windows"] += len(part)
                counts["short"] += int((per_track < per_track.max()).sum())
                yield part.astype("float32")

    try:
        write_parquet_parts(parts(), fma.catalogue.path(SEGMENT_MATRIX))
    except DefinitionMismatch as exc:
        raise dg.Failure(str(exc)) from None
    except ValueError:
        raise dg.Failure("no segment features yet: materialise track_features/segment_features first") from None
    if len(selected) - counts["tracks"]:
        context.log.warning(f"{len(selected) - counts['tracks']} selected track(s) have no segment features")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": counts["windows"], "tracks": counts["tracks"], "windows": counts["windows"],
        "columns": N_FEATURES, "tracks_with_fewer_windows": counts["short"],
        "feature_definition": single_definition(definitions, "segment_features"),
    })
