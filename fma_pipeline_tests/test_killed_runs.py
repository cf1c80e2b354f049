"""A killed ``fma-pipeline`` must not jam Dagster (issue #16, item 1).

``materialise`` and ``backfill`` execute their runs in the CLI's own process. SIGKILL of that
process used to leave its run STARTED for ever: the folder showed in progress, ``backfill
--failed`` skipped it ("nothing to backfill"), and the daemon's queue counted it against
``max_concurrent_runs``. Now the CLI tags its runs with its pid and host, fails runs whose
process is gone before every materialise/backfill, and the daemon's run monitoring does the
same through the project's run launcher.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest

REPO = Path(__file__).resolve().parents[1]

#: The real CLI, held (with its run STARTED) when it is about to extract the first file.
HELD_CLI = textwrap.dedent('''
    import os, sys, time
    marker = os.environ["FMA_TEST_MARKER"]
    import fma_pipeline.core.audio.extraction as extraction
    def hold(*args, **kwargs):
        with open(marker, "w") as handle:
            handle.write(str(os.getpid()))
        time.sleep(600)
    extraction._extract_file = hold
    if __name__ == "__main__":
        from fma_pipeline.cli import main
        sys.exit(main(sys.argv[1:]))
''')


def _cli(capsys, *argv) -> tuple[int, str, str]:
    from fma_pipeline.cli import main

    code = main(["--quiet", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _in_progress(instance: dg.DagsterInstance) -> list:
    """What the daemon's run queue counts against max_concurrent_runs (and NOT_STARTED runs)."""
    from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

    return instance.get_run_records(filters=dg.RunsFilter(
        statuses=[*IN_PROGRESS_RUN_STATUSES, dg.DagsterRunStatus.NOT_STARTED]))


def _kill_materialise_mid_run(root: Path, tmp: Path, partition: str, name: str) -> tuple[int, str]:
    """``fma-pipeline --data-dir root materialise --partitions P --features-only`` in its own
    session, SIGKILLed (the whole group) while its run extracts; returns (its pid, its output)."""
    script, marker, log_path = tmp / "held_cli.py", tmp / f"{name}.marker", tmp / f"{name}.log"
    script.write_text(HELD_CLI)
    env = {**os.environ, "FMA_TEST_MARKER": str(marker), "FMA_EXTRACTION_WORKERS": "1",
           "PYTHONPATH": str(REPO)}  # this checkout's fma_pipeline, not the editable install's
    env.pop("DAGSTER_HOME", None)
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, str(script), "--quiet", "--data-dir", str(root), "materialise",
                             "--partitions", partition, "--features-only"], env=env, cwd=tmp,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while not marker.exists():
            assert proc.poll() is None, f"the CLI exited ({proc.returncode}): {log_path.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "the CLI never reached extraction"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return proc.pid, log_path.read_text()


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_a_killed_materialise_run_is_failed_picked_by_backfill_and_no_longer_counted(
        tiny_sample, tmp_path, monkeypatch, capsys):
    root = tmp_path / "root"
    shutil.copytree(tiny_sample, root)
    for folder in (root / "fma_small").iterdir():
        if folder.name != "000":
            shutil.rmtree(folder)
    monkeypatch.setenv("DAGSTER_HOME", str(root / ".dagster"))  # restored after the test
    monkeypatch.setenv("FMA_DATA_DIR", str(root))
    status = dg.DagsterRunStatus

    first, _ = _kill_materialise_mid_run(root, tmp_path, "000", "first")
    with dg.DagsterInstance.get() as instance:
        assert [r.status for r in instance.get_runs()] == [status.STARTED]  # as the kill left it
    # the next materialise first fails the dead run (one line on stderr), then is killed too
    second, output = _kill_materialise_mid_run(root, tmp_path, "000", "second")
    assert f"STARTED -> FAILURE, process {first} on {socket.gethostname()}, which executed it, is gone" in output
    with dg.DagsterInstance.get() as instance:
        assert [r.status for r in instance.get_runs()] == [status.STARTED, status.FAILURE]  # newest first
        assert len(_in_progress(instance)) == 1

    # the reproduction: backfill --failed --dry-run now fails the second run (a line on
    # stderr) and picks the folder as failed, instead of "nothing to backfill"
    code, out, err = _cli(capsys, "--data-dir", str(root), "backfill", "--failed", "--dry-run", "--partitions", "000")
    assert code == 0 and out.splitlines()[0].startswith("000  failed"), out + err
    repaired = [line for line in err.splitlines() if "STARTED -> FAILURE" in line]
    assert len(repaired) == 1 and f"process {second} " in repaired[0] and "(folders 000-000)" in repaired[0], err
    with dg.DagsterInstance.get() as instance:
        assert {r.status for r in instance.get_runs()} == {status.FAILURE}
        assert _in_progress(instance) == []  # nothing left for the run queue to wait on
        run = instance.get_runs()[0]
        failure = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
        assert "is gone" in failure[0].event_log_entry.dagster_event.message

    # nothing repaired twice; the backfill re-runs the folder (its runs carry this process's pid)
    code, out, err = _cli(capsys, "--data-dir", str(root), "backfill", "--failed", "--partitions", "000")
    assert code == 0 and "1 partition(s), 1 run(s), success" in out and "FAILURE" not in err, out + err
    with dg.DagsterInstance.get() as instance:
        latest = instance.get_runs(limit=1)[0]
        assert latest.status == status.SUCCESS and latest.tags["fma/pid"] == str(os.getpid())
    code, out, _ = _cli(capsys, "--data-dir", str(root), "backfill", "--failed", "--dry-run", "--partitions", "000")
    assert out.strip() == "nothing to backfill"


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_run_monitoring_fails_runs_whose_cli_process_is_gone_and_only_those(tmp_path, monkeypatch):
    from fma_pipeline.orchestration.instance import dagster_home

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "placeholder"))  # restored after the test
    dagster_home(tmp_path / "root")
    with dg.DagsterInstance.get() as instance:
        assert instance.run_monitoring_enabled  # the daemon runs its monitoring loop
        assert instance.run_launcher.supports_check_run_worker_health
        from dagster._core.test_utils import create_run_for_test
        from dagster._daemon.monitoring.run_monitoring import monitor_started_run

        from fma_pipeline.orchestration.instance import process_start

        live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        try:
            here, dead = socket.gethostname(), _dead_pid()
            runs = {
                "dead": {"fma/pid": str(dead), "fma/host": here},
                "live": {"fma/pid": str(live.pid), "fma/host": here, "fma/process_start": process_start(live.pid)},
                # the pid now names another process (the live one): the recorded start time differs
                "reused": {"fma/pid": str(live.pid), "fma/host": here, "fma/process_start": "1"},
                "elsewhere": {"fma/pid": str(dead), "fma/host": here + "-other"},
                "daemon": {},  # launched by the daemon or webserver: no pid of ours
            }
            ids = {name: create_run_for_test(instance, status=dg.DagsterRunStatus.STARTED, tags=tags).run_id
                   for name, tags in runs.items()}
            for record in instance.get_run_records(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
                monitor_started_run(instance, None, record, logging.getLogger("test"))  # what the daemon does
            status = {name: instance.get_run_by_id(run_id).status for name, run_id in ids.items()}
        finally:
            live.kill()
            live.wait()
    assert status == {"dead": dg.DagsterRunStatus.FAILURE, "live": dg.DagsterRunStatus.STARTED,
                      "reused": dg.DagsterRunStatus.FAILURE, "elsewhere": dg.DagsterRunStatus.STARTED,
                      "daemon": dg.DagsterRunStatus.STARTED}


def test_an_unedited_dagster_yaml_of_an_earlier_version_gains_run_monitoring(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "placeholder"))  # restored after the test
    home = tmp_path / "root" / ".dagster"
    home.mkdir(parents=True)
    old = ("# Written by fma-pipeline; edit freely, it is not overwritten once present.\ntelemetry:\n  enabled: false\n"
           "run_queue:\n  max_concurrent_runs: 2\nrun_retries:\n  enabled: true\n  max_retries: 1\n"
           f"storage:\n  sqlite:\n    base_dir: {home / 'storage'}\n")
    (home / "dagster.yaml").write_text(old)
    from fma_pipeline.orchestration.instance import dagster_home

    dagster_home(tmp_path / "root")
    with dg.DagsterInstance.get() as instance:
        assert instance.run_monitoring_enabled and instance.run_launcher.supports_check_run_worker_health


def test_the_team_dagster_yaml_turns_on_run_monitoring():
    import yaml
    from dagster._config import validate_config
    from dagster._core.instance.config import dagster_instance_config_schema

    config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    assert validate_config(dagster_instance_config_schema(), config).success
    monitoring = config["run_monitoring"]
    # the default launcher cannot resume a run, so Dagster requires max_resume_run_attempts: 0
    assert monitoring["enabled"] is True and monitoring["max_resume_run_attempts"] == 0
