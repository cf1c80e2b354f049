"""What a served model says about itself: the contract between training and tagging.

The Dagster shell writes it with every model it logs (MLflow model metadata and
``feature_config.json``); ``predict`` and ``tag`` read it back to extract new audio exactly
as the model's training rows were extracted. One dataclass for both sides, so a field is
named once; to add one, give it a default (models logged before it lack it) and, if it
must not appear in older-looking metadata, leave it out of :meth:`ServedModel.as_metadata`
while it is None.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from fma_pipeline.core.audio.decode import AudioLimits
from fma_pipeline.core.audio.features import FeatureConfig

#: Where the names of the model's input columns come from.
FEATURE_NAMES = "fma_pipeline.core.audio.features.flat_feature_names"
CLIP, SEGMENT = "clip", "segment"


@dataclass(frozen=True)
class ServedModel:
    """How a served model's input rows were made.

    Parameters
    ----------
    features : FeatureConfig, default FeatureConfig()
        The feature configuration of its training rows.
    min_seconds : float, default AudioLimits.min_seconds
        The shortest clip its training used; shorter files get ``too short``.
    classes : tuple of str, default ()
        The genres it answers with.
    level : str, default 'clip'
        ``clip`` (one row per 30 s clip) or ``segment`` (one row per window, a file's genre
        the mean of its windows' probabilities).
    window_seconds : float or None, default None
        The window length of a segment-level model.
    input : str or None, default None
        A sentence on what one input row is, for a reader of the metadata.
    feature_names : str, default FEATURE_NAMES
        Where the input columns' names come from.
    feature_definition : str or None, default None
        The feature definition its training rows were computed with
        (:attr:`FeatureConfig.definition`); None for models logged before definitions were
        recorded, which ``predict`` and ``tag`` refuse
        (:func:`~fma_pipeline.core.audio.definition.model_feature_config`).

    Examples
    --------
    >>> served = ServedModel(classes=("Jazz", "Rock"), min_seconds=5.0)
    >>> ServedModel.from_metadata(served.as_metadata()) == served
    True
    >>> sorted(served.as_metadata())
    ['classes', 'feature_config', 'feature_names', 'min_seconds']
    """

    features: FeatureConfig = FeatureConfig()
    min_seconds: float = AudioLimits.min_seconds
    classes: tuple[str, ...] = ()
    level: str = CLIP
    window_seconds: float | None = None
    input: str | None = None
    feature_names: str = FEATURE_NAMES
    feature_definition: str | None = None

    def as_metadata(self) -> dict:
        """The JSON-ready dict stored with the model (fields left at None are left out, and
        ``level`` for a clip-level model, as models logged before this class were written).

        Returns
        -------
        dict
        """
        out = {"feature_config": self.features.as_dict(), "min_seconds": self.min_seconds,
               "classes": list(self.classes), "feature_names": self.feature_names}
        if self.level != CLIP:
            out["level"] = self.level
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name not in {"features", "min_seconds", "classes", "feature_names", "level"} and value is not None:
                out[field.name] = value
        return out

    @classmethod
    def from_metadata(cls, metadata: dict) -> ServedModel:
        """Read the stored metadata back; keys a model logged earlier lacks take their defaults.

        Parameters
        ----------
        metadata : dict
            A model's MLflow metadata (extra keys such as ``model`` and ``branch`` are ignored).

        Returns
        -------
        ServedModel
        """
        config = metadata.get("feature_config") or {}
        window = metadata.get("window_seconds")
        return cls(features=FeatureConfig(**{k: None if v is None else int(v) for k, v in config.items()}),
                   min_seconds=float(metadata.get("min_seconds", AudioLimits.min_seconds)),
                   classes=tuple(str(c) for c in metadata.get("classes", ())),
                   level=str(metadata.get("level", CLIP)),
                   window_seconds=None if window is None else float(window),
                   input=metadata.get("input"),
                   feature_names=str(metadata.get("feature_names", FEATURE_NAMES)),
                   feature_definition=metadata.get("feature_definition"))
