"""Resources: where the data lives, how to extract, where MLflow tracks.

One data root (``FMA_DATA_DIR``, default ``./data``) holds the FMA inputs as FMA ships
them (``fma_metadata/``, ``fma_<subset>/``), ``pipeline/`` for the Parquet outputs,
``mlflow.db`` + ``mlartifacts/`` for MLflow and ``.dagster/`` for Dagster's instance.
"""


import os
from pathlib import Path

import dagster as dg
from pydantic import Field

from fma_pipeline.core.audio import AudioLimits
from fma_pipeline.core.extraction import ExtractionSettings
from fma_pipeline.core.features import FeatureConfig
from fma_pipeline.core.fma import find_audio_dir
from fma_pipeline.core.learning.segments import SegmentConfig
from fma_pipeline.core.tracking import MlflowStore


def default_data_dir() -> str:
    """``$FMA_DATA_DIR`` or ``./data``, made absolute so every process agrees on it."""
    return str(Path(os.environ.get("FMA_DATA_DIR", "data")).resolve())


class FmaData(dg.ConfigurableResource):
    """The data root and the layout inside it."""

    data_dir: str = Field(default_factory=default_data_dir,
                          description="Data root; default $FMA_DATA_DIR or ./data.")
    audio_subset: str | None = Field(
        default=None, description="Audio archive to read (small/medium/large/full); "
                                  "default: the largest fma_<subset> folder present.")

    @property
    def root(self) -> Path:
        return Path(self.data_dir)

    @property
    def metadata_dir(self) -> Path:
        return self.root / "fma_metadata"

    @property
    def audio_dir(self) -> Path:
        return find_audio_dir(self.root, self.audio_subset)

    @property
    def pipeline_dir(self) -> Path:
        return self.root / "pipeline"

    def output(self, name: str) -> Path:
        """Path of an unpartitioned output, e.g. ``pipeline/feature_matrix.parquet``."""
        return self.pipeline_dir / name

    def partition_output(self, asset: str, partition: str) -> Path:
        """Path of one partition's output, e.g. ``pipeline/track_features/000.parquet``."""
        return self.pipeline_dir / asset / f"{partition}.parquet"


class Extraction(dg.ConfigurableResource):
    """Feature-extraction settings; stored with each model so prediction matches training."""

    sample_rate: int = Field(default=22_050, description="Analysis rate in Hz (44100 = FMA's native).")
    workers: int = Field(default=0, description="Worker processes; 0 = one per core.")
    min_seconds: float = Field(default=5.0, description="Shorter clips are recorded as errors.")
    max_seconds: float = Field(default=600.0, description="Longer files are cut to their middle.")
    segment_seconds: float = Field(default=3.0, description="Window length (and hop) of segment_features.")

    def settings(self, data: FmaData) -> ExtractionSettings:
        return ExtractionSettings(
            features=FeatureConfig(sr=self.sample_rate),
            limits=AudioLimits(min_seconds=self.min_seconds, max_seconds=self.max_seconds),
            workers=self.workers or None,
            segments=SegmentConfig(self.segment_seconds, self.segment_seconds),
            numba_cache_dir=data.root / ".cache" / "numba",
        )


class MlflowTracker(dg.ConfigurableResource):
    """MLflow store; by default a SQLite file and an artifact folder under the data root."""

    tracking_uri: str | None = Field(default=None, description="Default: sqlite under the data root.")
    artifact_root: str | None = Field(default=None, description="Default: <data root>/mlartifacts.")
    experiment: str = "fma-genre-classification"

    def store(self, data: FmaData) -> MlflowStore:
        base = MlflowStore.under(data.root, self.experiment)
        return MlflowStore(self.tracking_uri or base.tracking_uri,
                           Path(self.artifact_root) if self.artifact_root else base.artifact_root,
                           self.experiment)
