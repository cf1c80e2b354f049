"""Feature assets: ``track_features`` and ``segment_features`` per FMA folder (one extraction,
``folder_features``), ``extraction_errors``, ``feature_matrix``, ``segment_matrix``."""

from typing import Literal

import dagster as dg
import pandas as pd
from pydantic import Field

from fma_pipeline.core.catalogue import (FEATURE_MATRIX, FEATURE_SOURCES, PUBLISHED_FEATURE_ERRORS, SEGMENT_FEATURES,
                                         SEGMENT_MATRIX, TRACK_FEATURE_ERRORS, TRACK_FEATURES, AssetFiles)
from fma_pipeline.core.audio.definition import DEFINITION_ATTR, DefinitionMismatch, definition_attrs, single_definition
from fma_pipeline.core.audio.extraction import FolderResult, extract_folders, feature_values
from fma_pipeline.core.audio.features import N_FEATURES, FeatureConfig, flat_feature_names
from fma_pipeline.core.audio.windows import empty_segments
from fma_pipeline.core.fma.published import (DEFAULT_PRECEDENCE, EXTRACTED, PUBLISHED, SOURCE_PRECEDENCES,
                                             combine_sources, fma_flat_names, folder_key)
from fma_pipeline.core.storage import DamagedFile, read_parquet, write_parquet, write_parquet_parts
from fma_pipeline.orchestration.partitions import folder_partitions, partitions_per_run
from fma_pipeline.orchestration.progress import Console
from fma_pipeline.orchestration.resources import Extraction, FmaData

#: Keys of the two assets :data:`folder_features` makes (select ``folder_features`` in jobs).
track_features = dg.AssetKey(TRACK_FEATURES.asset)
segment_features = dg.AssetKey(SEGMENT_FEATURES.asset)
ERROR_COLUMNS = ["track_id", "folder", "name", "path", "reason", "exception_class", "at", "source"]
#: One line for the segment-level assets of a data root without audio (published rows are per clip).
NO_SEGMENTS = ("segment-level learning needs audio: no segment features yet (FMA's published features.csv "
               "has clip-level rows only; extract audio folders to get windows)")


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
def extraction_errors(track_features: AssetFiles, published_features: AssetFiles) -> dg.Output:
    """Every file extraction skipped, and every published row FMA left empty, with track_id, path,
    reason, exception class, when, and ``source`` (``extracted`` or ``published``)."""
    parts = [p.assign(source=EXTRACTED) for _, p in track_features.partitions(TRACK_FEATURE_ERRORS.name) if len(p)]
    published = published_features.path(PUBLISHED_FEATURE_ERRORS.name)
    if published.is_file():
        parts += [p.assign(source=PUBLISHED) for p in [read_parquet(published)] if len(p)]
    errors = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=ERROR_COLUMNS)
    reasons = errors["reason"].str.split(":").str[0].value_counts() if len(errors) else pd.Series(dtype=int)
    return dg.Output(errors, metadata={
        "dagster/row_count": len(errors),
        "reasons": dg.MetadataValue.md(reasons.to_frame("files").to_markdown() if len(reasons) else "none"),
    })


class FeatureMatrixConfig(dg.Config):
    """Which source a track's row comes from (``core/fma/published.py``)."""

    source: Literal[SOURCE_PRECEDENCES] = Field(  # type: ignore[valid-type]
        default=DEFAULT_PRECEDENCE,
        description="extracted_else_published: the extracted row where the track has audio, else FMA's published "
                    "row; published: published rows only; extracted: extracted rows only. A matrix with any "
                    "published row keeps FMA's 518 columns (published rows have no mfcc_corr).")


@dg.asset(group_name="features", ins={"track_features": dg.AssetIn(track_features)}, kinds={"pandas", "parquet"})
def feature_matrix(context: dg.AssetExecutionContext, config: FeatureMatrixConfig, tracks: AssetFiles,
                   track_features: AssetFiles, published_features: AssetFiles) -> dg.Output:
    """One row per selected track with features: 708 flat-named columns (``mfcc.mean.01``), or
    FMA's 518 when any row comes from FMA's published features; ``feature_sources`` says each
    row's source.

    Carries the extracted folders' feature definition (in its ``attrs``, so in its Parquet
    metadata) to training, which records it with every model; folders of several definitions
    are refused. FMA's published rows mean FMA's own definition (the native-rate one), so they
    are refused beside rows extracted at a fixed rate.
    """
    selected = tracks.read().index

    def rows(parts, names):
        frames = [p.loc[p.index.isin(selected)] for p in parts]
        frames = [f for f in frames if len(f)]
        if not frames:
            return None
        frame = pd.concat(frames)
        frame.columns = names
        return frame

    extracted_parts, definitions, attrs = [], {}, definition_attrs(FeatureConfig())
    for key, part in track_features.partitions():
        if len(part):
            definitions[key], attrs = part.attrs.get(DEFINITION_ATTR), dict(part.attrs)
            extracted_parts.append(feature_values(part))
    try:
        definition = single_definition(definitions, "track_features") if definitions else attrs[DEFINITION_ATTR]
    except DefinitionMismatch as exc:
        raise dg.Failure(str(exc)) from None
    extracted = rows(extracted_parts, list(flat_feature_names()))
    published = rows((p for _, p in published_features.partitions() if len(p)), fma_flat_names())
    matrix, source = combine_sources(extracted, published, config.source)
    if not len(matrix):
        raise dg.Failure(f"no features yet for source {config.source!r}: materialise track_features for the "
                         "folders that hold audio, or put FMA's features.csv in fma_metadata/ (published_features)")
    published_definition = FeatureConfig().definition
    if (source == PUBLISHED).any() and definition != published_definition:
        raise dg.Failure(f"FMA's published features are definition {published_definition}, track_features hold "
                         f"{definition}: extract at the native rate, or set source: extracted")
    matrix.attrs = dict(attrs)
    missing = len(selected) - len(matrix)
    if missing:
        context.log.warning(f"{missing} selected track(s) have no features (see extraction_errors)")
    sources = pd.DataFrame({"source": source.to_numpy(), "folder": [folder_key(t) for t in matrix.index]},
                           index=matrix.index)
    counts = source.value_counts()
    return dg.Output({FEATURE_MATRIX.name: matrix, FEATURE_SOURCES.name: sources}, metadata={
        "dagster/row_count": len(matrix), "columns": matrix.shape[1], "source_setting": config.source,
        "extracted_rows": int(counts.get(EXTRACTED, 0)), "published_rows": int(counts.get(PUBLISHED, 0)),
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
    except ValueError:  # no windows: a data root with FMA's published features and no audio
        write_parquet(empty_segments(), fma.catalogue.path(SEGMENT_MATRIX))
        context.log.warning(NO_SEGMENTS)
        return dg.MaterializeResult(metadata={"dagster/row_count": 0, "tracks": 0, "windows": 0,
                                              "columns": N_FEATURES, "note": NO_SEGMENTS})
    if len(selected) - counts["tracks"]:
        context.log.warning(f"{len(selected) - counts['tracks']} selected track(s) have no segment features")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": counts["windows"], "tracks": counts["tracks"], "windows": counts["windows"],
        "columns": N_FEATURES, "tracks_with_fewer_windows": counts["short"],
        "feature_definition": single_definition(definitions, "segment_features"),
    })
