"""Segment-level learning: learn from short windows of each clip, vote per track.

A 30 s clip summarised by one set of statistics hides how its sound changes; cutting
it into windows (3 s by default) gives the classifier several views per track and more
training rows. The frame-level series are computed once per clip
(:func:`fma_pipeline.core.features.frame_series`); each window's 518 statistics are a
slice of them, nearly free. A track's genre is the argmax of its windows' mean class
probabilities (soft voting). Windows of one track always stay on one side of every
split, since folds are grouped by artist or by track.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fma_pipeline.core.features import FeatureConfig, flat_feature_names, summarise, window_bounds


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
    """``(n_windows, 518)`` statistics of the windows of one clip's ``(74, n_frames)`` series."""
    length, hop = config.frames(features)
    return np.stack([summarise(series[:, a:b]) for a, b in window_bounds(series.shape[1], length, hop)])


def segment_frame(rows_by_track: dict[int, np.ndarray]) -> pd.DataFrame:
    """Stack per-track window rows into one table indexed by ``(track_id, segment)``."""
    index = pd.MultiIndex.from_tuples(
        [(tid, i) for tid, rows in rows_by_track.items() for i in range(len(rows))], names=["track_id", "segment"])
    data = np.concatenate(list(rows_by_track.values())) if rows_by_track else np.empty((0, 518), np.float32)
    return pd.DataFrame(data, index=index, columns=list(flat_feature_names()))


def track_labels(segments: pd.DataFrame, labels: pd.Series) -> pd.Series:
    """Each window's label: its track's label."""
    return labels.reindex(segments.index.get_level_values("track_id")).set_axis(segments.index)


def vote(model, segments: pd.DataFrame) -> pd.Series:
    """Per-track prediction: argmax of the mean window probabilities."""
    proba = pd.DataFrame(model.predict_proba(segments), index=segments.index, columns=model.classes_)
    mean = proba.groupby(level="track_id").mean()
    return mean.idxmax(axis=1)
