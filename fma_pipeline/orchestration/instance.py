"""The local Dagster instance: ``DAGSTER_HOME`` under the data root, configured by the project.

Runs the CLI executes in its own process (``materialise``, ``backfill``, the demo) carry the
tags :data:`PID_TAG`, :data:`HOST_TAG` and :data:`PROCESS_START_TAG`. A run whose process was
killed (SIGKILL, OOM, a closed terminal) cannot report its own end and would stay STARTED
(or NOT_STARTED) for ever: shown in progress, skipped by ``backfill --failed``, and counted
by the daemon's run queue against ``max_concurrent_runs``. :func:`fail_dead_runs` marks such
runs FAILURE; the CLI calls it before every materialise and backfill, and Dagster's run
monitoring (``run_monitoring:`` in the project's ``dagster.yaml``) does the same from the
daemon through :class:`FmaRunLauncher`'s worker health check.
"""

from __future__ import annotations

import os
import re
import socket
import sys
from pathlib import Path

from fma_pipeline.core import settings
from fma_pipeline.core.catalogue import DataRoot
from fma_pipeline.core.procfs import stat_fields

_HEAD = """\
# Written by fma-pipeline; edit freely, it is not overwritten once present.
telemetry:
  enabled: false
run_queue:
  max_concurrent_runs: 2
run_retries:
  enabled: true
  max_retries: 1
"""
_STORAGE = """\
storage:
  sqlite:
    base_dir: {base_dir}
"""
DAGSTER_YAML = _HEAD + """\
# The daemon fails runs whose worker is gone: runs the CLI executed in a process that was
# killed (FmaRunLauncher checks their fma/pid tag), and runs stuck starting or canceling.
run_monitoring:
  enabled: true
  poll_interval_seconds: 30
  max_resume_run_attempts: 0
run_launcher:
  module: fma_pipeline.orchestration.instance
  class: FmaRunLauncher
""" + _STORAGE

#: What earlier versions wrote; an unedited copy is replaced by :data:`DAGSTER_YAML`.
PREVIOUS_DAGSTER_YAMLS = (_HEAD + _STORAGE,)

#: The code location ``fma-pipeline ui`` serves: the repository's ``workspace.yaml`` (for
#: ``dagster dev`` in a checkout) says the same; a test keeps them equal.
WORKSPACE_YAML = """\
load_from:
  - python_module:
      module_name: fma_pipeline.definitions
      location_name: fma_pipeline
"""


def write_workspace(home: Path) -> Path:
    """``<DAGSTER_HOME>/workspace.yaml`` with :data:`WORKSPACE_YAML` (an installed package has
    no repository ``workspace.yaml``); the team deployment's entrypoint writes its own there."""
    path = Path(home) / "workspace.yaml"
    if not path.is_file() or path.read_text() != WORKSPACE_YAML:
        path.write_text(WORKSPACE_YAML)
    return path


#: Tags of a run executed in the CLI's own process: its pid, host and the process's start time.
PID_TAG, HOST_TAG, PROCESS_START_TAG = "fma/pid", "fma/host", "fma/process_start"


#: The ``base_dir:`` line of :data:`_STORAGE` as found in a ``dagster.yaml``.
_BASE_DIR_LINE = re.compile(r"^(storage:\n  sqlite:\n    base_dir: )(.+)$", re.MULTILINE)


def dagster_home(data_dir: Path, echo=None) -> Path:
    """``<data root>/.dagster`` with the project's ``dagster.yaml``; sets ``DAGSTER_HOME``.

    Dagster needs an absolute ``base_dir`` (a relative one is taken from the working
    directory), so a data root that was copied or moved still names the old root's run
    storage: runs of the copy would land in the original's. Such a ``base_dir`` (another
    root's ``.dagster/storage``) is rewritten to this root's, with one line through
    ``echo`` (default: stderr); the rest of an edited file is kept.
    """
    home = DataRoot(Path(data_dir).resolve()).dagster_dir
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    base_dir = home / "storage"
    text = config.read_text() if config.exists() else None
    if text is None or text in {y.format(base_dir=base_dir) for y in PREVIOUS_DAGSTER_YAMLS}:
        _write_config(config, DAGSTER_YAML.format(base_dir=base_dir))
    elif (found := _BASE_DIR_LINE.search(text)) and _another_roots_storage(found.group(2).strip(), base_dir):
        _write_config(config, _BASE_DIR_LINE.sub(lambda m: m.group(1) + str(base_dir), text, count=1))
        (echo or (lambda line: print(line, file=sys.stderr, flush=True)))(
            f"fma-pipeline: {config} named another data root's Dagster storage ({found.group(2).strip()}), "
            f"copied with the root: now {base_dir}")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _another_roots_storage(value: str, ours: Path) -> bool:
    """Whether ``value`` is an absolute ``<root>/.dagster/storage`` other than ``ours``."""
    path = Path(value.strip("'\""))
    if not path.is_absolute() or path.parts[-2:] != (".dagster", "storage") or path == ours:
        return False
    try:
        return not path.samefile(ours)  # the same folder under another name (a symlinked root)
    except OSError:
        return True  # gone, or not made yet: not this root's


def _write_config(config: Path, text: str) -> None:
    from fma_pipeline.core.storage import atomic_path

    with atomic_path(config) as tmp:
        tmp.write_text(text)


def uses_celery() -> bool:
    """Whether the code location runs on the team deployment's Celery executor
    (``FMA_EXECUTOR=celery``); needs no Celery package to answer."""
    return settings.EXECUTOR.read() == "celery"


def team_executor():
    """Dagster's Celery executor when ``FMA_EXECUTOR=celery`` (the team deployment), else None.

    The broker and result backend come from ``DAGSTER_CELERY_BROKER_URL`` and
    ``DAGSTER_CELERY_BACKEND_URL`` (e.g. ``redis://:PASSWORD@redis:6379/0`` and ``.../1``); each step
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


# --- runs whose process is gone -----------------------------------------------------------------

def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), '' where unknown; with the pid
    it names one process, so a pid reused after a kill is not mistaken for the run's process."""
    fields = stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else ""


def process_alive(pid: int, started: str = "") -> bool:
    """Whether process ``pid`` (started at ``started``, see :func:`process_start`) still runs here."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, another user's
    fields = stat_fields(pid)
    if fields is not None:
        if fields[0] in {"Z", "X"}:  # killed, not yet reaped by its parent
            return False
        if started and len(fields) > 19 and fields[19] != started:
            return False  # the pid now belongs to another process
    return True


def process_tags() -> dict[str, str]:
    """Tags for a run executed in this process (see :func:`fail_dead_runs`). Such a run has no
    code location to re-execute it from, so the daemon's automatic retry is off for it."""
    pid = os.getpid()
    return {PID_TAG: str(pid), HOST_TAG: socket.gethostname(), PROCESS_START_TAG: process_start(pid),
            "dagster/max_retries": "0"}


def run_process_gone(run) -> str | None:
    """Why ``run``'s process is known to be gone ('process 123 on host h is gone'), or None when it
    runs, or is not known here (no :data:`PID_TAG`, or executed on another host; or launched by
    the daemon or webserver, with a code location: a re-execution there copies its parent's tags)."""
    tags = run.tags
    if not tags.get(PID_TAG, "").isdigit() or tags.get(HOST_TAG) != socket.gethostname():
        return None
    if getattr(run, "remote_job_origin", None) is not None:
        return None
    pid = int(tags[PID_TAG])
    if pid == os.getpid() or process_alive(pid, tags.get(PROCESS_START_TAG, "")):
        return None
    return f"process {pid} on {tags[HOST_TAG]}, which executed it, is gone (killed?)"


def fail_dead_runs(instance, echo=None) -> list[str]:
    """Mark FAILURE every unfinished run (NOT_STARTED, STARTING, STARTED; CANCELING -> CANCELED)
    whose process is gone (:func:`run_process_gone`), logging one line per run through
    ``echo`` (default: stderr). Returns the run ids."""
    import dagster as dg

    echo = echo or (lambda line: print(line, file=sys.stderr, flush=True))
    status = dg.DagsterRunStatus
    unfinished = [status.NOT_STARTED, status.STARTING, status.STARTED, status.CANCELING]
    repaired = []
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=unfinished,
                                                       tags={HOST_TAG: socket.gethostname()})):
        why = run_process_gone(run)
        if why is None:
            continue
        start, end = (run.tags.get(f"dagster/asset_partition_range_{e}") for e in ("start", "end"))
        what = f" (folders {start}-{end})" if start else ""
        message = f"Marked as failed by fma-pipeline: the run was {run.status.value} but {why}."
        if run.status == status.CANCELING:
            instance.report_run_canceled(run, message)
            echo(f"run {run.run_id}{what}: {run.status.value} -> CANCELED, {why}")
        else:
            instance.report_run_failed(run, message)
            echo(f"run {run.run_id}{what}: {run.status.value} -> FAILURE, {why}")
        repaired.append(run.run_id)
    return repaired


def _run_launcher_class():
    from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus

    class FmaRunLauncher(DefaultRunLauncher):
        """Dagster's default run launcher, plus a worker health check for run monitoring: a run
        executed by the CLI in its own process (:data:`PID_TAG`) whose process is gone is FAILED;
        every other run is reported RUNNING (its worker cannot be checked from here), which
        leaves it to the other run-monitoring rules (start, cancel and run-time limits)."""

        @property
        def supports_check_run_worker_health(self) -> bool:
            return True

        def check_run_worker_health(self, run) -> CheckRunHealthResult:
            why = run_process_gone(run)
            if why:
                return CheckRunHealthResult(WorkerStatus.FAILED, why)
            return CheckRunHealthResult(WorkerStatus.RUNNING, "not known to be gone")

    FmaRunLauncher.__module__ = __name__
    return FmaRunLauncher


def __getattr__(name: str):
    # built on first use, so that importing this module (every CLI command does) does not import dagster
    if name == "FmaRunLauncher":
        cls = globals()["FmaRunLauncher"] = _run_launcher_class()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
