"""Put genres on new audio with a trained model: one file, or a whole folder in parallel.

Features are extracted with exactly the configuration the model was trained with (it is
stored with the model); a model whose feature definition this version does not compute is
refused (:class:`~fma_pipeline.core.audio.definition.DefinitionMismatch`, one line). Any format soundfile reads, any rate, any channel count, any
length: a long file is cut into clip-length windows whose class probabilities are
averaged, so a 10-minute track costs a bounded number of windows. A file that is not
usable audio yields a row with its reason instead of stopping the batch.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fma_pipeline.core.audio.decode import AudioError, AudioLimits
from fma_pipeline.core.audio.definition import decode_for, model_feature_config
from fma_pipeline.core.audio.features import FeatureConfig, flat_feature_names, frame_series, summarise, window_bounds
from fma_pipeline.core.audio.served import SEGMENT, ServedModel
from fma_pipeline.core.audio.workers import worker_pool
from fma_pipeline.core.fma.layout import printable


@dataclass(frozen=True)
class TagSettings:
    """How to cut and extract new audio; ``window_seconds`` matches FMA's 30 s clips.

    Parameters
    ----------
    features : FeatureConfig, default FeatureConfig()
        The feature configuration (that of the model's training).
    limits : AudioLimits, default AudioLimits()
        Extraction's limits: a file shorter than ``min_seconds`` (5 s unless the model
        was trained with another value, or the caller overrides it) gets a ``too short``
        reason, as in training, instead of a genre guessed from a second of sound.
    window_seconds : float, default 30.0
        Length of one window whose features are one row.
    max_windows : int, default 20
        At most this many windows per file, evenly spread.
    """

    features: FeatureConfig = FeatureConfig()
    limits: AudioLimits = AudioLimits()
    window_seconds: float = 30.0
    max_windows: int = 20

    @classmethod
    def from_model_metadata(cls, metadata: dict, min_seconds: float | None = None,
                            name: str = "the model") -> "TagSettings":
        """Settings matching how the model was trained, or a refusal if this version cannot match it.

        Its feature configuration (its definition checked, see
        :func:`~fma_pipeline.core.audio.definition.model_feature_config`), and for a
        segment-level model (``level: segment``) its window length, with ten times the windows
        (a clip-level model sees one 30 s window where a segment model sees ten 3 s ones). A
        file's genre is then the mean of its windows' probabilities, the soft vote the segment
        model was scored with.

        Parameters
        ----------
        metadata : dict
            The model's stored metadata (a :class:`~fma_pipeline.core.audio.served.ServedModel`
            as written by :meth:`~fma_pipeline.core.audio.served.ServedModel.as_metadata`).
        min_seconds : float or None, default None
            Overrides the model's shortest usable clip; None keeps the model's (or 5 s).
        name : str, default "the model"
            How a refusal names the model.

        Returns
        -------
        TagSettings

        Raises
        ------
        DefinitionMismatch
            When the model was trained on a feature definition this version does not compute.
        """
        served = ServedModel.from_metadata(metadata)
        features = model_feature_config(metadata, name)  # refuses a definition this version does not compute
        limits = AudioLimits(min_seconds=float(min_seconds if min_seconds is not None else served.min_seconds))
        if served.level == SEGMENT:
            window = float(served.window_seconds)
            return cls(features=features, limits=limits, window_seconds=window,
                       max_windows=round(cls.max_windows * cls.window_seconds / window))
        return cls(features=features, limits=limits)


def file_features(path: Path | str, settings: TagSettings = TagSettings()) -> pd.DataFrame:
    """One row of 708 features per window of the file (at most ``max_windows``, evenly spread).

    Parameters
    ----------
    path : pathlib.Path or str
        The audio file.
    settings : TagSettings, default TagSettings()
        How to decode, cut and extract it.

    Returns
    -------
    pandas.DataFrame
        One row per window, columns :func:`~fma_pipeline.core.audio.features.flat_feature_names`.

    Raises
    ------
    AudioError
        When the file is not usable audio, or its features are not finite.
    """
    y, at_rate = decode_for(path, settings.features, settings.limits)
    series = frame_series(y, at_rate)
    frames = int(settings.window_seconds * at_rate.sr / at_rate.hop_length)
    bounds = window_bounds(series.shape[1], frames, frames)
    if len(bounds) > settings.max_windows:
        bounds = [bounds[i] for i in np.linspace(0, len(bounds) - 1, settings.max_windows).astype(int)]
    rows = np.stack([summarise(series[:, a:b]) for a, b in bounds])
    if not np.isfinite(rows).all():
        raise AudioError("features are not finite (degenerate audio)", "FeatureError")
    return pd.DataFrame(rows, columns=list(flat_feature_names()))


def _features_or_error(path: str, settings: TagSettings) -> tuple[str, pd.DataFrame | None, str, str]:
    try:
        return path, file_features(path, settings), "", ""
    except AudioError as exc:
        return path, None, exc.reason, exc.exception_class
    except Exception as exc:  # noqa: BLE001 - one file's failure is that file's row
        return path, None, f"extraction failed: {str(exc).splitlines()[0][:200] if str(exc) else ''}", type(exc).__name__


def predict_rows(model, path: str, windows: pd.DataFrame | None, reason: str, exc_class: str,
                 top_k: int) -> dict:
    """One result row: the top-k genres with probabilities averaged over windows, or why not.

    ``status`` is ``ok`` (a genre), ``unsure`` (the model's novelty guard finds the file
    unlike the music it was trained on — speech, birdsong, tones, noise — so no genre is
    given; ``top`` still shows what it would have guessed) or ``error`` (not usable audio).
    ``novelty`` is the median of the windows' guard scores (above 1: unlike the training
    music; empty for models trained before the guard existed).

    Parameters
    ----------
    model
        A fitted classifier with ``predict_proba`` and ``classes_`` (and optionally
        ``feature_names_in_`` and a ``novelty`` guard).
    path : str
        The file, copied to the row.
    windows : pandas.DataFrame or None
        The file's window features, or None when extraction failed.
    reason : str
        Why extraction failed ('' when it did not).
    exc_class : str
        Class name of the failure ('' when none).
    top_k : int
        How many genres to list in ``top``.

    Returns
    -------
    dict
        ``path``, ``status``, ``reason``, ``exception_class``, ``windows``, ``novelty``, and
        when features exist ``top`` plus (status ``ok``) ``genre`` and ``probability``.
    """
    row: dict = {"path": path, "status": "error" if windows is None else "ok", "reason": reason,
                 "exception_class": exc_class, "windows": 0 if windows is None else len(windows),
                 "novelty": None}
    if windows is not None:
        # A model trained on a subset of today's columns (FMA's 518, before mfcc_corr was
        # added) gets exactly the columns it was fitted on.
        names = getattr(model, "feature_names_in_", None)
        rows = windows if names is None else windows.loc[:, list(names)]
        proba = model.predict_proba(rows).mean(axis=0)
        order = np.argsort(proba)[::-1][:top_k]
        row["top"] = [(str(model.classes_[i]), round(float(proba[i]), 4)) for i in order]
        if hasattr(model, "novelty"):
            row["novelty"] = round(float(np.median(model.novelty(rows))), 3)
        if row["novelty"] is not None and row["novelty"] > 1:
            row["status"] = "unsure"
            row["reason"] = (f"unlike the music the model was trained on (novelty {row['novelty']:.2f}, "
                             "threshold 1): no genre given")
        else:
            row["genre"] = str(model.classes_[order[0]])
            row["probability"] = float(proba[order[0]])
    return row


def tag_files(model, paths: Sequence[Path | str], settings: TagSettings = TagSettings(), *, top_k: int = 3,
              workers: int = 1, progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Predict every file; extraction runs in ``workers`` processes, prediction here.

    Parameters
    ----------
    model
        A fitted classifier, as for :func:`predict_rows`.
    paths : Sequence of pathlib.Path or str
        The files to tag.
    settings : TagSettings, default TagSettings()
        How to decode, cut and extract them.
    top_k : int, default 3
        How many genres each row lists in ``top``.
    workers : int, default 1
        Extraction processes; 1 (or fewer than three files) extracts in this process.
    progress : Callable[[int], None] or None, default None
        Called with 1 after each file.

    Returns
    -------
    pandas.DataFrame
        One :func:`predict_rows` row per path, in the order given; ``genre``,
        ``probability`` and ``top`` are always columns.
    """
    paths = [str(p) for p in paths]
    rows = []
    if workers <= 1 or len(paths) < 3:
        for path in paths:
            rows.append(predict_rows(model, *_features_or_error(path, settings), top_k=top_k))
            if progress:
                progress(1)
    else:
        done: dict[str, tuple] = {}
        try:
            with worker_pool(workers) as pool:
                for result in pool.map(_features_or_error, paths, [settings] * len(paths)):
                    done[result[0]] = result
                    if progress:
                        progress(1)
        except cf.process.BrokenProcessPool:  # a worker died: finish the rest in this process
            for path in paths:
                if path not in done:
                    done[path] = _features_or_error(path, settings)
                    if progress:
                        progress(1)
        rows = [predict_rows(model, *done[path], top_k=top_k) for path in paths]
    table = pd.DataFrame(rows)
    if len(table):  # a name that is not UTF-8 would fail the Parquet/CSV write and the terminal
        table["path"] = table["path"].map(printable)
    for column in ("genre", "probability", "top"):
        if column not in table:
            table[column] = None
    return table
