"""The audio features: FMA's 518, plus 190 MFCC correlations, from one STFT and one CQT per clip.

FMA's ``features.csv`` summarises 74 frame-level series (chroma_cens, chroma_cqt,
chroma_stft ×12, mfcc ×20, rmse, spectral_bandwidth, spectral_centroid,
spectral_contrast ×7, spectral_rolloff, tonnetz ×6, zcr) by 7 statistics (kurtosis,
max, mean, median, min, skew, std): 518 columns named ``(feature, statistics, number)``.
They come first, in exactly FMA's order, so they line up with FMA's published table.

Then one family FMA does not have, ``mfcc_corr``: the Pearson correlation of every pair
of the 20 MFCC series over the clip's frames (190 columns, ``('mfcc_corr', 'corr',
'01-02')`` …). Per-coefficient statistics describe each band of the spectral envelope
alone; how the bands move together (the off-diagonal of the MFCC covariance, as in
Mandel & Ellis, "Song-level features and SVMs for music classification", ISMIR 2005)
is a classic timbre descriptor they miss. On gtzan-mini (``bench/gtzan.py``, nested CV)
it lifts the best models from 0.83 to 0.85–0.86 accuracy; it costs one 20×20 matrix
product per clip or window. Which columns a model sees is still searched
(:mod:`fma_pipeline.core.learning.families`), and FMA's 518 alone is one of the choices.

Speed comes from sharing work, not from changing the maths:
- one magnitude STFT (n_fft 2048, hop 512) feeds chroma_stft, the spectral features and
  the mel spectrogram (the waveform-based librosa calls would compute it six times);
- one CQT (84 bins, 12 per octave, hop 512) feeds chroma_cqt, chroma_cens and tonnetz;
- the tuning is estimated once, from the STFT we already have, and used by both the
  CQT and chroma_stft (librosa would estimate it twice more from the waveform). For the
  CQT this is exactly librosa's value; chroma_stft(y=...) would estimate its own from the
  *power* spectrogram, which differs by a median 0.03 bin (up to ~0.5 bin on some clips),
  so chroma_stft columns differ from librosa's by up to ~0.2 in their means while every
  other family matches to float32 rounding (fma_pipeline_tests/test_features.py);
- all 74 series share one frame grid, so the statistics are one vectorised pass.

Two slips of FMA's own script are not copied: chroma from a 12-bins-per-octave CQT is
mapped with ``bins_per_octave=12`` (librosa's default is 36), and spectral features
computed from a spectrogram get the real ``sr`` (librosa's default is 22,050 Hz, wrong
at FMA's native 44.1 kHz). The name ``rmse`` is FMA's (librosa now calls it ``rms``);
it is kept so the columns line up with FMA's published features. RMS and the
zero-crossing rate are computed from the waveform frames, as librosa defines them.
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats


FEATURE_DEFINITION = "fma-features.py/1"
"""The feature definition: names what the 708 values mean (FMA's ``features.py`` calls at the
file's native rate, then the project's own families). **Bump it whenever any feature value
changes.** It is stored with every ``track_features`` and ``segment_features`` file and every
registered model, so outputs of another definition are re-extracted and models of another
definition refused (docs/feature-definitions.md). Outputs of versions before it carry none."""
#: Files below this rate are analysed at it (resampled up): features.py itself fails on them (its
#: 84-bin CQT reaches 4 kHz), and it is the rate its calls without ``sr`` assume. FMA's clips are
#: 44.1 kHz, so FMA never meets it. Part of the definition: changing it is a bump.
MIN_NATIVE_SR = 22_050

#: Series per feature family, in FMA's (alphabetical) column order.
FEATURE_SIZES: dict[str, int] = {
    "chroma_cens": 12, "chroma_cqt": 12, "chroma_stft": 12, "mfcc": 20, "rmse": 1,
    "spectral_bandwidth": 1, "spectral_centroid": 1, "spectral_contrast": 7,
    "spectral_rolloff": 1, "tonnetz": 6, "zcr": 1,
}
#: Summary statistics in FMA's (alphabetical) column order.
STATISTICS: tuple[str, ...] = ("kurtosis", "max", "mean", "median", "min", "skew", "std")
N_SERIES = sum(FEATURE_SIZES.values())  # 74
N_FMA_FEATURES = N_SERIES * len(STATISTICS)  # 518
#: The family FMA does not have: correlations of MFCC pairs, upper triangle, row by row.
MFCC_CORR = "mfcc_corr"
_FIRST_ROW = dict(zip(FEATURE_SIZES, np.cumsum([0, *FEATURE_SIZES.values()]).tolist()))  # of each family's series
_MFCC_ROWS = slice(_FIRST_ROW["mfcc"], _FIRST_ROW["mfcc"] + FEATURE_SIZES["mfcc"])
_MFCC_PAIRS = np.triu_indices(FEATURE_SIZES["mfcc"], k=1)
N_MFCC_CORR = len(_MFCC_PAIRS[0])  # 190
N_FEATURES = N_FMA_FEATURES + N_MFCC_CORR  # 708
COLUMN_NAMES = ("feature", "statistics", "number")


@dataclass(frozen=True)
class FeatureConfig:
    """Analysis parameters; stored with every model so prediction extracts identically.

    Parameters
    ----------
    sr : int or None, default None
        The analysis rate in Hz. None: the file's native rate, as FMA's ``features.py``
        (:data:`FEATURE_DEFINITION`). A number resamples every file to it first: cheaper
        below 44.1 kHz, but another definition (``"<FEATURE_DEFINITION>@<sr>"``), so its
        outputs and models are not FMA's features and do not mix with them.
    n_fft : int, default 2048
        STFT window length, in samples.
    hop_length : int, default 512
        Samples between frames, of the STFT, the CQT and every series.
    n_mfcc : int, default 20
        MFCC coefficients.
    n_mels : int, default 128
        Mel bands the MFCCs are computed from.
    cqt_bins : int, default 84
        CQT bins.
    cqt_bins_per_octave : int, default 12
        CQT bins per octave.
    """

    sr: int | None = None
    n_fft: int = 2048
    hop_length: int = 512
    n_mfcc: int = 20
    n_mels: int = 128
    cqt_bins: int = 84
    cqt_bins_per_octave: int = 12

    def as_dict(self) -> dict[str, int | None]:
        """The parameters by field name, as stored with a model.

        Returns
        -------
        dict of str to int or None
        """
        return dict(self.__dict__)

    @property
    def definition(self) -> str:
        """:data:`FEATURE_DEFINITION`, with ``@<sr>`` when every file is resampled to ``sr``.

        Returns
        -------
        str
        """
        return FEATURE_DEFINITION if self.sr is None else f"{FEATURE_DEFINITION}@{self.sr}"

    def at(self, sr: int) -> FeatureConfig:
        """This configuration at a decoded file's rate: what the computations take (``sr`` set).

        Parameters
        ----------
        sr : int
            The waveform's sample rate, in Hz.

        Returns
        -------
        FeatureConfig
        """
        return dataclasses.replace(self, sr=int(sr))


@functools.cache
def feature_columns() -> pd.MultiIndex:
    """All 708 column names: FMA's 518 exactly in ``features.csv`` order, then the MFCC correlations.

    Returns
    -------
    pandas.MultiIndex
        Levels ``feature``, ``statistics``, ``number``.
    """
    tuples = [(name, stat, f"{i + 1:02d}")
              for name, size in FEATURE_SIZES.items() for stat in STATISTICS for i in range(size)]
    tuples += [(MFCC_CORR, "corr", f"{i + 1:02d}-{j + 1:02d}") for i, j in zip(*_MFCC_PAIRS)]
    return pd.MultiIndex.from_tuples(tuples, names=COLUMN_NAMES)


@functools.cache
def _column_order() -> np.ndarray:
    """Index into the flattened (statistic, series) matrix for each output column."""
    order = []
    for name, size in FEATURE_SIZES.items():
        for s, _ in enumerate(STATISTICS):
            order.extend(s * N_SERIES + _FIRST_ROW[name] + i for i in range(size))
    return np.asarray(order)


def summarise(series: np.ndarray) -> np.ndarray:
    """The 708 features of a ``(74, n_frames)`` series matrix, in column order.

    Works on any slice of frames, which is what makes per-window features cheap.
    Skew and kurtosis are scipy's (biased, Fisher), as in FMA, except that a
    constant series gets 0 for both instead of NaN.

    Parameters
    ----------
    series : numpy.ndarray
        Shape ``(74, n_frames)``, rows as :func:`frame_series` returns them.

    Returns
    -------
    numpy.ndarray
        708 float32 values, in :func:`feature_columns` order.
    """
    series = np.asarray(series, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        # scipy warns about near-constant rows (a pure tone's chroma); the values stand.
        warnings.simplefilter("ignore", RuntimeWarning)
        table = np.stack([
            stats.kurtosis(series, axis=1),
            series.max(axis=1),
            series.mean(axis=1),
            np.median(series, axis=1),
            series.min(axis=1),
            stats.skew(series, axis=1),
            series.std(axis=1),
        ])
    # A constant series (a chroma bin pinned at 1 by a drone) has no skew and no excess
    # kurtosis; scipy answers NaN, which would discard a usable clip. Define both as 0.
    constant = series.max(axis=1) == series.min(axis=1)
    table[[0, 5]] = np.where(constant, 0.0, table[[0, 5]])
    fma = table.reshape(-1)[_column_order()]
    return np.concatenate([fma, mfcc_correlations(series[_MFCC_ROWS])]).astype(np.float32)


def mfcc_correlations(mfcc: np.ndarray) -> np.ndarray:
    """Pearson correlation of each pair of MFCC series (upper triangle, row by row).

    A constant series (digital silence, a single frame) correlates with nothing: 0, not
    NaN, for the same reason as its skew.

    Parameters
    ----------
    mfcc : numpy.ndarray
        Shape ``(n_mfcc, n_frames)``.

    Returns
    -------
    numpy.ndarray
        ``n_mfcc * (n_mfcc - 1) / 2`` correlations in ``[-1, 1]`` (190 for 20 MFCCs).
    """
    centred = mfcc - mfcc.mean(axis=1, keepdims=True)
    norms = np.sqrt(np.einsum("ij,ij->i", centred, centred))
    scale = np.outer(norms, norms)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(scale > 0, (centred @ centred.T) / scale, 0.0)
    return np.clip(corr[_MFCC_PAIRS], -1.0, 1.0)


def frame_series(y: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """The 74 frame-level series of a mono waveform, shape ``(74, n_frames)``.

    Rows follow :data:`FEATURE_SIZES`.

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform; must be at ``config.sr`` Hz.
    config : FeatureConfig, default FeatureConfig()
        Analysis parameters.

    Returns
    -------
    numpy.ndarray
        Shape ``(74, n_frames)``.
    """
    import librosa

    sr, n_fft, hop = config.sr, config.n_fft, config.hop_length
    y = np.asarray(y, dtype=np.float32)
    magnitude = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))
    power = magnitude**2
    # piptrack on the magnitude STFT is exactly what librosa.cqt(tuning=None) computes.
    with warnings.catch_warnings():  # no pitched frame (noise, clicks): tuning 0, as librosa
        warnings.filterwarnings("ignore", "Trying to estimate tuning", UserWarning)
        tuning = librosa.estimate_tuning(S=magnitude, sr=sr, n_fft=n_fft,
                                         bins_per_octave=config.cqt_bins_per_octave)
    cqt = np.abs(librosa.cqt(y, sr=sr, hop_length=hop, n_bins=config.cqt_bins,
                             bins_per_octave=config.cqt_bins_per_octave, tuning=tuning))
    n_octaves = config.cqt_bins // config.cqt_bins_per_octave
    chroma_args = dict(C=cqt, bins_per_octave=config.cqt_bins_per_octave, n_chroma=12,
                       n_octaves=n_octaves)
    chroma_cens = librosa.feature.chroma_cens(**chroma_args)
    centroid = librosa.feature.spectral_centroid(S=magnitude, sr=sr, n_fft=n_fft)
    mel = _mel_basis(sr, n_fft, config.n_mels) @ power
    rows = [
        chroma_cens,
        librosa.feature.chroma_cqt(**chroma_args),
        librosa.feature.chroma_stft(S=power, sr=sr, n_fft=n_fft, tuning=tuning),
        librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=config.n_mfcc),
        librosa.feature.rms(y=y, frame_length=n_fft, hop_length=hop),
        librosa.feature.spectral_bandwidth(S=magnitude, sr=sr, n_fft=n_fft, centroid=centroid),
        centroid,
        librosa.feature.spectral_contrast(S=magnitude, sr=sr, n_fft=n_fft, n_bands=6),
        librosa.feature.spectral_rolloff(S=magnitude, sr=sr, n_fft=n_fft),
        librosa.feature.tonnetz(chroma=chroma_cens, sr=sr),
        librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop),
    ]
    n_frames = min(r.shape[-1] for r in rows)
    return np.concatenate([r[:, :n_frames] for r in rows], axis=0)


@functools.cache
def _mel_basis(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """librosa's mel filter bank, built once per configuration instead of once per clip."""
    import librosa

    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)


def extract(y: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """The 708 features of one clip (float32, in :func:`feature_columns` order).

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform at ``config.sr`` Hz.
    config : FeatureConfig, default FeatureConfig()
        Analysis parameters.

    Returns
    -------
    numpy.ndarray
    """
    return summarise(frame_series(y, config))


def window_bounds(n_frames: int, frames_per_window: int, hop_frames: int) -> list[tuple[int, int]]:
    """``(start, stop)`` frame ranges of fixed-length windows covering a clip.

    Used for segment-level learning: summarising ``series[:, start:stop]`` costs only the
    statistics, since the frame series are computed once per clip. A clip shorter than
    one window yields one window over all its frames.

    Parameters
    ----------
    n_frames : int
        Frames in the clip.
    frames_per_window : int
        Frames in one window.
    hop_frames : int
        Frames between the starts of consecutive windows.

    Returns
    -------
    list of tuple of (int, int)

    Raises
    ------
    ValueError
        When ``frames_per_window`` or ``hop_frames`` is not positive.
    """
    if frames_per_window <= 0 or hop_frames <= 0:
        raise ValueError("frames_per_window and hop_frames must be positive")
    if n_frames <= frames_per_window:
        return [(0, n_frames)]
    starts = range(0, n_frames - frames_per_window + 1, hop_frames)
    return [(s, s + frames_per_window) for s in starts]


def flat_name(column: tuple[str, str, str]) -> str:
    """``('mfcc', 'mean', '01') -> 'mfcc.mean.01'``: the string names models and MLflow need.

    Parameters
    ----------
    column : tuple of (str, str, str)
        A :func:`feature_columns` entry.

    Returns
    -------
    str
    """
    return ".".join(column)


@functools.cache
def flat_feature_names() -> tuple[str, ...]:
    """The 708 feature names flattened with :func:`flat_name`, in column order.

    Returns
    -------
    tuple of str
    """
    return tuple(flat_name(c) for c in feature_columns())


def feature_family(name: str) -> str:
    """Family of a flat feature name (``'mfcc.mean.01' -> 'mfcc'``), used to group importances.

    Parameters
    ----------
    name : str
        A flat feature name.

    Returns
    -------
    str
    """
    return name.split(".", 1)[0]
