"""The team deployment of deploy/, natively: PostgreSQL + Redis (scripts/team-services.sh), the
user-code gRPC server, dagster-webserver, dagster-daemon, two Celery workers and an MLflow server
on PostgreSQL, all with deploy/dagster.yaml. As in docker-compose.yml, Redis requires a
password (the Celery URLs carry it), MLflow answers only the hosts named in --allowed-hosts,
and deploy/docker-entrypoint.sh's secret check passes on the environment every service gets.
Slow: ``pytest -m slow fma_pipeline_tests/test_team_deployment.py``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from fma_pipeline.orchestration.backfill import graphql
from fma_pipeline_tests.dagster_dev import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
WORKERS = ("worker-1", "worker-2")
FAST_RUN = {"ops": {
    "tracks": {"config": {"min_tracks": 2}},
    "genre_classifiers": {"config": {"models": ["random_forest", "svm", "knn"], "cv_folds": 2, "n_jobs": 1}},
}}


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = exc
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s (last error: {last})")


def http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status == 200


class Processes:
    """Start processes in their own session; stop each whole process group, always."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.procs: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, argv: list[str], env: dict) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "wb")
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append((name, proc))
        return proc

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")

    def stop_all(self):
        for name, proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for name, proc in reversed(self.procs):
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(timeout=10)


@pytest.fixture(scope="module")
def services():
    """PostgreSQL and Redis from scripts/team-services.sh; stopped afterwards."""
    out = subprocess.run([str(REPO / "scripts" / "team-services.sh"), "start"], capture_output=True,
                         text=True, timeout=300)
    env = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    if out.returncode != 0:
        if env.get("STATE_DIR"):
            subprocess.run([str(REPO / "scripts" / "team-services.sh"), "stop", env["STATE_DIR"]])
        pytest.fail(f"team-services.sh start failed:\n{out.stderr}")
    try:
        # Redis with a password, as docker-compose.yml runs it (requirepass); every client
        # (Celery workers, the executor) connects with redis://:PASSWORD@host:port/N
        password, port = secrets.token_hex(16), env["REDIS_PORT"]
        subprocess.run(["redis-cli", "-p", port, "CONFIG", "SET", "requirepass", password], check=True,
                       capture_output=True, timeout=30)
        refused = subprocess.run(["redis-cli", "-p", port, "ping"], capture_output=True, text=True, timeout=30)
        assert "NOAUTH" in refused.stdout + refused.stderr, refused
        env["REDIS_PASSWORD"] = password
        for name, db in (("DAGSTER_CELERY_BROKER_URL", 0), ("DAGSTER_CELERY_BACKEND_URL", 1)):
            env[name] = f"redis://:{password}@127.0.0.1:{port}/{db}"
        yield env
    finally:
        subprocess.run([str(REPO / "scripts" / "team-services.sh"), "stop", env["STATE_DIR"]],
                       timeout=120, check=False)
        shutil.rmtree(env["STATE_DIR"], ignore_errors=True)


@pytest.fixture(scope="module")
def deployment(services, tiny_sample, tmp_path_factory):
    """The Dagster and MLflow services of docker-compose.yml, as local processes."""
    base = tmp_path_factory.mktemp("team")
    root = base / "data"
    shutil.copytree(tiny_sample, root)
    home = root / ".dagster"  # as in docker-compose: DAGSTER_HOME on the shared data volume
    home.mkdir()
    grpc_port, web_port, mlflow_port = free_port(), free_port(), free_port()
    logs = base / "logs"
    logs.mkdir()
    env = {**os.environ, **{k: v for k, v in services.items() if k != "STATE_DIR"},
           "DAGSTER_HOME": str(home), "FMA_DATA_DIR": str(root), "FMA_EXECUTOR": "celery",
           "FMA_EXTRACTION_WORKERS": "1", "FMA_AUTOMATION": "off",  # this test launches every run itself
           "FMA_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow_port}",
           "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "PYTHONWARNINGS": "ignore",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("MLFLOW_TRACKING_URI", None)  # mlflow.set_tracking_uri() in this process exports it
    allowed_hosts = f"127.0.0.1:{mlflow_port},localhost:{mlflow_port}"  # as docker-compose.yml: named hosts only
    # the image's entrypoint, natively: its check (placeholders, short passwords, Redis URLs without
    # the password) passes, and it installs deploy/dagster.yaml and the workspace of the gRPC server
    check = subprocess.run(["sh", str(REPO / "deploy" / "docker-entrypoint.sh"), "true"],
                           env={**env, "POSTGRES_PASSWORD": env["DAGSTER_POSTGRES_PASSWORD"],
                                "MLFLOW_ALLOWED_HOSTS": allowed_hosts, "FMA_DEPLOY_DIR": str(REPO / "deploy"),
                                "FMA_USER_CODE_HOST": "127.0.0.1", "FMA_USER_CODE_PORT": str(grpc_port)},
                           capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    workspace = home / "workspace.yaml"
    assert f"port: {grpc_port}" in workspace.read_text()
    procs = Processes(logs)
    started = time.monotonic()
    try:
        procs.start("mlflow", [str(BIN / "mlflow"), "server", "--backend-store-uri",
                               services["MLFLOW_BACKEND_STORE_URI"], "--default-artifact-root",
                               (root / "mlartifacts").as_uri(), "--host", "127.0.0.1",
                               "--port", str(mlflow_port), "--workers", "1", "--allowed-hosts", allowed_hosts], env)
        procs.start("user-code", [str(BIN / "dagster"), "api", "grpc", "-m", "fma_pipeline.definitions",
                                  "-h", "127.0.0.1", "-p", str(grpc_port)], env)
        for worker in WORKERS:
            procs.start(worker, [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
                                 "--name", worker, "-y", str(REPO / "deploy" / "celery.yaml"), "--", "--pool", "solo"], env)
        # the schema first, once: a webserver and a daemon that both find an empty database
        # race to create it (DuplicateTable "instance_info"), and the loser exits
        subprocess.run([str(BIN / "dagster"), "instance", "migrate"], env=env, check=True,
                       capture_output=True, timeout=180)
        procs.start("webserver", [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(web_port),
                                  "-w", str(workspace)], env)
        procs.start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env)
        url = f"http://127.0.0.1:{web_port}"
        wait_for(lambda: http_ok(url + "/server_info"), 120, "dagster-webserver")
        wait_for(lambda: location_loaded(url), 120, "the code location (gRPC server)")
        wait_for(lambda: http_ok(f"http://127.0.0.1:{mlflow_port}/health"), 120, "mlflow server")
        for worker in WORKERS:
            wait_for(lambda: f"{worker}@" in procs.log(worker) and " ready." in procs.log(worker), 120,
                     f"celery {worker}")
        print(f"services up in {time.monotonic() - started:.1f} s")
        yield {"url": url, "mlflow": f"http://127.0.0.1:{mlflow_port}", "root": root, "env": env,
               "procs": procs, "services": services}
    finally:
        procs.stop_all()


def location_loaded(url: str) -> bool:
    data = graphql(url, """{ workspaceOrError { ... on Workspace { locationEntries {
        name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }""")
    entries = data["workspaceOrError"]["locationEntries"]
    errors = [e["locationOrLoadError"] for e in entries if e["locationOrLoadError"]["__typename"] == "PythonError"]
    if errors:
        raise RuntimeError(errors[0]["message"])
    return bool(entries) and all(e["loadStatus"] == "LOADED" and
                                 e["locationOrLoadError"]["__typename"] == "RepositoryLocation" for e in entries)


LAUNCH_RUN = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}"""


def run_status(url: str, run_id: str) -> str:
    data = graphql(url, """query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }""",
                   {"id": run_id})
    return data["runOrError"]["status"]


def backfill_status(url: str, backfill_id: str) -> str:
    data = graphql(url, """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
        ... on PartitionBackfill { status } } }""", {"id": backfill_id})
    return data["partitionBackfillOrError"]["status"]


def postgres(services: dict, sql: str) -> list[tuple]:
    import psycopg2

    with psycopg2.connect(host=services["DAGSTER_POSTGRES_HOST"], port=int(services["DAGSTER_POSTGRES_PORT"]),
                          user=services["DAGSTER_POSTGRES_USER"], password=services["DAGSTER_POSTGRES_PASSWORD"],
                          dbname=services["DAGSTER_POSTGRES_DB"]) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def mlflow_api(base: str, path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(base + "/api/2.0/mlflow/" + path,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def test_features_backfill_and_training_through_the_team_services(deployment):
    url, root, env, procs = deployment["url"], deployment["root"], deployment["env"], deployment["procs"]
    audio = root / "fma_small"
    for new in ("001", "002"):  # 000-003 contiguous: one run of four folders without Celery
        for clip in sorted((audio / "000").iterdir(), key=lambda p: p.stat().st_size)[-2:]:  # good clips
            (audio / new).mkdir(exist_ok=True)
            shutil.copy2(clip, audio / new / f"{int(new) * 1000 + int(clip.stem) % 1000:06d}.mp3")
    audio_folders = sorted(p.name for p in audio.iterdir())
    started = time.monotonic()

    # 1. fma-pipeline backfill --failed --webserver: one asset backfill of the never-run folders,
    #    one run (one extraction step) per folder with the Celery executor, shared by the workers
    out = subprocess.run([str(BIN / "fma-pipeline"), "--quiet", "--data-dir", str(root), "backfill", "--failed",
                          "--webserver", url], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr + out.stdout
    assert [line.split()[0] for line in out.stdout.splitlines()[:-1]] == audio_folders
    backfill_id = out.stdout.split("backfill ")[-1].split()[0]
    status = wait_for(lambda: (s := backfill_status(url, backfill_id)) in
                      {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"} and s,
                      600, f"backfill {backfill_id}", interval=2)
    assert status in {"COMPLETED", "COMPLETED_SUCCESS"}, status + procs.log("daemon")[-3000:]
    features_done = time.monotonic() - started
    for folder in audio_folders:
        assert (root / "pipeline" / "track_features" / f"{folder}.parquet").is_file()
    errors = sum(len(pd.read_parquet(p)) for p in (root / "pipeline" / "track_feature_errors").glob("*.parquet"))
    assert errors == 3  # the sample's three deliberately broken files, nothing else

    # 2. the downstream assets: launchRun of train_and_evaluate, steps on the Celery worker
    params = {"selector": {"repositoryLocationName": "fma_pipeline", "repositoryName": "__repository__",
                           "jobName": "train_and_evaluate"},
              "runConfigData": FAST_RUN, "executionMetadata": {"tags": [{"key": "fma/test", "value": "team"}]}}
    result = graphql(url, LAUNCH_RUN, {"params": params})["launchRun"]
    assert result["__typename"] == "LaunchRunSuccess", result
    run_id = result["run"]["runId"]
    status = wait_for(lambda: (s := run_status(url, run_id)) in {"SUCCESS", "FAILURE", "CANCELED"} and s,
                      300, f"run {run_id}", interval=2)
    assert status == "SUCCESS", status
    print(f"features backfill {features_done:.1f} s, training run {time.monotonic() - started - features_done:.1f} s")

    # 3. Dagster's PostgreSQL storage has the runs ...
    runs = postgres(deployment["services"], "SELECT run_id, status, pipeline_name FROM runs")
    by_id = {r[0]: r for r in runs}
    assert by_id[run_id][1] == "SUCCESS" and by_id[run_id][2] == "train_and_evaluate"
    backfill_runs = postgres(deployment["services"], "SELECT r.status, s.value, e.value FROM runs r "
                             "JOIN run_tags t ON t.run_id = r.run_id AND t.key = 'dagster/backfill' "
                             "JOIN run_tags s ON s.run_id = r.run_id AND s.key = 'dagster/asset_partition_range_start' "
                             "JOIN run_tags e ON e.run_id = r.run_id AND e.key = 'dagster/asset_partition_range_end' "
                             f"WHERE t.value = '{backfill_id}'")
    assert backfill_runs and all(status == "SUCCESS" for status, *_ in backfill_runs)
    # one run per folder (000-003 too): the backfill is cut into single-folder runs
    assert sorted((first, last) for _, first, last in backfill_runs) == [(f, f) for f in audio_folders]
    assert postgres(deployment["services"], "SELECT count(*) FROM bulk_actions")[0][0] == 1
    # ... whose extraction steps ran on the Celery workers, both of them (the asset logs each commit)
    committed = {worker: re.findall(r"folder (\d{3}) committed", procs.log(worker)) for worker in WORKERS}
    assert sorted(sum(committed.values(), [])) == audio_folders, committed
    assert all(committed.values()), committed
    print(f"folders extracted per Celery worker: {committed}")

    # 4. MLflow's server (PostgreSQL backend) has the training: parent run, child runs, champion
    base = deployment["mlflow"]
    experiment = mlflow_api(base, "experiments/get-by-name?experiment_name=fma-genre-classification")["experiment"]
    found = mlflow_api(base, "runs/search", {"experiment_ids": [experiment["experiment_id"]], "max_results": 100})
    children = [r for r in found["runs"] if any(t["key"] == "mlflow.parentRunId" for t in r["data"].get("tags", []))]
    assert len(children) >= 3 and all(r["info"]["status"] == "FINISHED" for r in found["runs"])
    model = mlflow_api(base, "registered-models/get?name=fma-genre-classifier")["registered_model"]
    assert any(a["alias"] == "champion" for a in model.get("aliases", []))
    assert not (root / "mlflow.db").exists()  # nothing went to the local SQLite default
    # predict serves the champion registered on the team's PostgreSQL-backed server (FMA_MLFLOW_TRACKING_URI)
    clip = sorted((audio / "000").iterdir(), key=lambda p: p.stat().st_size)[-1]
    out = subprocess.run([str(BIN / "fma-pipeline"), "--quiet", "--data-dir", str(root), "predict", "--json", str(clip)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    (answer,) = json.loads(out.stdout)
    assert answer["status"] in {"ok", "unsure"} and answer["path"] == str(clip), answer
    assert not (root / "mlflow.db").exists()
    # a Host header not in --allowed-hosts (DNS rebinding) is refused
    foreign = urllib.request.Request(base + "/api/2.0/mlflow/experiments/search?max_results=1",
                                     headers={"Host": "attacker.example:5000"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(foreign, timeout=30)
    assert refused.value.code == 403
    print(f"{len(runs)} Dagster runs in PostgreSQL ({len(backfill_runs)} of the backfill), {len(found['runs'])} MLflow runs on the server")
