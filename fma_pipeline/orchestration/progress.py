"""Progress of long assets: to the run's log always, and to the terminal of a CLI that runs them.

The CLI (``materialise``, ``backfill``, the demo) executes runs in its own process and
passes ``Console(progress=True)`` (unless ``--quiet``) with the other resources; the
Dagster UI, daemon and Celery workers use the default, ``progress=False``, as their runs
have no terminal. A resource rather than an environment variable, so the setting is
visible in the run's configuration and cannot leak into unrelated runs.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

import dagster as dg
from pydantic import Field


class Console(dg.ConfigurableResource):
    """Whether runs also show progress on stderr (the CLI's console logger shows warnings only,
    so a long training would otherwise look silent)."""

    progress: bool = Field(default=False, description="Also print progress lines and bars on stderr.")

    def logger(self, context: dg.AssetExecutionContext) -> Callable[[str], None]:
        """A callback for the core's ``progress=`` arguments.

        Parameters
        ----------
        context
            The asset's execution context; every line goes to its run log (Dagster UI).

        Returns
        -------
        Callable[[str], None]
            Logs a line, and prints it on stderr when :attr:`progress` is set.
        """
        def say(line: str) -> None:
            context.log.info(line)
            if self.progress:
                print(line, file=sys.stderr, flush=True)
        return say

    @contextlib.contextmanager
    def bar(self, desc: str) -> Iterator[tuple[Callable[[int], None] | None, Callable[[int], None] | None]]:
        """A tqdm bar on stderr when :attr:`progress` is set.

        Parameters
        ----------
        desc
            The bar's label.

        Yields
        ------
        tuple
            ``(update, set_total)`` callbacks, or ``(None, None)`` without a terminal.
        """
        if not self.progress:
            yield (None, None)
            return
        from tqdm import tqdm

        # delay: a run with nothing to extract (every file reused) shows no empty "0clip" bar
        with tqdm(desc=desc, unit=" clips", file=sys.stderr, delay=2) as bar:
            def set_total(n: int) -> None:
                bar.total = n
                bar.refresh()

            yield bar.update, set_total
