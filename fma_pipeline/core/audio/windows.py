"""Windows of a clip: the 708 features of each short window, for segment-level learning.

A 30 s clip summarised by one set of statistics hides how its sound changes; cutting
it into windows (3 s by default) gives the classifier several views per track and more
training rows. The frame-level series are computed once per clip
(:func:`fma_pipeline.core.audio.features.frame_series`); each window's 708 features are a
slice of them, nearly free. Extraction stores them (``segment_features``) and tagging cuts
new audio the same way; :mod:`fma_pipeline.core.learning.segments` learns from them.

Window tables stay long — one float32 row of 708 per window, indexed ``(track_id,
segment)`` — from extraction to training: a wide layout (every window's 708 columns side
by side, 7,080 columns per track) held 3.3 GB at FMA-medium size and was copied in
float64 into every search worker.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fma_pipeline.core.audio.features import N_FEATURES, FeatureConfig, flat_feature_names, summarise_stack, window_bounds


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

        Raises
        ------
        ValueError
            When ``features.sr`` is None (native): frames depend on the waveform's own rate.
        """
        if features.sr is None:
            raise ValueError("window frames need the waveform's rate: pass FeatureConfig.at(rate)")
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
    bounds = window_bounds(series.shape[1], length, hop)
    width = bounds[0][1] - bounds[0][0]  # every window is as long as the first
    views = np.lib.stride_tricks.sliding_window_view(series, width, axis=1)[:, [a for a, _ in bounds]]
    return summarise_stack(np.moveaxis(views, 1, 0))  # all windows in one vectorised pass


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
