"""Reference implementation of the 708 features (FMA's 518 + MFCC correlations): slow, plain, obviously correct.

Every feature is computed from the waveform with librosa's documented calls, as FMA's
``features.py`` does, minus FMA's two slips (chroma from a 12-bins-per-octave CQT is
mapped with ``bins_per_octave=12``; every call gets the real ``sr``). Each call does its
own STFT / CQT / tuning estimate, so nothing is shared and nothing can leak between
features. The statistics are numpy's and scipy.stats' (biased skew, Fisher kurtosis),
one series at a time; like the project, a constant series has skew and kurtosis 0.
The MFCC correlations are ``numpy.corrcoef`` of librosa's MFCC series (0 where it is NaN).

It exists to check :mod:`fma_pipeline.core.audio.features` (tests) and to time it against
(``bench/extract.py``); it is not part of the package.
"""

from __future__ import annotations

import librosa
import numpy as np
import pandas as pd
from scipy import stats

from fma_pipeline.core.audio.features import FEATURE_SIZES, STATISTICS, feature_columns

N_FFT = 2048
HOP = 512


def reference_series(y: np.ndarray, sr: int) -> dict[str, np.ndarray]:
    """The frame-level series of each feature family, ``{family: (rows, n_frames)}``."""
    y = np.asarray(y, dtype=np.float32)
    cqt_args = dict(y=y, sr=sr, hop_length=HOP, bins_per_octave=12, n_chroma=12, n_octaves=7)
    spec_args = dict(y=y, sr=sr, n_fft=N_FFT, hop_length=HOP)
    chroma_cens = librosa.feature.chroma_cens(**cqt_args)
    return {
        "chroma_cens": chroma_cens,
        "chroma_cqt": librosa.feature.chroma_cqt(**cqt_args),
        "chroma_stft": librosa.feature.chroma_stft(**spec_args),
        "mfcc": librosa.feature.mfcc(**spec_args, n_mfcc=20, n_mels=128),
        "rmse": librosa.feature.rms(y=y, frame_length=N_FFT, hop_length=HOP),
        "spectral_bandwidth": librosa.feature.spectral_bandwidth(**spec_args),
        "spectral_centroid": librosa.feature.spectral_centroid(**spec_args),
        "spectral_contrast": librosa.feature.spectral_contrast(**spec_args, n_bands=6),
        "spectral_rolloff": librosa.feature.spectral_rolloff(**spec_args),
        "tonnetz": librosa.feature.tonnetz(chroma=chroma_cens, sr=sr),
        "zcr": librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP),
    }


def reference_statistics(series: np.ndarray) -> dict[str, np.ndarray]:
    """The 7 statistics of each row of a ``(rows, n_frames)`` array, one row at a time."""
    series = np.asarray(series, dtype=np.float64)
    out: dict[str, list[float]] = {stat: [] for stat in STATISTICS}
    for row in series:
        constant = np.max(row) == np.min(row)
        out["mean"].append(np.mean(row))
        out["std"].append(np.std(row))
        # scipy gives NaN for a constant series; the project defines skew and excess
        # kurtosis of a constant series as 0 (see features.summarise), and so do we.
        out["skew"].append(0.0 if constant else stats.skew(row))
        out["kurtosis"].append(0.0 if constant else stats.kurtosis(row))
        out["median"].append(np.median(row))
        out["min"].append(np.min(row))
        out["max"].append(np.max(row))
    return {stat: np.asarray(values) for stat, values in out.items()}


def reference_features(y: np.ndarray, sr: int = 22_050) -> pd.Series:
    """The 708 features of mono waveform ``y`` (at ``sr`` Hz), indexed by ``feature_columns()``."""
    values: dict[tuple[str, str, str], float] = {}
    families = reference_series(y, sr)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.nan_to_num(np.corrcoef(families["mfcc"].astype(np.float64)), nan=0.0)
    for i in range(corr.shape[0]):
        for j in range(i + 1, corr.shape[0]):
            values[("mfcc_corr", "corr", f"{i + 1:02d}-{j + 1:02d}")] = float(corr[i, j])
    for name, series in families.items():
        assert series.shape[0] == FEATURE_SIZES[name], (name, series.shape)
        for stat, column in reference_statistics(series).items():
            for i, value in enumerate(column):
                values[(name, stat, f"{i + 1:02d}")] = float(value)
    features = pd.Series(values, dtype=np.float64, name="reference").reindex(feature_columns())
    assert not features.isna().any(), "a column was not filled"
    return features
