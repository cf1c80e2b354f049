"""Start ``fma-pipeline ui`` (``dagster dev``: webserver, daemon, code server) for a slow test."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from fma_pipeline.orchestration.backfill import graphql

BIN = Path(sys.executable).parent
#: A shell's PATH without the venv (the README never activates it).
CLEAN_PATH = os.pathsep.join(["/usr/local/bin", "/usr/bin", "/bin"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env(root: Path, **extra: str) -> dict[str, str]:
    """The environment of a user's shell for the data root ``root`` (no test's leftovers), as the
    README's commands run: the venv is not activated, so its ``bin`` is not on PATH."""
    env = {**os.environ, "FMA_DATA_DIR": str(root), "PYTHONWARNINGS": "ignore", "PATH": CLEAN_PATH, **extra}
    env.pop("DAGSTER_HOME", None)
    env.pop("MLFLOW_TRACKING_URI", None)  # mlflow.set_tracking_uri() in this process exports it
    env.pop("FMA_AUTOMATION", None)
    return env


def fma_pipeline(root: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the CLI as a user would; fails the test with its output when it fails."""
    out = subprocess.run([str(BIN / "fma-pipeline"), "--quiet", "--data-dir", str(root), *args],
                         env=cli_env(root), capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    return out


@contextlib.contextmanager
def serve_ui(root: Path, log_path: Path, startup_seconds: float = 180) -> Iterator[str]:
    """``fma-pipeline ui`` on a free port; yields its URL once the code location loaded."""
    port = free_port()
    log = open(log_path, "wb")
    started = time.monotonic()
    # its own session, so that the whole process group (dagster dev + webserver + daemon +
    # code server) can be stopped; `&` from a script would leave it ignoring SIGINT
    proc = subprocess.Popen([str(BIN / "fma-pipeline"), "--data-dir", str(root), "ui", "--port", str(port)],
                            env=cli_env(root), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            try:
                data = graphql(url, "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }")
                entries = data["workspaceOrError"]["locationEntries"]
                if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                    break
            except Exception:  # noqa: BLE001 - not up yet
                pass
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, f"dagster dev did not come up in {startup_seconds:.0f} s"
            time.sleep(1)
        graphql(url, "mutation { setNuxSeen }")  # the first-visit "join the community" dialog
        print(f"fma-pipeline ui up in {time.monotonic() - started:.1f} s")
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        log.close()
