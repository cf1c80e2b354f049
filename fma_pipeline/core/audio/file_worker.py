"""One file's extraction, the body every worker process runs, and the environment it runs in.

Its own module so that both users import it without importing each other: the folder
extraction (:mod:`fma_pipeline.core.audio.extraction`) submits :func:`extract_file` to its
pool, and the numba warm-up (:mod:`fma_pipeline.core.audio.warmup`) runs it once on a
synthetic clip before that pool starts. Nothing here knows about folders, caches or tables.
"""

from __future__ import annotations

import os
import signal
import stat
import threading
from pathlib import Path

import numpy as np

from fma_pipeline.core.audio.decode import AudioError, AudioLimits, file_kind
from fma_pipeline.core.audio.definition import decode_for
from fma_pipeline.core.audio.features import FeatureConfig, frame_series, summarise
from fma_pipeline.core.audio.windows import SegmentConfig, segment_rows
from fma_pipeline.core.audio.workers import single_threaded_env
from fma_pipeline.core.failures import machine_errno

#: ``exception_class`` and reason prefix of a file that failed through no fault of its own (disk full,
#: I/O error, no memory: :data:`~fma_pipeline.core.failures.MACHINE_ERRNOS`).
MACHINE_ERROR, MACHINE_REASON = "MachineError", "not the file's fault, retried next run"
from fma_pipeline.core.storage import file_hash

#: glibc malloc settings measured to cut system time by ~13 % for this workload.
_MALLOC_VARS = {"MALLOC_MMAP_THRESHOLD_": "1048576", "MALLOC_TRIM_THRESHOLD_": "268435456",
                "MALLOC_TOP_PAD_": "67108864"}


def file_digest(path: Path) -> str:
    """Content hash used to recognise an unchanged file whose mtime moved.

    Parameters
    ----------
    path : pathlib.Path
        The file to hash.

    Returns
    -------
    str
        The first 32 hex digits of its BLAKE2b digest.

    Raises
    ------
    OSError
        When the file cannot be read.
    """
    return file_hash(path, "blake2b")[:32]


class FileTimeout(Exception):
    """One file took longer than ``ExtractionSettings.file_timeout``.

    Parameters
    ----------
    message : str
        What took too long; becomes the file's error reason.
    """


class _time_limit:
    """Raise :class:`FileTimeout` in this thread after ``seconds`` (SIGALRM; only in a main
    thread, as pool workers and the CLI are; elsewhere the pool's kill is the only limit)."""

    def __init__(self, seconds: float | None):
        self.seconds = seconds if seconds and threading.current_thread() is threading.main_thread() \
            and hasattr(signal, "setitimer") else None

    def _alarm(self, signum, frame):
        raise FileTimeout(f"took longer than {self.seconds:g} s (stalled decode?)")

    def __enter__(self):
        if self.seconds:
            self.previous = signal.signal(signal.SIGALRM, self._alarm)
            signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        if self.seconds:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self.previous)
        return False


def extract_file(path: str, features: FeatureConfig, limits: AudioLimits,
                 segments: SegmentConfig | None = None,
                 timeout: float | None = None) -> tuple[bool, np.ndarray | None, str, str, float]:
    """Worker body: one file's features, or why it has none; never raises.

    Parameters
    ----------
    path : str
        The audio file.
    features : FeatureConfig
        How to compute the features.
    limits : AudioLimits
        What counts as usable audio.
    segments : SegmentConfig or None, default None
        Also each window's statistics, when given.
    timeout : float or None, default None
        Seconds the whole file may take (see :class:`_time_limit`); None = no limit.

    Returns
    -------
    tuple
        ``(ok, rows, digest_or_reason, exception_class, seconds)``: ``rows`` is
        ``(1 + n_windows, 708)`` (the clip's statistics, then each window's), ``seconds``
        the duration analysed.
    """
    try:
        with _time_limit(timeout):
            if not stat.S_ISREG(os.stat(path).st_mode):  # checked again: it may have changed since planning
                return False, None, f"not a regular file ({file_kind(os.stat(path).st_mode)})", "NotARegularFile", 0.0
            digest = file_digest(Path(path))
            y, at_rate = decode_for(path, features, limits)  # windows are frames at this file's rate
            series = frame_series(y, at_rate)
            rows = summarise(series)[np.newaxis]
            if segments is not None:
                rows = np.concatenate([rows, segment_rows(series, segments, at_rate)])
        if not np.isfinite(rows).all():
            return False, None, "features are not finite (degenerate audio)", "FeatureError", 0.0
        return True, rows, digest, "", len(y) / at_rate.sr
    except FileTimeout as exc:
        return False, None, str(exc), "Timeout", 0.0
    except Exception as exc:  # noqa: BLE001 - any decoder/feature failure is one file's problem
        code = machine_errno(exc)
        if code is not None:  # disk full, EIO...: not the file's fault, retried next run (extraction's plan)
            return False, None, f"{MACHINE_REASON}: {os.strerror(code)}", MACHINE_ERROR, 0.0
        if isinstance(exc, AudioError):
            return False, None, exc.reason, exc.exception_class, 0.0
        if isinstance(exc, OSError):
            return False, None, f"cannot read file: {exc.strerror or exc}", type(exc).__name__, 0.0
        reason = f"extraction failed: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        return False, None, reason, type(exc).__name__, 0.0


def configure_process_env(settings) -> None:
    """Environment that worker processes inherit: single-threaded BLAS, numba disk cache.

    Parameters
    ----------
    settings : ExtractionSettings
        An :class:`~fma_pipeline.core.audio.extraction.ExtractionSettings`; its ``numba_cache_dir`` (when set) is created and becomes ``NUMBA_CACHE_DIR``
        unless that is already set.
    """
    single_threaded_env()
    for var, value in _MALLOC_VARS.items():
        os.environ.setdefault(var, value)
    if settings.numba_cache_dir is not None:
        Path(settings.numba_cache_dir).mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("NUMBA_CACHE_DIR", str(settings.numba_cache_dir))
