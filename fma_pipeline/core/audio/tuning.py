"""librosa's tuning estimate, computed on the spectrogram rows it reads and nothing else.

``librosa.estimate_tuning`` runs ``piptrack`` over the whole spectrogram (1,025 rows ×
~2,600 frames for a 30 s clip at 44.1 kHz): a gradient, a parabolic interpolation and a
local-maximum search on every row, then throws away every row outside 150–4,000 Hz.
FMA's features need it twice per clip — once inside ``librosa.cqt(tuning=None)`` (the
magnitude STFT at the real rate) and once inside ``chroma_stft(S=stft**2)`` (the power
spectrogram, at the 22,050 Hz that librosa assumes when ``sr`` is not given) — and
together they were about a third of ``features.py``'s time.

:func:`estimate_tuning` gives the same number: the same peaks (each row's neighbours are
read, and the per-frame threshold is 0.1 × the column maximum over *all* rows, as in
piptrack), the parabolic shift evaluated with the same float32/float64 mix as librosa's
numba stencil, but only at the peaks, the same float32 pitches and magnitudes, and
``librosa.pitch_tuning`` itself for the histogram. ``fma_pipeline_tests/test_features.py``
checks that the value is identical to librosa's.
"""

from __future__ import annotations

import functools
import warnings

import numpy as np

#: piptrack's defaults, which both of FMA's tuning estimates use.
PIPTRACK_FMIN, PIPTRACK_FMAX, PIPTRACK_THRESHOLD = 150.0, 4000.0, 0.1


@functools.cache
def _rows(sr: float, n_fft: int, fmin: float, fmax: float) -> tuple[int, int]:
    """``[start, stop)`` of the spectrogram rows piptrack keeps: ``fmin <= f < min(fmax, sr/2)``."""
    import librosa

    freqs = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    rows = np.flatnonzero((max(fmin, 0.0) <= freqs) & (freqs < min(fmax, float(sr) / 2)))
    return int(rows[0]), int(rows[-1]) + 1


def estimate_tuning(S: np.ndarray, sr: float, *, column_max: np.ndarray | None = None,
                    bins_per_octave: int = 12, resolution: float = 0.01) -> float:
    """``librosa.estimate_tuning(S=S, sr=sr, bins_per_octave=...)``, reading only piptrack's rows.

    Parameters
    ----------
    S : numpy.ndarray
        Non-negative float32 spectrogram, shape ``(1 + n_fft // 2, n_frames)`` (magnitude
        or power: whatever librosa would be given).
    sr : float
        The rate librosa is told, in Hz (22,050 where FMA's call leaves ``sr`` out).
    column_max : numpy.ndarray or None, default None
        ``S.max(axis=0)`` when the caller has it already; computed otherwise.
    bins_per_octave : int, default 12
        Bins per octave of the tuning (fractions of a bin, as librosa returns them).
    resolution : float, default 0.01
        Resolution of the estimate, in bins.

    Returns
    -------
    float
        The tuning deviation in fractions of a bin, in ``[-0.5, 0.5)``; 0.0 where no frame
        has a pitch (librosa warns there, this does not).
    """
    import librosa

    n_fft = 2 * (S.shape[0] - 1)
    start, stop = _rows(sr, n_fft, PIPTRACK_FMIN, PIPTRACK_FMAX)
    if start < 1 or stop >= S.shape[0]:  # piptrack's edge rows: not worth a special case
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Trying to estimate tuning", UserWarning)
            return float(librosa.estimate_tuning(S=S, sr=sr, n_fft=n_fft, bins_per_octave=bins_per_octave,
                                                 resolution=resolution))
    if column_max is None:
        column_max = S.max(axis=0)
    ref = PIPTRACK_THRESHOLD * column_max  # float32, as piptrack's threshold * np.max(S, axis=-2)
    block = S[start - 1:stop + 1]
    kept = block * (block > ref)
    middle = kept[1:-1]
    rows, frames = np.nonzero((middle > kept[:-2]) & (middle >= kept[2:]))  # util.localmax
    if S.flags.f_contiguous:  # librosa's STFT: gather from the flat frame-major buffer, 3x faster
        flat, here_at = S.ravel(order="F"), frames * S.shape[0] + (rows + start)
        below, here, above = flat[here_at - 1], flat[here_at], flat[here_at + 1]
    else:
        below, here, above = (block[rows + k, frames] for k in range(3))
    # librosa's _pi_stencil, in numba: (x[1] + x[-1]) is float32, 2 * x[0] and the
    # division by 2 are float64; the shift is stored as float32.
    a = (above + below).astype(np.float64) - 2 * here.astype(np.float64)
    b = (above - below).astype(np.float64) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = np.where(np.abs(b) >= np.abs(a), 0.0, -b / a).astype(np.float32)
    avg = (above - below) / np.float32(2.0)  # np.gradient, float32
    mags = here + np.float32(0.5) * avg * shift
    pitches = (((rows + start) + shift) * float(sr) / n_fft).astype(np.float32)
    voiced = pitches > 0
    if not voiced.any():
        return 0.0
    threshold = np.median(mags[voiced])
    frequencies = pitches[(mags >= threshold) & voiced]
    if not np.any(frequencies > 0):
        return 0.0
    return float(librosa.pitch_tuning(frequencies, resolution=resolution, bins_per_octave=bins_per_octave))
