"""FMA's seven statistics of many frame series at once: a clip and all its windows in one pass.

FMA's ``feature_stats`` calls ``np.mean``, ``np.std``, ``scipy.stats.skew``,
``scipy.stats.kurtosis`` (biased, Fisher), ``np.median``, ``np.min`` and ``np.max`` along
the frames. scipy's two are general-purpose (input checks, a mean per moment, NaN
handling) and dominate when they are called once per 3 s window: ten windows per clip
cost more than the clip itself. :func:`describe` takes a stack of equally long series
(``(..., rows, frames)``: one clip, or all windows of one clip) and computes the central
moments once, in float64, with numpy's own median, min and max.

Where FMA's arithmetic is coarse enough to show, it is reproduced: librosa returns
chroma_cqt and chroma_stft frame-major (Fortran order) in float32, so numpy and scipy sum
their ~2,600 frames one after another in float32, and the kurtosis carries rounding
errors up to ~5e-4 relative (1e-4 typical). :func:`float32_frame_moments` does those
sums in the same order and precision, which brings those columns from ~1e-4 to ~1e-6 of
FMA's values; every other family is summed in float64, within ~1e-6 of FMA's.

One rule is the project's, not FMA's: where the variance is zero to float32 precision
(``m2 <= (eps32 · mean)²``, the test today's scipy uses to answer NaN), skew and
kurtosis are 0. A constant series (a chroma bin pinned at 1 by a drone, digital silence)
has no shape; NaN would discard the clip. (FMA's own run, on 2017's scipy, gave skew 0
and kurtosis −3 there.)
"""

from __future__ import annotations

import numpy as np

#: The statistics, in FMA's (alphabetical) column order.
STATISTICS: tuple[str, ...] = ("kurtosis", "max", "mean", "median", "min", "skew", "std")
_EPS32 = float(np.finfo(np.float32).eps)


def describe(series: np.ndarray) -> np.ndarray:
    """The 7 statistics along the last axis, stacked first in :data:`STATISTICS` order.

    Parameters
    ----------
    series : numpy.ndarray
        Shape ``(..., n_frames)``, at least one frame.

    Returns
    -------
    numpy.ndarray
        float64, shape ``(7, ...)``.
    """
    x = np.asarray(series, dtype=np.float64)
    mean = x.mean(axis=-1)
    centred = x - mean[..., np.newaxis]
    square = centred * centred
    m2 = square.mean(axis=-1)
    m3 = np.einsum("...i,...i->...", square, centred) / x.shape[-1]
    m4 = np.einsum("...i,...i->...", square, square) / x.shape[-1]
    flat = m2 <= (_EPS32 * mean) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = np.where(flat, 0.0, m3 / m2**1.5)
        kurtosis = np.where(flat, 0.0, m4 / m2**2 - 3.0)
    return np.stack([kurtosis, x.max(axis=-1), mean, np.median(x, axis=-1), x.min(axis=-1), skew, np.sqrt(m2)])


def float32_frame_moments(series: np.ndarray) -> np.ndarray:
    """Mean, std, skew and kurtosis as numpy and scipy compute them on float32 series stored frame-major.

    ``np.mean(x, axis=1)``, ``np.std``, ``scipy.stats.skew`` and ``scipy.stats.kurtosis``
    on a float32 ``(rows, n_frames)`` array in Fortran order reduce along the strided
    axis: each sum adds the frames one at a time in float32. Here the frames are the
    first axis of a C-ordered float32 copy, and ``np.add.reduce`` along it performs the
    same additions in the same order (verified bit-identical on identical input).
    Series constant to float32 precision get skew and kurtosis 0, as in :func:`describe`.

    Parameters
    ----------
    series : numpy.ndarray
        Shape ``(..., rows, n_frames)``; converted to float32 (exactly, for values that are float32).

    Returns
    -------
    numpy.ndarray
        float32, shape ``(4, ..., rows)``: mean, std, skew, kurtosis.
    """
    frames = np.ascontiguousarray(np.moveaxis(np.asarray(series, dtype=np.float32), -1, 0))
    n = np.float32(frames.shape[0])
    mean = np.add.reduce(frames, axis=0) / n
    centred = frames - mean
    square = centred * centred
    m2 = np.add.reduce(square, axis=0) / n  # also np.std's variance, summed the same way
    m3 = np.add.reduce(square * centred, axis=0) / n
    m4 = np.add.reduce(square * square, axis=0) / n
    flat = m2 <= (np.float32(_EPS32) * mean) ** 2
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        skew = np.where(flat, np.float32(0), m3 / m2 ** np.float32(1.5))
        kurtosis = np.where(flat, np.float32(0), m4 / m2 ** np.float32(2.0) - np.float32(3))
    return np.stack([mean, np.sqrt(m2), skew, kurtosis])


def correlations(series: np.ndarray, pairs: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Pearson correlation of row pairs along the last axis; 0 where a row is constant.

    Parameters
    ----------
    series : numpy.ndarray
        Shape ``(..., n_rows, n_frames)``.
    pairs : tuple of numpy.ndarray
        Row indices ``(i, j)`` of the pairs, e.g. ``numpy.triu_indices(n_rows, k=1)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., n_pairs)``, in ``[-1, 1]``.
    """
    x = np.asarray(series, dtype=np.float64)
    centred = x - x.mean(axis=-1, keepdims=True)
    norms = np.sqrt(np.einsum("...ij,...ij->...i", centred, centred))
    products = (centred @ np.swapaxes(centred, -1, -2))[..., pairs[0], pairs[1]]
    scale = norms[..., pairs[0]] * norms[..., pairs[1]]
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = np.where(scale > 0, products / np.where(scale > 0, scale, 1.0), 0.0)
    return np.clip(corr, -1.0, 1.0)
