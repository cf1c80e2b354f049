"""The served model's metadata: one dataclass written by training and read by tagging, and
models logged before it (their metadata written as dict literals) still read the same."""

from __future__ import annotations

import pytest

from fma_pipeline.core.audio.definition import DefinitionMismatch
from fma_pipeline.core.audio.features import FeatureConfig
from fma_pipeline.core.audio.served import SEGMENT, ServedModel
from fma_pipeline.core.audio.tagging import TagSettings

#: Metadata exactly as the classifier assets wrote it before ServedModel (plus MLflow's extras).
OLD_CLIP = {"feature_config": FeatureConfig().as_dict(), "min_seconds": 5.0, "classes": ["Jazz", "Rock"],
            "feature_names": "fma_pipeline.core.audio.features.flat_feature_names",
            "model": "lda", "branch": "scaled"}
OLD_SEGMENT = {"level": "segment", "classes": ["Jazz", "Rock"], "feature_config": FeatureConfig().as_dict(),
               "min_seconds": 4.0, "window_seconds": 3.0,
               "feature_names": "fma_pipeline.core.audio.features.flat_feature_names",
               "input": "one row per 3 s window; a track's genre is the mean of its windows' probabilities"}


def test_metadata_written_before_the_dataclass_reads_back_and_is_written_the_same():
    for old in (OLD_CLIP, OLD_SEGMENT):
        served = ServedModel.from_metadata(old)
        assert served.as_metadata() == {k: v for k, v in old.items() if k not in {"model", "branch"}}
    assert ServedModel.from_metadata(OLD_SEGMENT).level == SEGMENT
    assert ServedModel.from_metadata({}) == ServedModel()  # a model with no metadata: the defaults


def test_tagging_reads_the_dataclass():
    current = {"feature_definition": FeatureConfig().definition}
    settings = TagSettings.from_model_metadata({**OLD_SEGMENT, **current})
    assert (settings.window_seconds, settings.max_windows, settings.limits.min_seconds) == (3.0, 200, 4.0)
    assert TagSettings.from_model_metadata({**OLD_CLIP, **current}, min_seconds=1.0).limits.min_seconds == 1.0
    served = ServedModel(min_seconds=7.0, feature_definition=FeatureConfig().definition)
    assert ServedModel.from_metadata(served.as_metadata()) == served
    assert TagSettings.from_model_metadata(served.as_metadata()).window_seconds == 30.0
    with pytest.raises(DefinitionMismatch, match="none recorded"):  # logged before definitions: refused
        TagSettings.from_model_metadata(OLD_CLIP)
