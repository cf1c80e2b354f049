"""Reference implementation of the 708 features: FMA's ``features.py``, call for call, plus mfcc_corr.

FMA's 518 columns are what ``compute_features`` in mdeff/fma's ``features.py`` computes
(read at https://github.com/mdeff/fma, ``features.py``), with the same librosa calls, the
same arguments and in the same order, on today's librosa (only ``rmse`` is called
``rms`` now):

- ``x, sr = librosa.load(path, sr=None, mono=True)``: the file's native rate;
- ``zero_crossing_rate(x, frame_length=2048, hop_length=512)``;
- one CQT, ``abs(cqt(x, sr=sr, hop_length=512, bins_per_octave=12, n_bins=7*12,
  tuning=None))``, shared by ``chroma_cqt(C=cqt, n_chroma=12, n_octaves=7)`` and
  ``chroma_cens(C=cqt, n_chroma=12, n_octaves=7)`` (``bins_per_octave`` left at
  librosa's 36), and ``tonnetz(chroma=<the cens>)``;
- one STFT magnitude, ``abs(stft(x, n_fft=2048, hop_length=512))``, shared by
  ``chroma_stft(S=stft**2, n_chroma=12)``, ``rms(S=stft)``, ``spectral_centroid(S=stft)``,
  ``spectral_bandwidth(S=stft)``, ``spectral_contrast(S=stft, n_bands=6)``,
  ``spectral_rolloff(S=stft)`` (all without ``sr``: librosa assumes 22,050 Hz) and
  ``melspectrogram(sr=sr, S=stft**2)`` -> ``mfcc(S=power_to_db(mel), n_mfcc=20)``;
- per series: ``np.mean``, ``np.std``, ``scipy.stats.skew``, ``scipy.stats.kurtosis``,
  ``np.median``, ``np.min``, ``np.max`` along the frames, stored as float32.

One deliberate difference, the project's (see docs/features.md): where today's scipy
answers NaN for skew or kurtosis (a series constant to within floating-point precision),
the value is 0. (FMA ran scipy 0.19-era code, which gave skew 0 and kurtosis -3 for a
constant series; today's gives NaN, which would discard the clip.)

Then the project's own family, ``mfcc_corr``: ``numpy.corrcoef`` of the 20 MFCC series
(upper triangle, 0 where it is NaN).

It exists to check :mod:`fma_pipeline.core.audio.features` (tests) and to time it against
(``bench/extract.py``); it is not part of the package.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
from scipy import stats

from fma_pipeline.core.audio.features import FEATURE_SIZES, feature_columns


def load(path: Path | str) -> tuple[np.ndarray, float]:
    """features.py's decode: the file at its native rate, mono by averaging the channels."""
    return librosa.load(path, sr=None, mono=True)


def reference_series(x: np.ndarray, sr: float) -> dict[str, np.ndarray]:
    """FMA's frame-level series of each family, ``{family: (rows, n_frames)}``, in features.py's order."""
    series: dict[str, np.ndarray] = {}
    with warnings.catch_warnings():  # noise has no pitch: librosa warns and takes tuning 0
        warnings.filterwarnings("ignore", "Trying to estimate tuning", UserWarning)
        series["zcr"] = librosa.feature.zero_crossing_rate(x, frame_length=2048, hop_length=512)

        cqt = np.abs(librosa.cqt(x, sr=sr, hop_length=512, bins_per_octave=12, n_bins=7 * 12, tuning=None))
        assert cqt.shape[0] == 7 * 12
        assert np.ceil(len(x) / 512) <= cqt.shape[1] <= np.ceil(len(x) / 512) + 1

        series["chroma_cqt"] = librosa.feature.chroma_cqt(C=cqt, n_chroma=12, n_octaves=7)
        series["chroma_cens"] = f = librosa.feature.chroma_cens(C=cqt, n_chroma=12, n_octaves=7)
        series["tonnetz"] = librosa.feature.tonnetz(chroma=f)

        del cqt
        stft = np.abs(librosa.stft(x, n_fft=2048, hop_length=512))
        assert stft.shape[0] == 1 + 2048 // 2
        assert np.ceil(len(x) / 512) <= stft.shape[1] <= np.ceil(len(x) / 512) + 1

        series["chroma_stft"] = librosa.feature.chroma_stft(S=stft**2, n_chroma=12)
        series["rmse"] = librosa.feature.rms(S=stft)
        series["spectral_centroid"] = librosa.feature.spectral_centroid(S=stft)
        series["spectral_bandwidth"] = librosa.feature.spectral_bandwidth(S=stft)
        series["spectral_contrast"] = librosa.feature.spectral_contrast(S=stft, n_bands=6)
        series["spectral_rolloff"] = librosa.feature.spectral_rolloff(S=stft)

        mel = librosa.feature.melspectrogram(sr=sr, S=stft**2)
        del stft
        series["mfcc"] = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20)
    return series


def reference_statistics(values: np.ndarray) -> dict[str, np.ndarray]:
    """features.py's ``feature_stats`` on a ``(rows, n_frames)`` array, as float32; NaN skew/kurtosis -> 0."""
    with warnings.catch_warnings():  # scipy warns where it answers NaN; that is handled below
        warnings.simplefilter("ignore", RuntimeWarning)
        out = {
            "mean": np.mean(values, axis=1),
            "std": np.std(values, axis=1),
            "skew": stats.skew(values, axis=1),
            "kurtosis": stats.kurtosis(values, axis=1),
            "median": np.median(values, axis=1),
            "min": np.min(values, axis=1),
            "max": np.max(values, axis=1),
        }
    out["skew"] = np.nan_to_num(out["skew"], nan=0.0)  # the project's rule, not FMA's (see module doc)
    out["kurtosis"] = np.nan_to_num(out["kurtosis"], nan=0.0)
    return {stat: np.asarray(column, dtype=np.float32) for stat, column in out.items()}


def mfcc_correlations(mfcc: np.ndarray) -> np.ndarray:
    """The project's mfcc_corr family: upper triangle of ``numpy.corrcoef``, row by row, NaN -> 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.nan_to_num(np.corrcoef(np.asarray(mfcc, dtype=np.float64)), nan=0.0)
    return corr[np.triu_indices(corr.shape[0], k=1)]


def reference_summary(series: dict[str, np.ndarray]) -> pd.Series:
    """The 708 features of :func:`reference_series`' output, indexed by ``feature_columns()``."""
    values: dict[tuple[str, str, str], float] = {}
    pairs = np.triu_indices(FEATURE_SIZES["mfcc"], k=1)
    for (i, j), value in zip(zip(*pairs), mfcc_correlations(series["mfcc"])):
        values[("mfcc_corr", "corr", f"{i + 1:02d}-{j + 1:02d}")] = float(value)
    for name, rows in series.items():
        assert rows.shape[0] == FEATURE_SIZES[name], (name, rows.shape)
        for stat, column in reference_statistics(rows).items():
            for i, value in enumerate(column):
                values[(name, stat, f"{i + 1:02d}")] = float(value)
    features = pd.Series(values, dtype=np.float64, name="reference").reindex(feature_columns())
    assert not features.isna().any(), "a column was not filled"
    return features


def reference_features(x: np.ndarray, sr: float) -> pd.Series:
    """The 708 features of mono waveform ``x`` at ``sr`` Hz, indexed by ``feature_columns()``."""
    return reference_summary(reference_series(np.asarray(x), sr))


def family_differences(fast: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Per family: the worst column's median (over clips) relative difference, and that column.

    ``fast`` and ``reference`` are (clips x 708) tables with ``feature_columns()``. The
    relative difference of a value is ``|fast - ref| / |ref|`` (``|ref|`` floored at 1e-12).
    """
    rel = (fast - reference).abs() / reference.abs().clip(lower=1e-12)
    median = rel.median(axis=0)
    rows = []
    for family in dict.fromkeys(median.index.get_level_values("feature")):
        part = median.loc[[family]]
        worst = part.idxmax()
        rows.append({"family": family, "worst_median": float(part.max()), "column": ".".join(worst),
                     "max": float(rel.loc[:, [family]].to_numpy().max())})
    return pd.DataFrame(rows).set_index("family")


def reference_window_features(series: dict[str, np.ndarray], bounds: list[tuple[int, int]]) -> np.ndarray:
    """``(n_windows, 708)``: features.py's ``feature_stats`` (and mfcc_corr) of each window ``[a, b)`` of the series.

    features.py has no windows; this is what summarising its series window by window
    costs, one scipy call per statistic and window, as ``bench/extract.py`` times it.
    """
    order = list(feature_columns())
    rows = []
    for a, b in bounds:
        values = {("mfcc_corr", "corr", f"{i + 1:02d}-{j + 1:02d}"): value for i, j, value in zip(
            *np.triu_indices(FEATURE_SIZES["mfcc"], k=1), mfcc_correlations(series["mfcc"][:, a:b]))}
        for name, values_ in series.items():
            for stat, column in reference_statistics(values_[:, a:b]).items():
                values.update({(name, stat, f"{i + 1:02d}"): value for i, value in enumerate(column)})
        rows.append([values[c] for c in order])
    return np.asarray(rows, dtype=np.float32)


def reference_file_features(path: Path | str) -> pd.Series:
    """The 708 features of an audio file, decoded as features.py decodes it."""
    x, sr = load(path)
    return reference_features(x, sr)
