"""The README's UI commands start as written: ``.venv/bin/fma-pipeline ui`` / ``mlflow-ui`` from a
shell whose PATH does not hold the venv (the README never activates it)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request

import pytest

from fma_pipeline_tests.dagster_dev import BIN, CLEAN_PATH, cli_env, free_port, serve_ui


def test_the_venv_is_not_on_the_clean_path():
    assert str(BIN) not in CLEAN_PATH.split(os.pathsep)
    assert cli_env(BIN)["PATH"] == CLEAN_PATH


@pytest.mark.timeout(240)
def test_mlflow_ui_starts_from_a_clean_path(tmp_path):
    port = free_port()
    log = tmp_path / "mlflow-ui.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(BIN / "fma-pipeline"), "--data-dir", str(tmp_path / "root"), "mlflow-ui",
                                 "--port", str(port)], env=cli_env(tmp_path / "root"), stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as response:
                    assert response.status == 200
                    break
            except OSError:
                pass
            assert proc.poll() is None, log.read_text()[-3000:]  # e.g. "No such file or directory: 'mlflow'"
            assert time.monotonic() < deadline, "mlflow ui did not answer in 180 s:\n" + log.read_text()[-3000:]
            time.sleep(1)
        assert str(BIN / "mlflow") in log.read_text()  # the venv's own mlflow, though PATH lacks it
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_dagster_ui_starts_from_a_clean_path(tmp_path):
    with serve_ui(tmp_path / "root", tmp_path / "ui.log") as url:
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.status == 200
    assert str(BIN / "dagster") in (tmp_path / "ui.log").read_text()


def test_the_demos_closing_hint_names_a_command_that_runs(monkeypatch, tmp_path):
    from fma_pipeline.cli import ui_commands

    monkeypatch.setenv("PATH", CLEAN_PATH)
    hint = ui_commands(tmp_path)
    assert f"{BIN / 'fma-pipeline'} --data-dir {tmp_path} ui" in hint
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{CLEAN_PATH}")  # an activated venv: the short name
    assert "  Dagster UI: fma-pipeline --data-dir" in ui_commands(tmp_path)
