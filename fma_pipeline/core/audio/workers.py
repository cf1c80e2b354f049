"""The process pool every parallel stage uses (extraction, tagging, the sample, the numba warm-up).

One place for the rules a pool of audio workers must follow:

- ``forkserver`` start method: workers start from a clean process, not a fork of a process
  that may hold Dagster's or MLflow's threads and locks.
- One thread of numerical code per worker (:func:`single_threaded_env`): parallelism comes
  from processes, and BLAS/numba threads on top would oversubscribe the cores.
- **Workers die with the process that made the pool.** Killing only the CLI (SIGKILL, OOM)
  used to leave the forkserver, the resource tracker and two ~335 MB workers running on.
  Each worker asks the kernel (``PR_SET_PDEATHSIG``, Linux) to be killed when its parent,
  the forkserver, ends, and the forkserver ends as soon as the pool's owner is gone; a
  watchdog thread in each worker (every system) exits when the owner's pid is gone.
- A stalled worker can be killed (:func:`kill_workers`), which breaks the pool: its
  futures end in ``BrokenProcessPool`` and the caller retries or records them.
"""

from __future__ import annotations

import concurrent.futures as cf
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

#: Thread-count variables set to 1 in workers: parallelism comes from processes.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
#: How often a worker's watchdog checks that the pool's owner is alive.
WATCHDOG_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1


def single_threaded_env() -> None:
    """Set (if unset) the thread-count variables workers inherit to 1."""
    for var in THREAD_VARS:
        os.environ.setdefault(var, "1")


def _die_with(owner_pid: int) -> None:
    """Make this worker end when ``owner_pid`` (the process that made the pool) ends."""
    if sys.platform.startswith("linux"):
        try:  # the kernel kills us when our parent (the forkserver) exits
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
            pass

    def watch() -> None:
        while True:
            time.sleep(WATCHDOG_SECONDS)
            try:
                os.kill(owner_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # pragma: no cover - a pid reused by another user's process
                os._exit(1)

    threading.Thread(target=watch, name="fma-owner-watchdog", daemon=True).start()


def _init(owner_pid: int, initializer: Callable[[], None] | None) -> None:
    _die_with(owner_pid)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        pass
    if initializer is not None:
        initializer()


def worker_pool(workers: int, initializer: Callable[[], None] | None = None) -> cf.ProcessPoolExecutor:
    """A ``forkserver`` pool of ``workers`` single-threaded processes that die with this one.

    Parameters
    ----------
    workers : int
        Number of worker processes.
    initializer : Callable[[], None] or None, default None
        Optional picklable function each worker runs once after the pool's own set-up.

    Returns
    -------
    concurrent.futures.ProcessPoolExecutor
        Use it as a context manager, as any executor.
    """
    single_threaded_env()
    return cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("forkserver"),
                                  initializer=_init, initargs=(os.getpid(), initializer))


def kill_workers(pool: cf.ProcessPoolExecutor) -> None:
    """SIGKILL every worker of ``pool`` (a stalled decode): its futures end in ``BrokenProcessPool``.

    Python 3.14 has ``ProcessPoolExecutor.kill_workers``; before it, the workers are only
    reachable through the executor's ``_processes`` mapping.

    Parameters
    ----------
    pool : concurrent.futures.ProcessPoolExecutor
        A pool from :func:`worker_pool`.
    """
    if hasattr(pool, "kill_workers"):  # Python >= 3.14
        pool.kill_workers()
        return
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        try:
            process.kill()
        except (OSError, ValueError, AttributeError):  # already gone
            pass
