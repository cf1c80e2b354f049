"""``abs(librosa.cqt(...))`` for FMA's one CQT, with the filters built once instead of per clip.

librosa's CQT (``vqt`` with ``gamma=0``) halves the signal once early (at 44.1 kHz),
then for each of the 7 octaves: builds that octave's 12 wavelet filters and their FFT
(``filters.wavelet`` + FFT + ``util.sparsify_rows``, a few ms each), takes a
rectangular-window STFT of the signal in float64, multiplies it by the sparse filter
FFTs, and halves the signal with soxr for the next octave. That was ~80 ms of
``features.py``'s ~500 ms per 30 s clip at 44.1 kHz.

Here the same filters are built with librosa's arithmetic (``filters.wavelet`` and
``sparsify_rows`` redone without their per-filter window, normalise and pad calls and
their row-by-row sparse assignment, bit for bit: a plan takes ~3 ms instead of ~20),
once per ``(sr, tuning, hop, bins)`` (tuning is quantised to 0.01 bin, so at most 100
versions per rate; a short run meets a new one every clip or two), and each octave's
sparse frequency-domain filters ``B`` are folded into 12
time-domain kernels ``K = B · DFT``: since the STFT of a frame is ``DFT · frame``,
``B · STFT(frames) = K · frames`` exactly (up to rounding), one float32 matrix product
per octave instead of an FFT of every frame in float64. The resampling is librosa's own
(soxr ``HQ``, ``fix_length``, ``scale=True``), so every octave sees the same samples;
the octave bands' results are trimmed and scaled by ``1 / sqrt(length)`` as librosa
does. The magnitudes agree with librosa's to float32 rounding (relative ~1e-6 of a
frame's largest bin; ``fma_pipeline_tests/test_features.py``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import soxr

#: FMA's CQT: 7 octaves of 12 bins from C1, hop 512.
FMA_CQT_BINS, FMA_CQT_BINS_PER_OCTAVE = 84, 12


@dataclass(frozen=True)
class _Octave:
    """One octave's filters as time-domain kernels, and the frame geometry librosa uses."""

    kernels: np.ndarray  # (n_fft, 2 * n_filters) float32: real parts, then imaginary parts
    n_fft: int
    hop: int
    halve_first: bool  # librosa halves the signal after an octave only while the hop is even


@dataclass(frozen=True)
class _Plan:
    early_downsample: int  # the signal is first halved this many times (librosa's __early_downsample)
    octaves: tuple[_Octave, ...]  # highest first
    scale: np.ndarray  # (n_bins,) 1 / sqrt(filter length), lowest bin first


@functools.lru_cache(maxsize=256)
def _plan(sr: float, tuning: float, hop_length: int, n_bins: int, bins_per_octave: int) -> _Plan:
    """librosa.vqt's filter bases (gamma 0, hann, norm 1, sparsity 0.01), as time-domain kernels."""
    import librosa
    from librosa import filters

    n_octaves = int(np.ceil(n_bins / bins_per_octave))
    n_filters = min(bins_per_octave, n_bins)
    fmin = librosa.note_to_hz("C1") * 2.0 ** (tuning / bins_per_octave)
    freqs = librosa.interval_frequencies(n_bins=n_bins, fmin=fmin, intervals="equal",
                                         bins_per_octave=bins_per_octave, sort=True)
    alpha = filters._relative_bandwidth(freqs=freqs)  # what vqt computes; there is no public name
    _, cutoff = filters.wavelet_lengths(freqs=freqs, sr=sr, window="hann", filter_scale=1, gamma=0,
                                              alpha=alpha)
    if cutoff > sr / 2:
        raise ValueError(f"a {n_bins}-bin CQT from C1 needs a rate above {2 * cutoff:.0f} Hz, not {sr:g} Hz")
    # librosa's __early_downsample_count
    hop_twos = (hop_length & -hop_length).bit_length() - 1
    count = min(max(0, int(np.ceil(np.log2(sr / 2 / cutoff)) - 1) - 1), max(0, hop_twos - n_octaves + 1))
    base_sr, hop = sr / 2**count, hop_length // 2**count
    my_sr, octaves, halve = base_sr, [], False
    for i in range(n_octaves):
        band = slice(-n_filters, None) if i == 0 else slice(-n_filters * (i + 1), -n_filters * i)
        basis, octave_lengths = _wavelet(freqs[band], my_sr, alpha[band])
        n_fft = basis.shape[1]
        basis *= octave_lengths[:, np.newaxis] / float(n_fft)
        fft_basis = librosa.get_fftlib().fft(basis, n=n_fft, axis=1)[:, :n_fft // 2 + 1]
        fft_basis = _sparsify_rows(fft_basis, quantile=0.01, dtype=np.complex64)
        fft_basis *= np.sqrt(base_sr / my_sr)
        kernel = fft_basis.astype(np.complex128) @ _dft(n_fft)  # (n_filters, n_fft)
        kernels = np.ascontiguousarray(np.concatenate([kernel.real, kernel.imag]).T, dtype=np.float32)
        octaves.append(_Octave(kernels, n_fft, hop, halve))
        halve = hop % 2 == 0
        if halve:
            hop //= 2
            my_sr /= 2.0
    # vqt scales by the filter lengths at the early-downsampled rate
    lengths, _ = filters.wavelet_lengths(freqs=freqs, sr=base_sr, window="hann", filter_scale=1, gamma=0, alpha=alpha)
    return _Plan(count, tuple(octaves), (1.0 / np.sqrt(lengths)).astype(np.float32))


@functools.cache
def _window(n: int) -> np.ndarray:
    """librosa's ``get_window('hann', n)`` (scipy's periodic Hann), once per length; read only."""
    from librosa import filters

    window = filters.get_window("hann", n)
    window.setflags(write=False)
    return window


def _wavelet(freqs: np.ndarray, sr: float, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``librosa.filters.wavelet(freqs=..., sr=..., window='hann', filter_scale=1, norm=1, pad_fft=True, gamma=0,
    alpha=...)``: the same arithmetic filter by filter, without librosa's per-filter window, normalize and
    pad_center calls (most of a plan's build time)."""
    import librosa
    from librosa import filters

    lengths, _ = filters.wavelet_lengths(freqs=freqs, sr=sr, window="hann", filter_scale=1, gamma=0, alpha=alpha)
    size = int(2.0 ** (np.ceil(np.log2(max(lengths)))))
    basis = np.zeros((len(freqs), size), dtype=np.complex64)
    tiny = np.finfo(np.float64).tiny  # librosa.util.tiny of a complex128 filter
    for row, (ilen, freq) in enumerate(zip(lengths, freqs)):
        sig = librosa.util.phasor(np.arange(-ilen // 2, ilen // 2, dtype=float) * 2 * np.pi * freq / sr)
        n = len(sig)
        sig *= _window(n)  # __float_window at an integer length: get_window itself
        norm = np.sum(np.abs(sig).astype(float), axis=-1, keepdims=True)  # util.normalize(norm=1)
        norm[norm < tiny] = 1.0
        left = (size - n) // 2  # util.pad_center
        basis[row, left:left + n] = sig / norm
    return basis, lengths


@functools.cache
def _dft(n_fft: int) -> np.ndarray:
    """``(n_fft // 2 + 1, n_fft)``: rfft bin f of a frame is ``sum_n frame[n] exp(-2 pi i f n / n_fft)``."""
    return np.exp(-2j * np.pi * np.outer(np.arange(n_fft // 2 + 1), np.arange(n_fft)) / n_fft)


def _sparsify_rows(x: np.ndarray, quantile: float, dtype: type) -> np.ndarray:
    """``librosa.util.sparsify_rows(x, quantile=..., dtype=...).toarray()`` without the sparse matrix.

    librosa keeps, in each row, the entries at least as large in magnitude as the one where
    the sorted magnitudes' cumulative share first reaches ``quantile``, by assigning them
    one row at a time into a LIL matrix (a third of a plan's build time). The same
    arithmetic selects the same entries here; the others are 0, as in ``toarray()``.
    """
    mags = np.abs(x)
    norms = np.sum(mags, axis=1, keepdims=True)
    mag_sort = np.sort(mags, axis=1)
    cumulative_mag = np.cumsum(mag_sort / norms, axis=1)
    threshold_idx = np.argmin(cumulative_mag < quantile, axis=1)
    keep = mags >= mag_sort[np.arange(x.shape[0]), threshold_idx][:, np.newaxis]
    return np.where(keep, x, 0).astype(dtype)


def _halve(y: np.ndarray, times: int = 1) -> np.ndarray:
    """``librosa.resample(y, orig_sr=2**times, target_sr=1, res_type='soxr_hq', scale=True)``."""
    factor = 2**times
    out = soxr.resample(y, factor, 1, quality="soxr_hq")
    size = int(np.ceil(y.shape[-1] / factor))
    if out.shape[-1] > size:
        out = out[:size]
    elif out.shape[-1] < size:
        out = np.pad(out, (0, size - out.shape[-1]))
    out /= np.sqrt(1.0 / factor)
    return np.asarray(out, dtype=y.dtype)


def cqt_magnitude(y: np.ndarray, sr: float, tuning: float, *, hop_length: int = 512, n_bins: int = FMA_CQT_BINS,
                  bins_per_octave: int = FMA_CQT_BINS_PER_OCTAVE) -> np.ndarray:
    """``np.abs(librosa.cqt(y, sr=sr, hop_length=..., n_bins=..., bins_per_octave=..., tuning=tuning))``.

    Parameters
    ----------
    y : numpy.ndarray
        Mono float32 waveform.
    sr : float
        Its rate, in Hz.
    tuning : float
        Tuning deviation in fractions of a bin, as ``librosa.estimate_tuning`` returns it.
    hop_length : int, default 512
        Samples between frames.
    n_bins : int, default 84
        Bins from C1 (tuned) upwards.
    bins_per_octave : int, default 12
        Bins per octave.

    Returns
    -------
    numpy.ndarray
        float32 magnitudes, shape ``(n_bins, 1 + len(y) // hop_length)`` or one frame more
        (librosa's frame count: the shortest of the octaves').
    """
    plan = _plan(float(sr), float(tuning), hop_length, n_bins, bins_per_octave)
    y = np.ascontiguousarray(y, dtype=np.float32)
    if plan.early_downsample:
        y = _halve(y, plan.early_downsample)
    responses = []
    for octave in plan.octaves:
        if octave.halve_first:
            y = _halve(y)
        half = octave.n_fft // 2
        padded = np.pad(y, half)  # librosa.stft(center=True, pad_mode='constant')
        n_frames = 1 + (padded.shape[0] - octave.n_fft) // octave.hop
        frames = np.lib.stride_tricks.as_strided(padded, (n_frames, octave.n_fft),
                                                 (octave.hop * padded.strides[0], padded.strides[0]))
        product = frames @ octave.kernels  # (n_frames, 2 * n_filters)
        n_filters = product.shape[1] // 2
        responses.append(np.hypot(product[:, :n_filters], product[:, n_filters:]).T)
    n_frames = min(r.shape[1] for r in responses)
    out = np.concatenate([r[:, :n_frames] for r in reversed(responses)])[-n_bins:]
    out *= plan.scale[:, np.newaxis]
    return out
