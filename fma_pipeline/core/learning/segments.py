"""Segment-level learning: learn from short windows of each clip, vote per track.

A 30 s clip summarised by one set of statistics hides how its sound changes; cutting
it into windows (3 s by default) gives the classifier several views per track and more
training rows. The frame-level series are computed once per clip
(:func:`fma_pipeline.core.features.frame_series`); each window's 708 features are a
slice of them, nearly free. A track's genre is the argmax of its windows' mean class
probabilities (soft voting). Windows of one track always stay on one side of every
split, since folds are grouped by artist or by track.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from fma_pipeline.core.features import N_FEATURES, FeatureConfig, flat_feature_names, summarise, window_bounds


@dataclass(frozen=True)
class SegmentConfig:
    """Window length and hop in seconds."""

    window_seconds: float = 3.0
    hop_seconds: float = 3.0

    def frames(self, features: FeatureConfig) -> tuple[int, int]:
        per_second = features.sr / features.hop_length
        return max(1, round(self.window_seconds * per_second)), max(1, round(self.hop_seconds * per_second))


def segment_rows(series: np.ndarray, config: SegmentConfig = SegmentConfig(),
                 features: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """``(n_windows, 708)`` features of the windows of one clip's ``(74, n_frames)`` series."""
    length, hop = config.frames(features)
    return np.stack([summarise(series[:, a:b]) for a, b in window_bounds(series.shape[1], length, hop)])


def segment_frame(rows_by_track: dict[int, np.ndarray]) -> pd.DataFrame:
    """Stack per-track window rows into one float32 table indexed by ``(track_id, segment)``."""
    if not rows_by_track:
        return empty_segments()
    index = pd.MultiIndex.from_tuples(
        [(tid, i) for tid, rows in rows_by_track.items() for i in range(len(rows))], names=["track_id", "segment"])
    data = np.concatenate(list(rows_by_track.values())).astype(np.float32, copy=False)
    return pd.DataFrame(data, index=index, columns=list(flat_feature_names()))


def empty_segments() -> pd.DataFrame:
    """A segment table with no rows: ``(track_id, segment)`` index, the 708 flat columns."""
    index = pd.MultiIndex.from_arrays([np.array([], np.int64), np.array([], np.int64)], names=["track_id", "segment"])
    return pd.DataFrame(np.empty((0, N_FEATURES), np.float32), index=index, columns=list(flat_feature_names()))


def track_labels(segments: pd.DataFrame, labels: pd.Series) -> pd.Series:
    """Each window's label: its track's label."""
    return labels.reindex(segments.index.get_level_values("track_id")).set_axis(segments.index)


def vote(model, segments: pd.DataFrame) -> pd.Series:
    """Per-track prediction: argmax of the mean window probabilities."""
    proba = pd.DataFrame(model.predict_proba(segments), index=segments.index, columns=model.classes_)
    mean = proba.groupby(level="track_id").mean()
    return mean.idxmax(axis=1)


def wide_segments(segments: pd.DataFrame, track_ids: pd.Index, n_windows: int | None = None) -> pd.DataFrame:
    """One row per track: window ``i``'s 708 features in columns ``wNN.<feature name>``.

    Tracks with fewer windows (shorter clips) are padded with NaN, which
    :class:`SegmentVoter` skips; windows past ``n_windows`` (default: the most any track
    has) are dropped. This shape lets a segment-level model use the clip-level tooling
    unchanged: artist-grouped CV, test scoring, MLflow signatures all see one row per track.
    """
    names = list(flat_feature_names())
    present = segments.loc[segments.index.get_level_values("track_id").isin(track_ids)]
    width = n_windows or int(present.index.get_level_values("segment").max() + 1 if len(present) else 1)
    present = present[present.index.get_level_values("segment") < width]
    cube = np.full((len(track_ids), width, len(names)), np.nan, dtype=np.float32)
    rows = pd.Index(track_ids).get_indexer(present.index.get_level_values("track_id"))
    cube[rows, present.index.get_level_values("segment").to_numpy()] = present.to_numpy(np.float32)
    columns = [f"w{w:02d}.{name}" for w in range(width) for name in names]
    return pd.DataFrame(cube.reshape(len(track_ids), -1), index=pd.Index(track_ids, name="track_id"), columns=columns)


class SegmentVoter(ClassifierMixin, BaseEstimator):
    """Learn from every window of each training track; predict a track by soft voting.

    Input is :func:`wide_segments` (one row per track). ``fit`` unstacks the rows into
    windows, each labelled with its track's genre, and fits a clone of ``estimator``;
    ``predict_proba`` averages the windows' class probabilities per track (a track with no
    window gets uniform probabilities). Because the rows are tracks, every split and CV fold
    keeps a track's windows together.
    """

    def __init__(self, estimator=None, n_features: int = N_FEATURES):
        self.estimator = estimator
        self.n_features = n_features

    def _windows(self, X) -> tuple[np.ndarray, np.ndarray]:
        values = np.asarray(X, dtype=np.float64)
        cube = values.reshape(len(values), -1, self.n_features)
        return cube, ~np.isnan(cube).any(axis=2)

    def fit(self, X, y):
        cube, present = self._windows(X)
        labels = np.repeat(np.asarray(y), present.sum(axis=1))
        self.estimator_ = clone(self.estimator).fit(cube[present], labels)
        self.classes_ = self.estimator_.classes_
        self.n_windows_ = cube.shape[1]
        return self

    def predict_proba(self, X) -> np.ndarray:
        cube, present = self._windows(X)
        counts = present.sum(axis=1)
        out = np.zeros((len(cube), len(self.classes_)))
        if present.any():
            np.add.at(out, np.repeat(np.arange(len(cube)), counts), self.estimator_.predict_proba(cube[present]))
        out /= np.maximum(counts, 1)[:, None]
        out[counts == 0] = 1.0 / len(self.classes_)
        return out

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]
