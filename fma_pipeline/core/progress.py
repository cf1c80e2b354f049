"""The one progress mechanism of long core work: lines of text handed to a callback.

Core functions that run for minutes (training, calibration, sub-genre training, the
novelty guard) take ``progress: Progress | None`` and call it with one line per step;
:class:`Reporter` adds how far the work is, the elapsed time and an estimate of what is
left. Whoever calls the core decides where lines go: the Dagster shell's ``Console``
resource logs them to the run (and to the terminal of a CLI run), benchmarks print them.
Per-item counts for progress *bars* (extraction, import, sample rendering) are a separate,
plain ``Callable[[int], None]``: a count, not a sentence.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: Receives one human-readable line per step of a long task.
Progress = Callable[[str], None]


class Reporter:
    """Progress lines (what, how far, elapsed, an estimate of what is left) for a callback.

    Parameters
    ----------
    progress : Progress or None
        Receives each line; None = silent (units are still counted).
    total_units : float
        Work units of the whole task (e.g. search candidates).
    what : str
        Prefix of every line.
    """

    def __init__(self, progress: Progress | None, total_units: float, what: str):
        self.progress, self.total, self.done, self.what = progress, max(total_units, 1e-9), 0.0, what
        self.started = time.perf_counter()

    def say(self, message: str, units: float = 0.0) -> None:
        """Count ``units`` as done and report ``message`` with the elapsed and estimated remaining time.

        Parameters
        ----------
        message : str
            What happened.
        units : float, default 0.0
            Work units this step completed.
        """
        self.done += units
        if self.progress is None:
            return
        elapsed = time.perf_counter() - self.started
        left = elapsed * (self.total - self.done) / self.done if self.done else None
        tail = f"elapsed {_clock(elapsed)}" + (f", about {_clock(left)} left" if left is not None else "")
        self.progress(f"{self.what}: {message} ({tail})")


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"
