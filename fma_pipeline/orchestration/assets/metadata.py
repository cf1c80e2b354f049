"""The ``tracks`` asset: FMA's metadata read, validated and reduced to what learning needs."""


import dagster as dg

from fma_pipeline.core.learning.selection import LabelConfig, select_tracks
from fma_pipeline.core.fma.metadata import check_genre_ids, read_genres, read_tracks
from fma_pipeline.orchestration.config import mirrored
from fma_pipeline.orchestration.metadata_tables import markdown_table
from fma_pipeline.orchestration.resources import FmaData

TracksConfig = mirrored(LabelConfig, "TracksConfig", "Which tracks to learn from.")


@dg.asset(group_name="metadata", kinds={"pandas", "parquet"})
def tracks(config: TracksConfig, fma: FmaData) -> dg.Output:
    """Selected tracks with their top-level genre, FMA split, artist and genre lists."""
    tracks_csv = fma.catalogue.tracks_csv
    genres = read_genres(fma.catalogue.genres_csv)
    raw = read_tracks(tracks_csv)
    check_genre_ids(raw, genres, tracks_csv)
    selected = select_tracks(raw, genres.ids_by_title(), config.to_core())
    balance = selected.groupby(["genre", "split"]).size().unstack(fill_value=0)
    return dg.Output(selected, metadata={
        "dagster/row_count": len(selected),
        "tracks_in_csv": len(raw),
        "genres": selected["genre"].nunique(),
        "class_balance": markdown_table(balance, floatfmt="d"),
    })
