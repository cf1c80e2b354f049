"""The ``tracks`` asset: FMA's metadata read, validated and reduced to what learning needs."""


import dagster as dg
from pydantic import Field

from fma_pipeline.core.learning.selection import DEFAULT_DROPPED_GENRES, LabelConfig, select_tracks
from fma_pipeline.core.fma.metadata import check_genre_ids, read_genres, read_tracks
from fma_pipeline.orchestration.metadata_tables import markdown_table
from fma_pipeline.orchestration.resources import FmaData


class TracksConfig(dg.Config):
    """Which tracks to learn from."""

    subset: str | None = Field(default=None, description="FMA subset small/medium/large; None = all tracks.")
    drop_genres: list[str] = Field(default=list(DEFAULT_DROPPED_GENRES),
                                   description="Top-level genres left out.")
    min_tracks: int = Field(default=5, description="Genres with fewer tracks are left out.")
    seed: int = Field(default=0, description="Seed of the fallback artist-grouped split.")

    def labels(self) -> LabelConfig:
        return LabelConfig(subset=self.subset, drop_genres=tuple(self.drop_genres),
                           min_tracks=self.min_tracks, seed=self.seed)


@dg.asset(group_name="metadata", kinds={"pandas", "parquet"})
def tracks(config: TracksConfig, fma: FmaData) -> dg.Output:
    """Selected tracks with their top-level genre, FMA split, artist and genre lists."""
    tracks_csv = fma.metadata_dir / "tracks.csv"
    genres = read_genres(fma.metadata_dir / "genres.csv")
    raw = read_tracks(tracks_csv)
    check_genre_ids(raw, genres, tracks_csv)
    selected = select_tracks(raw, genres.ids_by_title(), config.labels())
    balance = selected.groupby(["genre", "split"]).size().unstack(fill_value=0)
    return dg.Output(selected, metadata={
        "dagster/row_count": len(selected),
        "tracks_in_csv": len(raw),
        "genres": selected["genre"].nunique(),
        "class_balance": markdown_table(balance, floatfmt="d"),
    })
