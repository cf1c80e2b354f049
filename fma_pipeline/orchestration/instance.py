"""The local Dagster instance: ``DAGSTER_HOME`` under the data root, configured by the project."""

from __future__ import annotations

import os
from pathlib import Path

DAGSTER_YAML = """\
# Written by fma-pipeline; edit freely, it is not overwritten once present.
telemetry:
  enabled: false
run_queue:
  max_concurrent_runs: 2
run_retries:
  enabled: true
  max_retries: 1
storage:
  sqlite:
    base_dir: {base_dir}
"""


def dagster_home(data_dir: Path) -> Path:
    """``<data root>/.dagster`` with the project's ``dagster.yaml``; sets ``DAGSTER_HOME``."""
    home = Path(data_dir).resolve() / ".dagster"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML.format(base_dir=home / "storage"))
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def uses_celery() -> bool:
    """Whether the code location runs on the team deployment's Celery executor
    (``FMA_EXECUTOR=celery``); needs no Celery package to answer."""
    return os.environ.get("FMA_EXECUTOR", "").strip().lower() == "celery"


def team_executor():
    """Dagster's Celery executor when ``FMA_EXECUTOR=celery`` (the team deployment), else None.

    The broker and result backend come from ``DAGSTER_CELERY_BROKER_URL`` and
    ``DAGSTER_CELERY_BACKEND_URL`` (e.g. ``redis://redis:6379/0`` and ``.../1``); each step
    then runs on a Celery worker (``dagster-celery worker start -A dagster_celery.app``)
    that has the same code, ``DAGSTER_HOME`` (PostgreSQL storage) and data root. Without
    it Dagster's default executor runs the steps in processes beside the run.
    """
    if not uses_celery():
        return None
    from dagster_celery import celery_executor

    return celery_executor.configured({"broker": {"env": "DAGSTER_CELERY_BROKER_URL"},
                                       "backend": {"env": "DAGSTER_CELERY_BACKEND_URL"}},
                                      name="celery")
