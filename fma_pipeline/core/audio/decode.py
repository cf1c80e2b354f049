"""Decoding audio to the mono waveform the features are computed from.

soundfile (libsndfile >= 1.1) decodes MP3, WAV, FLAC and OGG itself, so there is no
ffmpeg or audioread fallback to behave differently from machine to machine. By default
the waveform stays at the file's native rate, as FMA's ``features.py`` loads it
(``librosa.load(path, sr=None, mono=True)``); the mix to mono and, for a fixed analysis
rate, the resampling with soxr give the same samples as ``librosa.load(path, sr=sr)``
in about half the time.

A truncated file is recognised where its container says how long it should be: an MP3
whose Xing/Info header counts more frames than decode, a WAV whose RIFF header declares
more bytes than the file holds. (An MP3 without such a header, cut short, is only short:
its duration is in the features row, ``("file", "seconds")``.) The decoder's own warnings
(mpg123's "Xing stream size off…", "Trying to resync…") are caught from the process's
stderr around each decode, kept out of the terminal, and quoted in the reason when the
file fails.
"""

from __future__ import annotations

import contextlib
import os
import stat
import struct
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

#: A decode shorter than its header's length by more than this (seconds, and fraction) is truncated.
TRUNCATION_TOLERANCE = (0.5, 0.02)


class AudioError(Exception):
    """A file that cannot be turned into a usable waveform; ``reason`` is one short line.

    Parameters
    ----------
    reason : str
        Why the file is unusable, one short line (also the exception's message).
    exception_class : str, default "AudioError"
        Name of the underlying failure (``OSError``, ``TruncatedAudio`` …), recorded with the reason.

    Attributes
    ----------
    reason : str
        As given.
    exception_class : str
        As given.
    """

    def __init__(self, reason: str, exception_class: str = "AudioError"):
        super().__init__(reason)
        self.reason = reason
        self.exception_class = exception_class


@dataclass(frozen=True)
class AudioLimits:
    """What counts as usable audio.

    Parameters
    ----------
    min_seconds : float, default 5.0
        Shorter clips are rejected (FMA has a few clips of a second or two).
    max_seconds : float, default 600.0
        Longer files are cut to this much audio from their middle, so a mislabelled
        hour-long file costs bounded time and memory.
    silence_peak : float, default 1e-4
        A clip whose peak absolute amplitude is below this is silent.
    """

    min_seconds: float = 5.0
    max_seconds: float = 600.0
    silence_peak: float = 1e-4


def decode(path: Path | str, sr: int | None = None, limits: AudioLimits = AudioLimits()) -> np.ndarray:
    """Read ``path`` as a mono float32 waveform at ``sr`` Hz (see :func:`decode_with_rate`).

    Parameters
    ----------
    path : pathlib.Path or str
        The audio file (any format soundfile reads).
    sr : int or None, default None
        Sample rate of the returned waveform, in Hz; None: the file's own.
    limits : AudioLimits, default AudioLimits()
        What counts as usable audio.

    Returns
    -------
    numpy.ndarray
        Mono float32 samples, C-contiguous.
    """
    return decode_with_rate(path, sr, limits)[0]


def decode_with_rate(path: Path | str, sr: int | None = None, limits: AudioLimits = AudioLimits(),
                     min_sr: int = 0) -> tuple[np.ndarray, int]:
    """Read ``path`` as a mono float32 waveform, at its native rate unless ``sr`` is given.

    The native rate is what FMA's ``features.py`` analyses (``librosa.load(sr=None)``).

    Parameters
    ----------
    path : pathlib.Path or str
        The audio file (any format soundfile reads).
    sr : int or None, default None
        Resample to this rate, in Hz (soxr, high quality); None: keep the file's own.
    limits : AudioLimits, default AudioLimits()
        What counts as usable audio; a file longer than ``limits.max_seconds`` is cut to its middle.
    min_sr : int, default 0
        With ``sr`` None, a file below this rate is resampled up to it.

    Returns
    -------
    y : numpy.ndarray
        Mono float32 samples, C-contiguous.
    sr : int
        Their sample rate, in Hz.

    Raises
    ------
    AudioError
        With a one-line reason for anything unusable: a missing, unreadable, empty,
        truncated or non-audio file, too few samples, or silence.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:  # missing, permission denied, symlink loop, deleted meanwhile
        raise AudioError(f"cannot read file: {exc.strerror or exc}", type(exc).__name__) from exc
    if not stat.S_ISREG(st.st_mode):  # a FIFO would block, /dev/zero never end; a folder is no file
        raise AudioError(f"not a regular file ({file_kind(st.st_mode)})", "NotARegularFile")
    size = st.st_size
    if size == 0:
        raise AudioError("empty file (0 bytes)", "EmptyFile")
    with decoder_messages() as said:
        try:
            with sf.SoundFile(os.fsencode(path)) as handle:  # bytes: a name that is not UTF-8 opens too
                native_sr, frames, kind = handle.samplerate, handle.frames, handle.format
                channels, subtype = handle.channels, handle.subtype
                max_frames = int(limits.max_seconds * native_sr)
                start = (frames - max_frames) // 2 if 0 < frames and max_frames < frames else 0
                if start:  # cut on purpose to its middle: not a truncation
                    handle.seek(start)
                    data = handle.read(max_frames, dtype="float32", always_2d=True)
                else:
                    data = handle.read(dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
            message = _first_line(exc).replace(f"Error opening {os.fsencode(path)!r}: ", "")
            if "does not exist or is not a regular file" in message:
                message = "not a recognised audio format"
            raise AudioError(f"cannot decode: {message}{_quote(said)}", type(exc).__name__) from exc
        except OSError as exc:  # missing, permission denied, symlink loop, deleted meanwhile
            raise AudioError(f"cannot read file: {exc.strerror or exc}", type(exc).__name__) from exc
    # Truncation compares the whole file with its header, whether or not it was cut on purpose:
    # a cut decode that stopped early reached ``start + len(data)`` of the ``frames`` the header
    # (MP3's Xing count) or the file size (WAV) gives; a WAV's RIFF header may declare more still.
    held = start + data.shape[0] if data.shape[0] < max_frames else frames
    expected = max(frames, _wav_declared_frames(path, channels, subtype, size) or 0) if kind == "WAV" else frames
    shortfall = expected - held
    if data.size and shortfall > max(TRUNCATION_TOLERANCE[0] * native_sr, TRUNCATION_TOLERANCE[1] * expected):
        raise AudioError(f"truncated: decoded {held / native_sr:.1f} s of the {expected / native_sr:.1f} s "
                         f"its header declares{_quote(said)}", "TruncatedAudio")
    if data.size == 0:
        raise AudioError("no audio samples", "AudioError")
    mono = _mono(data)
    if not np.isfinite(mono).all():
        raise AudioError("audio holds NaN or infinite samples", "AudioError")
    seconds = mono.shape[0] / native_sr
    if seconds < limits.min_seconds:
        raise AudioError(f"too short: {seconds:.2f} s < {limits.min_seconds:g} s", "AudioError")
    if sr is None and native_sr < min_sr:
        sr = min_sr
    if sr is not None and native_sr != sr:
        mono = soxr.resample(mono, native_sr, sr, quality="HQ").astype(np.float32, copy=False)
    # max |x - mean| without the temporaries: float32 subtraction is monotonic, so the largest
    # deviation is the maximum's or the minimum's, rounded the same way
    mean = mono.mean()
    if max(float(mono.max() - mean), float(mean - mono.min())) < limits.silence_peak:
        raise AudioError("silent: no signal above the silence threshold", "AudioError")
    return np.ascontiguousarray(mono), int(sr or native_sr)


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, for a reason line (``named pipe``, ``directory``…).

    Parameters
    ----------
    mode : int
        ``st_mode`` from :func:`os.stat`.

    Returns
    -------
    str
    """
    kinds = ((stat.S_ISFIFO, "named pipe"), (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
             (stat.S_ISSOCK, "socket"), (stat.S_ISDIR, "directory"))
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def _mono(data: np.ndarray) -> np.ndarray:
    """librosa.load's mix to mono (the float32 mean of the channels), stereo as ``(L + R) * 0.5``:
    the same samples (halving is exact), without numpy's strided reduction (20 ms -> 1 ms per 30 s
    stereo clip at 44.1 kHz)."""
    if data.shape[1] == 1:
        return data[:, 0]
    if data.shape[1] == 2:
        return (data[:, 0] + data[:, 1]) * np.float32(0.5)
    return data.mean(axis=1, dtype=np.float32)


_SAMPLE_BYTES = {"PCM_U8": 1, "PCM_S8": 1, "PCM_16": 2, "PCM_24": 3, "PCM_32": 4, "FLOAT": 4, "DOUBLE": 8,
                 "ULAW": 1, "ALAW": 1}


def _wav_declared_frames(path: Path, channels: int, subtype: str, size: int) -> int | None:
    """Frames a WAV's RIFF header declares (libsndfile reports what the file holds), or None
    where it does not say (a streamed WAV's placeholder sizes, compressed subtypes)."""
    width = _SAMPLE_BYTES.get(subtype)
    if not width:
        return None
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        position = 12
        while position + 8 <= size:
            handle.seek(position)
            chunk, length = struct.unpack("<4sI", handle.read(8))
            if chunk == b"data":
                if length in (0, 0xFFFFFFFF):
                    return None
                return length // (width * channels)
            position += 8 + length + (length & 1)
    return None


@contextlib.contextmanager
def decoder_messages():
    """Catch what C code writes to file descriptor 2 (mpg123's warnings) while the block runs.

    Anything not from the decoder that other threads print meanwhile is caught too, and
    written back to stderr afterwards.

    Yields
    ------
    list of str
        Empty inside the block; afterwards it holds the decoder's lines.
    """
    said: list[str] = []
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no usable fd 2: nothing to catch
        yield said
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield said
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            text = sink.read().decode("utf-8", "replace")
    lines = [line for line in text.splitlines() if line.strip()]
    said.extend(line for line in lines if _from_decoder(line))
    others = [line for line in lines if not _from_decoder(line)]
    if others:
        print("\n".join(others), file=sys.stderr)


def _from_decoder(line: str) -> bool:
    return line.startswith(("Warning:", "Note:", "Error:", "[src/", "[libmpg123", "Trying to resync", "Big change",
                            "Did not find", "Giving up"))


def _quote(said: list[str]) -> str:
    """The decoder's first warning, for a reason line ('' when it said nothing)."""
    return f" (decoder: {said[0][:150]})" if said else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:200]
