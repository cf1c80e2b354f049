"""FMA's published ``features.csv`` as a source: ``published_features`` and ``source_comparison``.

``published_features`` reads ``fma_metadata/features.csv`` (when present) into per-folder
Parquet files beside the extracted ones; ``feature_matrix`` combines both sources under its
``source`` setting (see ``core/fma/published.py``). It is not partitioned: one streamed read
of the file writes every folder, where a partitioned asset would read the whole file once per
folder. It touches no audio, so the file sensor and the re-scan schedule (which watch audio
folders) never react to it, and ``backfill --failed`` (which looks at ``track_features``)
never lists a folder for its published rows.
"""

import dagster as dg
import pandas as pd

from fma_pipeline.core.audio.extraction import feature_values
from fma_pipeline.core.audio.features import flat_feature_names
from fma_pipeline.core.catalogue import PUBLISHED_FEATURES, SOURCE_COMPARISON, SOURCE_OUTLIERS, AssetFiles
from fma_pipeline.core.fma.published import (FEATURES_CSV, compare_sources, comparison_advice, fma_flat_names,
                                             store_published)
from fma_pipeline.core.storage import read_parquet
from fma_pipeline.orchestration.assets.features import track_features
from fma_pipeline.orchestration.metadata_tables import markdown_table
from fma_pipeline.orchestration.resources import FmaData


@dg.asset(group_name="features", kinds={"pandas", "parquet"})
def published_features(context: dg.AssetExecutionContext, fma: FmaData) -> dg.MaterializeResult:
    """FMA's published 518 features per track (``fma_metadata/features.csv``), per folder.

    Streamed in chunks into ``pipeline/published_features/NNN.parquet``; rows FMA left empty
    (its extraction failed) are recorded with their reason and appear in ``extraction_errors``.
    An unchanged file (same size and mtime) is not read again. Without ``features.csv`` the
    outputs are empty and only extracted rows are used.
    """
    path = fma.metadata_dir / FEATURES_CSV
    stored = store_published(path, fma.catalogue)
    if not path.is_file():
        context.log.info(f"no {path}: only extracted features will be used")
    elif stored.reused:
        context.log.info(f"{path} unchanged since it was read: kept {stored.folders} folder(s)")
    return dg.MaterializeResult(metadata={
        "dagster/row_count": stored.rows, "rows_left_empty_by_fma": stored.missing, "folders": stored.folders,
        "reused": stored.reused, "seconds": round(stored.seconds, 1),
        "source": str(path) if path.is_file() else f"none ({path} is absent)",
    })


@dg.asset(group_name="features", kinds={"pandas", "parquet"},
          ins={"track_features": dg.AssetIn(track_features)})
def source_comparison(context: dg.AssetExecutionContext, track_features: AssetFiles,
                      published_features: AssetFiles) -> dg.Output:
    """Published against extracted rows of the tracks that have both, per feature family.

    Per family the median and quartiles of the per-track relative difference, and the
    tracks far outside that spread (a wrong file, another recording), so a user sees how far
    apart the two sources are before mixing them. Empty when no track has both.
    """
    pairs = []
    for key, part in track_features.partitions():  # only folders with audio; one published folder at a time
        path = published_features.root.partition_path(PUBLISHED_FEATURES, key)
        if not len(part) or not path.is_file():
            continue
        theirs = read_parquet(path)
        both = part.index.intersection(theirs.index)
        if len(both):
            extracted = feature_values(part.loc[both])
            extracted.columns = list(flat_feature_names())
            theirs = theirs.loc[both]
            theirs.columns = fma_flat_names()
            pairs.append((extracted, theirs))
    if pairs:
        comparison = compare_sources(pd.concat([e for e, _ in pairs]), pd.concat([p for _, p in pairs]))
    else:
        comparison = compare_sources(pd.DataFrame(columns=fma_flat_names()), pd.DataFrame(columns=fma_flat_names()))
    advice = comparison_advice(comparison)
    context.log.info(advice)
    return dg.Output({SOURCE_COMPARISON.name: comparison.families, SOURCE_OUTLIERS.name: comparison.outliers},
                     metadata={
                         "tracks_with_both": int(comparison.families["tracks"].max()) if len(comparison.families) else 0,
                         "far_outside": len(comparison.outliers), "advice": advice,
                         "families": markdown_table(comparison.families) if len(comparison.families) else "none",
                         "outliers": markdown_table(comparison.outliers) if len(comparison.outliers) else "none",
                     })
