"""The audio features: FMA's 518, exactly as FMA's ``features.py`` computes them, plus 190 MFCC correlations.

FMA's ``features.csv`` summarises 74 frame-level series (chroma_cens, chroma_cqt,
chroma_stft ×12, mfcc ×20, rmse, spectral_bandwidth, spectral_centroid,
spectral_contrast ×7, spectral_rolloff, tonnetz ×6, zcr) by 7 statistics (kurtosis,
max, mean, median, min, skew, std): 518 columns named ``(feature, statistics, number)``.
They come first, in exactly FMA's order, and a column under FMA's name means what FMA's
column means: it is computed as ``compute_features`` in mdeff/fma's ``features.py``
computes it, on the waveform at the file's own rate, quirks included
(``docs/features.md`` lists them):

- chroma_stft, rmse, spectral_centroid / bandwidth / contrast / rolloff come from one
  magnitude STFT (n_fft 2048, hop 512) *without* ``sr``, so librosa assumes 22,050 Hz
  (:data:`LIBROSA_DEFAULT_SR`): at 44.1 kHz centroid, bandwidth and roll-off are half the
  true frequency and the contrast bands and chroma bins sit an octave off; chroma_stft
  estimates its own tuning from the power spectrogram on that assumption; rmse is
  librosa's ``rms(S=stft)``, from the windowed spectrum, not the waveform;
- chroma_cqt and chroma_cens come from one 84-bin, 12-bins-per-octave CQT whose tuning is
  estimated from the waveform, mapped to chroma with librosa's default of 36 bins per
  octave; tonnetz is computed from that chroma_cens;
- mfcc: 20 coefficients of the dB mel spectrogram (128 bands, real ``sr``); zcr from the
  waveform frames.

Only the arithmetic is reorganised, never the definitions: both tuning estimates read only
the rows piptrack keeps (:mod:`.tuning`), the CQT's filters are built once per rate and
tuning (:mod:`.cqt`), the spectral features share passes over the spectrogram
(:mod:`.spectral`), and a clip's and all its windows' statistics are one vectorised pass
(:mod:`.moments`). ``fma_pipeline_tests/test_features.py`` holds every family to
``features.py``'s own calls (``fma_pipeline_tests/reference_features.py``) on real and
generated MP3s. Two differences remain, both documented in ``docs/features.md``: skew and
kurtosis of a constant series are 0 (today's scipy answers NaN), and in the rare clip
whose CQT has one frame more than its STFT (1 length in 512), that frame is dropped so
that all 74 series share one frame grid.

Then one family FMA does not have, ``mfcc_corr``: the Pearson correlation of every pair
of the 20 MFCC series over the clip's frames (190 columns, ``('mfcc_corr', 'corr',
'01-02')`` …). Per-coefficient statistics describe each band of the spectral envelope
alone; how the bands move together (the off-diagonal of the MFCC covariance, as in
Mandel & Ellis, "Song-level features and SVMs for music classification", ISMIR 2005)
is a classic timbre descriptor they miss. On gtzan-mini (``bench/gtzan.py``, nested CV)
it lifts the best models from 0.83 to 0.85–0.86 accuracy; it costs one 20×20 matrix
product per clip or window. Which columns a model sees is still searched
(:mod:`fma_pipeline.core.learning.families`), and FMA's 518 alone is one of the choices.
The name ``rmse`` is FMA's (librosa now calls it ``rms``).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fma_pipeline.core.audio import spectral
from fma_pipeline.core.audio.cqt import cqt_magnitude
from fma_pipeline.core.audio.moments import STATISTICS, correlations, describe, float32_frame_moments
from fma_pipeline.core.audio.tuning import estimate_tuning

FEATURE_DEFINITION = "fma-features.py/1"
"""The feature definition: names what the 708 values mean (FMA's ``features.py`` calls at the
file's native rate, then the project's own families). **Bump it whenever any feature value
changes.** It is stored with every ``track_features`` and ``segment_features`` file and every
registered model, so outputs of another definition are re-extracted and models of another
definition refused (docs/feature-definitions.md). Outputs of versions before it carry none."""
#: The rate librosa assumes when a call is not given ``sr``, as features.py's spectral calls are not.
LIBROSA_DEFAULT_SR = 22_050
#: Files below this rate are analysed at it (resampled up): features.py itself fails on them (its
#: 84-bin CQT reaches 4 kHz), and it is the rate its calls without ``sr`` assume. FMA's clips are
#: 44.1 kHz, so FMA never meets it. Part of the definition: changing it is a bump.
MIN_NATIVE_SR = LIBROSA_DEFAULT_SR

#: Series per feature family, in FMA's (alphabetical) column order.
FEATURE_SIZES: dict[str, int] = {
    "chroma_cens": 12, "chroma_cqt": 12, "chroma_stft": 12, "mfcc": 20, "rmse": 1,
    "spectral_bandwidth": 1, "spectral_centroid": 1, "spectral_contrast": 7,
    "spectral_rolloff": 1, "tonnetz": 6, "zcr": 1,
}
N_SERIES = sum(FEATURE_SIZES.values())  # 74
N_FMA_FEATURES = N_SERIES * len(STATISTICS)  # 518
#: The family FMA does not have: correlations of MFCC pairs, upper triangle, row by row.
MFCC_CORR = "mfcc_corr"
_FIRST_ROW = dict(zip(FEATURE_SIZES, np.cumsum([0, *FEATURE_SIZES.values()]).tolist()))  # of each family's series
_MFCC_ROWS = slice(_FIRST_ROW["mfcc"], _FIRST_ROW["mfcc"] + FEATURE_SIZES["mfcc"])
_MFCC_PAIRS = np.triu_indices(FEATURE_SIZES["mfcc"], k=1)
#: Rows whose moments FMA's code sums frame by frame in float32 (librosa hands them over
#: frame-major): chroma_cqt and chroma_stft. See :mod:`fma_pipeline.core.audio.moments`.
_FLOAT32_FRAME_MAJOR = slice(_FIRST_ROW["chroma_cqt"], _FIRST_ROW["chroma_stft"] + FEATURE_SIZES["chroma_stft"])
_MOMENT_ROWS = [STATISTICS.index(s) for s in ("mean", "std", "skew", "kurtosis")]
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
    The statistics are FMA's (scipy's biased skew and Fisher kurtosis), except that a
    series constant to float32 precision gets 0 for both instead of NaN
    (:mod:`fma_pipeline.core.audio.moments`).

    Parameters
    ----------
    series : numpy.ndarray
        Shape ``(74, n_frames)``, rows as :func:`frame_series` returns them.

    Returns
    -------
    numpy.ndarray
        708 float32 values, in :func:`feature_columns` order.
    """
    return summarise_stack(np.asarray(series)[np.newaxis])[0]


def summarise_stack(windows: np.ndarray) -> np.ndarray:
    """:func:`summarise` of each of a stack of equally long series matrices, in one pass.

    Parameters
    ----------
    windows : numpy.ndarray
        Shape ``(n_windows, 74, n_frames)``.

    Returns
    -------
    numpy.ndarray
        float32, shape ``(n_windows, 708)``.
    """
    windows = np.asarray(windows, dtype=np.float64)
    stats = describe(windows)  # (7, n_windows, 74)
    # FMA's float32 arithmetic where it is finite; float32 under- or overflow (values far
    # outside chroma's [0, 1]) would turn a usable clip into NaN: keep float64's there
    fma32 = float32_frame_moments(windows[:, _FLOAT32_FRAME_MAJOR])
    wide = stats[_MOMENT_ROWS, :, _FLOAT32_FRAME_MAJOR]
    stats[_MOMENT_ROWS, :, _FLOAT32_FRAME_MAJOR] = np.where(np.isfinite(fma32), fma32, wide)
    table = np.moveaxis(stats, 0, 1)  # (n_windows, 7, 74)
    fma = table.reshape(len(windows), -1)[:, _column_order()]
    corr = correlations(windows[:, _MFCC_ROWS], _MFCC_PAIRS)
    return np.concatenate([fma, corr], axis=1).astype(np.float32)


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
    return correlations(mfcc, np.triu_indices(mfcc.shape[0], k=1))


def frame_series(y: np.ndarray, config: FeatureConfig = FeatureConfig()) -> np.ndarray:
    """The 74 frame-level series of a mono waveform, shape ``(74, n_frames)``, as features.py computes them.

    Rows follow :data:`FEATURE_SIZES`. Each line below names the call of FMA's
    ``compute_features`` it reproduces (librosa 0.11 names; ``rmse`` is now ``rms``).

    Parameters
    ----------
    y : numpy.ndarray
        Mono waveform; must be at ``config.sr`` Hz (FMA's features: the file's own rate).
    config : FeatureConfig, default FeatureConfig()
        Analysis parameters.

    Returns
    -------
    numpy.ndarray
        Shape ``(74, 1 + len(y) // hop_length)``, float64.
    """
    import librosa

    sr, n_fft, hop = config.sr, config.n_fft, config.hop_length
    y = np.ascontiguousarray(y, dtype=np.float32)
    # stft = np.abs(librosa.stft(x, n_fft=2048, hop_length=512)), and stft**2
    magnitude, power = spectral.stft_magnitude(y, n_fft=n_fft, hop_length=hop)
    column_max = magnitude.max(axis=0)
    # cqt = np.abs(librosa.cqt(x, sr=sr, hop_length=512, bins_per_octave=12, n_bins=84, tuning=None)):
    # librosa estimates the tuning with piptrack on this same magnitude STFT, at the real sr
    cqt_tuning = estimate_tuning(magnitude, sr, column_max=column_max, bins_per_octave=config.cqt_bins_per_octave)
    cqt = cqt_magnitude(y, sr, cqt_tuning, hop_length=hop, n_bins=config.cqt_bins,
                        bins_per_octave=config.cqt_bins_per_octave)
    n_octaves = config.cqt_bins // config.cqt_bins_per_octave
    # chroma_cqt / chroma_cens(C=cqt, n_chroma=12, n_octaves=7): bins_per_octave stays librosa's 36
    chroma_cqt = librosa.feature.chroma_cqt(C=cqt, n_chroma=12, n_octaves=n_octaves)
    chroma_cens = librosa.feature.chroma_cens(C=cqt, n_chroma=12, n_octaves=n_octaves)
    # chroma_stft(S=stft**2, n_chroma=12): no sr, so its own tuning estimate assumes 22,050 Hz too
    stft_tuning = estimate_tuning(power, LIBROSA_DEFAULT_SR, column_max=column_max * column_max, bins_per_octave=12)
    chroma_stft = librosa.feature.chroma_stft(S=power, n_chroma=12, tuning=stft_tuning)
    # spectral_centroid / bandwidth / contrast(n_bands=6) / rolloff(S=stft), all without sr
    freq = _fft_frequencies(LIBROSA_DEFAULT_SR, n_fft)
    centroid, bandwidth = spectral.centroid_and_bandwidth(magnitude, freq)
    # mfcc(S=power_to_db(melspectrogram(sr=sr, S=stft**2)), n_mfcc=20): this one has sr
    mel = _mel_basis(sr, n_fft, config.n_mels) @ power
    rows = [
        chroma_cens,
        chroma_cqt,
        chroma_stft,
        librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=config.n_mfcc),
        spectral.rms_from_power(power),  # rms(S=stft)
        bandwidth,
        centroid,
        spectral.contrast(magnitude, freq, LIBROSA_DEFAULT_SR, n_bands=6),
        spectral.rolloff(magnitude, freq),
        librosa.feature.tonnetz(chroma=chroma_cens),
        spectral.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop),  # zero_crossing_rate(x, 2048, 512)
    ]
    # The CQT can have one frame more than the STFT (1 length in 512): one shared grid.
    n_frames = magnitude.shape[1]
    return np.concatenate([np.asarray(r[:, :n_frames], dtype=np.float64) for r in rows], axis=0)


@functools.cache
def _fft_frequencies(sr: float, n_fft: int) -> np.ndarray:
    """``librosa.fft_frequencies``, once per configuration."""
    import librosa

    return librosa.fft_frequencies(sr=sr, n_fft=n_fft)


@functools.cache
def _mel_basis(sr: int, n_fft: int, n_mels: int) -> spectral.MelBank:
    """librosa's mel filter bank, built once per configuration instead of once per clip, applied band by band."""
    import librosa

    return spectral.MelBank(librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels))


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
