"""Which feature definition a stored table or a model belongs to, and refusing a mix of two.

The 708 values of a row mean what one definition computes
(:data:`~fma_pipeline.core.audio.features.FEATURE_DEFINITION`: FMA's ``features.py`` at the
file's native rate, then the project's own families; ``"...@<sr>"`` when every file is
resampled to a fixed rate first). Rows of two definitions must never meet: a centroid of one
is half the other's, chroma lands in other bins. So every extracted table carries its
definition in ``DataFrame.attrs`` (which pandas keeps in the Parquet metadata), the feature
matrices carry it to training, every registered model records it, and wherever stored
features or models meet this version's code the definitions are compared: extraction
re-extracts a folder of another definition (:mod:`~fma_pipeline.core.audio.extraction`),
training refuses features of another definition than its configuration, and ``predict`` /
``tag`` refuse a model whose definition this version cannot compute, with one line saying
why (docs/feature-definitions.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fma_pipeline.core.audio.decode import AudioLimits, decode_with_rate
from fma_pipeline.core.audio.features import MIN_NATIVE_SR, FeatureConfig
from fma_pipeline.core.storage import parquet_attrs

#: ``DataFrame.attrs`` keys (stored in the Parquet metadata): the definition, and the analysis rate.
DEFINITION_ATTR, RATE_ATTR = "feature_definition", "analysis_rate"
#: How a table or model without a recorded definition is named in messages.
NONE_RECORDED = "none recorded (an older version)"


class DefinitionMismatch(ValueError):
    """Features or a model of one definition met another.

    Parameters
    ----------
    message : str
        One line: what was found, what was needed, and what to do.
    """


def definition_attrs(features: FeatureConfig) -> dict[str, str]:
    """What every extracted table carries in its ``attrs`` (and so in its Parquet metadata).

    Parameters
    ----------
    features : FeatureConfig
        The configuration the table was computed with.

    Returns
    -------
    dict of str to str
        ``feature_definition`` (:attr:`FeatureConfig.definition`) and ``analysis_rate``
        (``native``, or the fixed rate in Hz).
    """
    return {DEFINITION_ATTR: features.definition, RATE_ATTR: "native" if features.sr is None else str(features.sr)}


def decode_for(path: Path | str, features: FeatureConfig,
               limits: AudioLimits = AudioLimits()) -> tuple[np.ndarray, FeatureConfig]:
    """Decode a file as the definition analyses it, and the configuration at that rate.

    At the file's own rate (at least :data:`~fma_pipeline.core.audio.features.MIN_NATIVE_SR`),
    or at ``features.sr`` when it is fixed. The computations take the returned configuration,
    whose ``sr`` is the waveform's: frames per 3 s window, every frequency.

    Parameters
    ----------
    path : pathlib.Path or str
        The audio file.
    features : FeatureConfig
        The configuration (``sr`` None: native).
    limits : AudioLimits, default AudioLimits()
        What counts as usable audio.

    Returns
    -------
    y : numpy.ndarray
        Mono float32 waveform.
    at_rate : FeatureConfig
        ``features`` with ``sr`` set to the waveform's rate.

    Raises
    ------
    AudioError
        For unusable audio, as :func:`~fma_pipeline.core.audio.decode.decode_with_rate`.
    """
    y, rate = decode_with_rate(path, features.sr, limits, min_sr=MIN_NATIVE_SR)
    return y, features.at(rate)


def stored_definition(path: Path | str) -> str | None:
    """The feature definition a stored table was computed with, read from its Parquet footer alone.

    Parameters
    ----------
    path : pathlib.Path or str
        A ``track_features`` or ``segment_features`` file.

    Returns
    -------
    str or None
        None for a table written before definitions were recorded.

    Raises
    ------
    OSError, pyarrow.ArrowInvalid
        When the file is missing or not Parquet.
    """
    return parquet_attrs(path).get(DEFINITION_ATTR)


def single_definition(definitions: dict[str, str | None], what: str) -> str:
    """The one definition shared by stored tables, or a one-line refusal naming the odd ones.

    Parameters
    ----------
    definitions : dict of str to (str or None)
        Each table's key (an FMA folder) to its definition.
    what : str
        The tables, for the message (``"track_features"``).

    Returns
    -------
    str
        The definition every table carries.

    Raises
    ------
    DefinitionMismatch
        When they carry more than one (or none recorded): they must be extracted again first.
    """
    by_definition: dict[str, list[str]] = {}
    for key, definition in definitions.items():
        by_definition.setdefault(definition or NONE_RECORDED, []).append(key)
    if len(by_definition) == 1 and NONE_RECORDED not in by_definition:
        return next(iter(by_definition))
    parts = "; ".join(f"{d}: {', '.join(keys[:5])}{' …' if len(keys) > 5 else ''} ({len(keys)})"
                      for d, keys in sorted(by_definition.items()))
    raise DefinitionMismatch(f"{what} of several feature definitions cannot be combined ({parts}): extract "
                             "them again with one configuration (fma-pipeline materialise, or backfill)")


def require(have: str | None, need: str, what: str, remedy: str) -> None:
    """Refuse, in one line, features or a model of definition ``have`` where ``need`` is required.

    Parameters
    ----------
    have : str or None
        The definition found (None: not recorded, an older version).
    need : str
        The definition required.
    what : str
        What was found, for the message (``"feature_matrix holds features of definition"``).
    remedy : str
        What to do, for the message (``"extract them again (fma-pipeline materialise)"``).

    Raises
    ------
    DefinitionMismatch
        When ``have`` is not ``need``.
    """
    if have != need:
        raise DefinitionMismatch(f"{what} {have or NONE_RECORDED}, not {need}: {remedy}")


def model_feature_config(metadata: dict, name: str = "the model") -> FeatureConfig:
    """The feature configuration a model was trained with, if this version computes its definition.

    Parameters
    ----------
    metadata : dict
        The model's stored metadata (``feature_config``, ``feature_definition``).
    name : str, default "the model"
        How to name the model in the message (``"model fma-genre-classifier v3"``).

    Returns
    -------
    FeatureConfig
        The configuration to extract new audio with.

    Raises
    ------
    DefinitionMismatch
        When the model's definition (or its absence, before definitions were recorded) is not
        what this version computes with the model's configuration.
    """
    stored = metadata.get("feature_config") or {}
    config = FeatureConfig(**{k: None if v is None else int(v) for k, v in stored.items()})
    trained = metadata.get("feature_definition")
    if trained != config.definition:
        raise DefinitionMismatch(f"{name} was trained on feature definition {trained or NONE_RECORDED}; this "
                                 f"version computes {config.definition}: retrain (fma-pipeline materialise)")
    return config
