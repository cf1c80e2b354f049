"""Segment-level learning: learn from short windows of each clip, vote per track.

A 30 s clip summarised by one set of statistics hides how its sound changes; cutting
it into windows (3 s by default) gives the classifier several views per track and more
training rows. The frame-level series are computed once per clip
(:func:`fma_pipeline.core.features.frame_series`); each window's 708 features are a
slice of them, nearly free. A track's genre is the argmax of its windows' mean class
probabilities (soft voting). Windows of one track always stay on one side of every
split, since folds are grouped by artist or by track.

Window tables stay long — one float32 row of 708 per window, indexed ``(track_id,
segment)`` — from extraction to training: a wide layout (every window's 708 columns side
by side, 7,080 columns per track) held 3.3 GB at FMA-medium size and was copied in
float64 into every search worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fma_pipeline.core.features import N_FEATURES, FeatureConfig, flat_feature_names, summarise, window_bounds


@dataclass(frozen=True)
class SegmentConfig:
    """Window length and hop in seconds.

    Parameters
    ----------
    window_seconds : float
        Length of each window.
    hop_seconds : float
        Start-to-start distance of consecutive windows.
    """

    window_seconds: float = 3.0
    hop_seconds: float = 3.0

    def frames(self, features: FeatureConfig) -> tuple[int, int]:
        """Window length and hop in frames of the feature series.

        Parameters
        ----------
        features : FeatureConfig
            Supplies the sample rate and the hop length of the frame series.

        Returns
        -------
        length : int
            Frames per window (at least 1).
        hop : int
            Frames between window starts (at least 1).
        """
        per_second = features.sr / features.hop_length
        return max(1, round(self.window_seconds * per_second)), max(1, round(self.hop_seconds * per_second))


def segment_rows(series: np.ndarray, config: SegmentConfig = SegmentConfig(),
                 features: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """``(n_windows, 708)`` features of the windows of one clip's ``(74, n_frames)`` series.

    Parameters
    ----------
    series : numpy.ndarray
        The clip's frame-level series, shape ``(74, n_frames)``.
    config : SegmentConfig, default SegmentConfig()
        Window length and hop.
    features : FeatureConfig, default FeatureConfig()
        The configuration the series were computed with.

    Returns
    -------
    numpy.ndarray
        One row of 708 features per window.
    """
    length, hop = config.frames(features)
    return np.stack([summarise(series[:, a:b]) for a, b in window_bounds(series.shape[1], length, hop)])


def segment_frame(rows_by_track: dict[int, np.ndarray]) -> pd.DataFrame:
    """Stack per-track window rows into one float32 table indexed by ``(track_id, segment)``.

    Parameters
    ----------
    rows_by_track : dict of int to numpy.ndarray
        Track id -> its ``(n_windows, 708)`` rows (see :func:`segment_rows`).

    Returns
    -------
    pandas.DataFrame
        The 708 flat feature columns; :func:`empty_segments` when there is no track.
    """
    if not rows_by_track:
        return empty_segments()
    index = pd.MultiIndex.from_tuples(
        [(tid, i) for tid, rows in rows_by_track.items() for i in range(len(rows))], names=["track_id", "segment"])
    data = np.concatenate(list(rows_by_track.values())).astype(np.float32, copy=False)
    return pd.DataFrame(data, index=index, columns=list(flat_feature_names()))


def empty_segments() -> pd.DataFrame:
    """A segment table with no rows: ``(track_id, segment)`` index, the 708 flat columns.

    Returns
    -------
    pandas.DataFrame
    """
    index = pd.MultiIndex.from_arrays([np.array([], np.int64), np.array([], np.int64)], names=["track_id", "segment"])
    return pd.DataFrame(np.empty((0, N_FEATURES), np.float32), index=index, columns=list(flat_feature_names()))


def track_labels(segments: pd.DataFrame, labels: pd.Series) -> pd.Series:
    """Each window's label: its track's label.

    Parameters
    ----------
    segments : pandas.DataFrame
        A window table indexed by ``(track_id, segment)``.
    labels : pandas.Series
        Label of each track, indexed by track id.

    Returns
    -------
    pandas.Series
        Indexed like ``segments``.
    """
    return labels.reindex(segments.index.get_level_values("track_id")).set_axis(segments.index)


def track_ids_of(X: pd.DataFrame) -> pd.Index:
    """Each row's track id: the index of a clip table, level 0 of a window table.

    Parameters
    ----------
    X : pandas.DataFrame
        A clip table (index ``track_id``) or a window table (index ``(track_id, segment)``).

    Returns
    -------
    pandas.Index
        One track id per row of ``X``.
    """
    return X.index.get_level_values(0) if isinstance(X.index, pd.MultiIndex) else X.index


def track_proba(model, X: pd.DataFrame) -> pd.DataFrame:
    """Class probabilities per track: a clip row's own, or the mean over a track's windows (soft vote).

    Window tables are predicted in chunks of :data:`PREDICT_CHUNK` rows, so scoring
    100,000 test windows never holds more than one chunk's probabilities at a time.

    Parameters
    ----------
    model : estimator
        A fitted classifier with ``predict_proba`` and ``classes_``.
    X : pandas.DataFrame
        A clip table or a window table.

    Returns
    -------
    pandas.DataFrame
        One row per track, one column per class of ``model``.
    """
    if not isinstance(X.index, pd.MultiIndex):
        return pd.DataFrame(model.predict_proba(X), index=X.index, columns=model.classes_)
    sums, counts = [], []
    for start in range(0, len(X), PREDICT_CHUNK):
        chunk = X.iloc[start:start + PREDICT_CHUNK]
        proba = pd.DataFrame(model.predict_proba(chunk), index=chunk.index.get_level_values(0), columns=model.classes_)
        sums.append(proba.groupby(level=0).sum())
        counts.append(proba.groupby(level=0).size())
    total = pd.concat(sums).groupby(level=0).sum()
    return total.div(pd.concat(counts).groupby(level=0).sum(), axis=0).rename_axis("track_id")


#: Window rows predicted at a time by :func:`track_proba`.
PREDICT_CHUNK = 50_000


def vote(model, segments: pd.DataFrame) -> pd.Series:
    """Per-track prediction: argmax of the mean window probabilities.

    Parameters
    ----------
    model : estimator
        A fitted classifier with ``predict_proba`` and ``classes_``.
    segments : pandas.DataFrame
        A window table indexed by ``(track_id, segment)``.

    Returns
    -------
    pandas.Series
        Predicted class of each track, indexed by track id.
    """
    return track_proba(model, segments).idxmax(axis=1)
