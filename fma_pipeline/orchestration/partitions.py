"""FMA's 156 audio folders as static partitions: track 000002 lives in folder ``000``;
and how many folders one extraction run takes.

On one machine a run extracts all its folders with one process pool over every core, and
few large runs are fastest (a run costs 2-4.5 s, a partition in it ~0.05 s): up to
:data:`PARTITIONS_PER_RUN` folders per run. With the Celery executor a run's extraction is
one step, executed by one Celery worker in one process, so a backfill spreads over the
workers only as far as it is cut into runs: there it is cut into runs of
:data:`CELERY_PARTITIONS_PER_RUN` folder(s), each run's step goes to whichever worker is
free. ``FMA_PARTITIONS_PER_RUN`` overrides both.
"""

import dagster as dg

from fma_pipeline.core import settings
from fma_pipeline.core.fma.layout import FOLDERS

folder_partitions = dg.StaticPartitionsDefinition(list(FOLDERS))

#: Folders per extraction run on one machine (one run, one shared process pool).
PARTITIONS_PER_RUN = 40
#: Folders per extraction run with the Celery executor: one step per folder, so a 156-folder
#: backfill is 156 runs whose steps every worker shares (keep the run queue's
#: ``max_concurrent_runs`` in deploy/dagster.yaml above the number of workers).
CELERY_PARTITIONS_PER_RUN = 1


def partitions_per_run(in_process: bool = False) -> int:
    """Folders per extraction run: ``FMA_PARTITIONS_PER_RUN`` if set, else
    :data:`CELERY_PARTITIONS_PER_RUN` when the code location uses the Celery executor
    (``FMA_EXECUTOR=celery``) and runs are not executed ``in_process`` (the CLI's runs are),
    else :data:`PARTITIONS_PER_RUN`."""
    value = settings.PARTITIONS_PER_RUN.read()
    if value is not None:
        return value
    from fma_pipeline.orchestration.instance import uses_celery

    if not in_process and uses_celery():
        return CELERY_PARTITIONS_PER_RUN
    return PARTITIONS_PER_RUN
