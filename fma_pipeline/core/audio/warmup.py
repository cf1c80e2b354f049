"""Fill numba's on-disk cache once, in one process, before a pool of workers uses it.

librosa's ``@guvectorize(cache=True)`` functions write two cache files each. When
several workers compile them at once on a cold cache, the pair can come from two
processes and no longer match (numba issue #10128): every later process that loads
the cache then dies with a segmentation fault, and extraction records each good clip
as "decoder crashed the worker process". Measured here: a cache left in that state
crashed 100 % of the workers of every later run.

:func:`warm_numba_cache` extracts one synthetic clip in a single worker process, under
an exclusive lock, before the pool starts; a marker file makes later calls free. If
that one worker crashes, the cache is corrupt: it is cleared and filled again.

Separate processes that each extract in-process (Celery workers with one extraction
process each, or two CLI runs with ``workers=1``) race the same way on a shared cache
(reproduced here: the second of two runs started 3 s apart died with SIGSEGV in 2 of 3
tries). :func:`compile_lock` serialises their first file, the one that compiles.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from fma_pipeline.core.audio.file_worker import configure_process_env
from fma_pipeline.core.locking import exclusive_lock


def _marker(cache_dir: Path) -> Path:
    import librosa
    import numba

    return cache_dir / f".warm-numba{numba.__version__}-librosa{librosa.__version__}"


def _lock_path(cache_dir: Path) -> Path:
    return cache_dir.parent / f".{cache_dir.name}.lock"


def compile_lock(settings, log: Callable[[str], None] | None = None) -> contextlib.AbstractContextManager:
    """Hold while this process extracts its first file in-process (when numba compiles).

    Parameters
    ----------
    settings : ExtractionSettings
        An :class:`~fma_pipeline.core.audio.extraction.ExtractionSettings`; without a numba cache
        folder there is nothing shared to protect.
    log : Callable[[str], None] or None, default None
        Called once if another process holds the lock.

    Returns
    -------
    contextlib.AbstractContextManager
        The exclusive lock the warm-up also takes, or a no-op.
    """
    if settings.numba_cache_dir is None:
        return contextlib.nullcontext()
    return exclusive_lock(_lock_path(Path(os.environ.get("NUMBA_CACHE_DIR") or settings.numba_cache_dir)), log=log)


#: Rate of the warm-up clip when each file is analysed at its own rate (numba compiles per
#: array type, not per rate, so any rate warms the cache).
WARMUP_SR = 44_100


def _warm_once(settings) -> tuple[bool, str]:
    import soundfile as sf

    from fma_pipeline.core.audio.file_worker import extract_file
    from fma_pipeline.core.audio.workers import worker_pool

    sr = settings.features.sr or WARMUP_SR
    seconds = max(6.0, settings.limits.min_seconds + 1.0)
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(0)
    y = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.2 * np.sin(2 * np.pi * 331 * t)
         + 0.05 * rng.standard_normal(len(t))).astype(np.float32)
    with tempfile.TemporaryDirectory(prefix="fma-warm-") as tmp:
        path = Path(tmp) / "000002.wav"
        sf.write(path, y, sr)
        with worker_pool(1) as pool:
            try:
                ok, _, info, *_ = pool.submit(extract_file, str(path), settings.features, settings.limits).result()
            except cf.process.BrokenProcessPool:
                return False, "the warm-up worker crashed"
    return ok, info


def warm_numba_cache(settings, log: Callable[[str], None] | None = None) -> bool:
    """Make sure ``settings.numba_cache_dir`` holds a complete, loadable cache; True if it does.

    Does nothing without a cache folder or with one worker (no pool, no race).

    Parameters
    ----------
    settings : ExtractionSettings
        An :class:`~fma_pipeline.core.audio.extraction.ExtractionSettings`.
    log : Callable[[str], None] or None, default None
        Told when another process holds the lock, and when a corrupt cache is cleared.

    Returns
    -------
    bool
        False when the cache stayed unusable after clearing it and compiling twice.
    """
    if settings.numba_cache_dir is None or settings.n_workers == 1:
        return True
    configure_process_env(settings)  # the folder the pool's workers will use (an env value wins)
    cache_dir = Path(os.environ.get("NUMBA_CACHE_DIR") or settings.numba_cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    marker = _marker(cache_dir)
    if marker.exists():
        return True
    with exclusive_lock(_lock_path(cache_dir), log=log):
        if marker.exists():  # another run warmed it while this one waited
            return True
        if log:  # the first run's longest silence otherwise (about 30 s on 2 cores)
            log(f"compiling the feature code once into {cache_dir} (about half a minute; later runs reuse it)")
        for attempt in (1, 2):
            ok, info = _warm_once(settings)
            if ok:
                marker.touch()
                return True
            if log:
                log(f"numba cache {cache_dir} is unusable ({info}); clearing it"
                    + (" and compiling again" if attempt == 1 else ""))
            for child in cache_dir.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
    return False
