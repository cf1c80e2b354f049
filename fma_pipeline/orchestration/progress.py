"""Progress lines from long assets: to the run's log, and to stderr for runs the CLI starts."""

import os
import sys
from collections.abc import Callable

import dagster as dg

#: Set to 1 by the CLI (unless ``--quiet``): runs it starts show progress on stderr.
PROGRESS_ENV = "FMA_PROGRESS"


def progress_logger(context: dg.AssetExecutionContext) -> Callable[[str], None]:
    """A callback for the core's ``progress=`` arguments: each line goes to the run's log
    (Dagster UI) and, when ``FMA_PROGRESS=1``, to stderr too (the CLI's console logger
    shows warnings only, so a long training would otherwise look silent)."""
    def say(line: str) -> None:
        context.log.info(line)
        if os.environ.get(PROGRESS_ENV) == "1":
            print(line, file=sys.stderr, flush=True)
    return say
