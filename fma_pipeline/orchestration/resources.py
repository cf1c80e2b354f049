"""Resources: where the data lives, how to extract, where MLflow tracks.

The data root's layout is the core's catalogue (``core/catalogue.py``); these resources
only carry the settings a deployment changes.
"""


from pathlib import Path

import dagster as dg
from pydantic import Field

from fma_pipeline.core.audio.decode import AudioLimits
from fma_pipeline.core.catalogue import DataRoot, default_data_dir
from fma_pipeline.core.audio.extraction import ExtractionSettings
from fma_pipeline.core.audio.features import FeatureConfig
from fma_pipeline.core.fma.layout import find_audio_dir
from fma_pipeline.core.audio.windows import SegmentConfig
from fma_pipeline.core.tracking import GENRE_EXPERIMENT, MlflowStore


class FmaData(dg.ConfigurableResource):
    """The data root and the layout inside it."""

    data_dir: str = Field(default_factory=lambda: str(default_data_dir()),
                          description="Data root; default $FMA_DATA_DIR or ./data.")
    audio_subset: str | None = Field(
        default=None, description="Audio archive to read (small/medium/large/full); "
                                  "default: the largest fma_<subset> folder present.")

    @property
    def root(self) -> Path:
        return Path(self.data_dir)

    @property
    def catalogue(self) -> DataRoot:
        """Where every stored output lives (and the MLflow store)."""
        return DataRoot(self.root)

    @property
    def metadata_dir(self) -> Path:
        return self.catalogue.metadata_dir

    @property
    def audio_dir(self) -> Path:
        return find_audio_dir(self.root, self.audio_subset)


class Extraction(dg.ConfigurableResource):
    """Feature-extraction settings; stored with each model so prediction matches training."""

    sample_rate: int | None = Field(
        default=None, description="Analysis rate in Hz; unset: each file's native rate, as FMA's features.py "
                                  "(FMA's features). A number resamples every file first: another feature "
                                  "definition (fma-features.py/N@<rate>), re-extracted and retrained on change.")
    workers: int = Field(default=0, description="Worker processes; 0 = one per core.")
    min_seconds: float = Field(default=AudioLimits.min_seconds, description="Shorter clips are recorded as errors.")
    max_seconds: float = Field(default=AudioLimits.max_seconds, description="Longer files are cut to their middle.")
    segment_seconds: float = Field(default=SegmentConfig.window_seconds,
                                   description="Window length (and hop) of segment_features.")

    def settings(self, data: FmaData) -> ExtractionSettings:
        return ExtractionSettings(
            features=FeatureConfig(sr=self.sample_rate),
            limits=AudioLimits(min_seconds=self.min_seconds, max_seconds=self.max_seconds),
            workers=self.workers or None,
            segments=SegmentConfig(self.segment_seconds, self.segment_seconds),
            numba_cache_dir=data.root / ".cache" / "numba",
        )


class MlflowTracker(dg.ConfigurableResource):
    """MLflow experiment; the store is the catalogue's (``$FMA_MLFLOW_TRACKING_URI``, else a
    SQLite file and an artifact folder under the data root), resolved one way for the assets
    and the CLI's ``predict``, ``tag``, ``report`` and ``mlflow-ui``."""

    experiment: str = GENRE_EXPERIMENT

    def store(self, data: FmaData) -> MlflowStore:
        """The catalogue's store of ``data``'s root, with this resource's experiment."""
        return data.catalogue.mlflow_store(self.experiment)
