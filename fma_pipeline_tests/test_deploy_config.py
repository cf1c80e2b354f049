"""The team deployment's configuration (deploy/), without Docker (issue #16, item 12).

deploy/docker-entrypoint.sh refuses missing, placeholder (CHANGE-ME) or short secrets and an
MLflow server open to every Host header; Redis requires a password that Celery's URLs carry;
MLflow answers only named hosts. The entrypoint runs here as it would in the image (with
FMA_DEPLOY_DIR pointing at this checkout's deploy/); test_team_deployment.py (slow) runs the
services natively with these settings.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
ENTRYPOINT = DEPLOY / "docker-entrypoint.sh"
GOOD = "0123456789abcdef0123456789abcdef"
REDIS_GOOD = "fedcba9876543210fedcba9876543210"


def env_example() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in (DEPLOY / ".env.example").read_text().splitlines()
             if line and not line.startswith("#") and "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def filled(**changes: str) -> dict[str, str]:
    """deploy/.env.example with every CHANGE-ME replaced (Redis's with its own password)."""
    env = {k: v.replace("CHANGE-ME", REDIS_GOOD if "REDIS" in k or "CELERY" in k else GOOD)
           for k, v in env_example().items()}
    env["MLFLOW_ALLOWED_HOSTS"] = "mlflow:5000,localhost:5000,127.0.0.1:5000"  # docker-compose.yml's default
    env.update(changes)
    return env


def entrypoint(env: dict[str, str], tmp_path: Path, *command: str) -> subprocess.CompletedProcess:
    base = {"PATH": os.environ["PATH"], "DAGSTER_HOME": str(tmp_path / "home" / ".dagster"),
            "FMA_DEPLOY_DIR": str(DEPLOY)}
    return subprocess.run(["sh", str(ENTRYPOINT), *command], env={**base, **env}, capture_output=True,
                          text=True, timeout=30)


def test_the_entrypoint_refuses_the_example_env_naming_every_placeholder(tmp_path):
    env = {**env_example(), "MLFLOW_ALLOWED_HOSTS": "mlflow:5000"}
    out = entrypoint(env, tmp_path, "echo", "started")
    assert out.returncode == 78 and "started" not in out.stdout, out
    for name in ("POSTGRES_PASSWORD", "DAGSTER_POSTGRES_PASSWORD", "REDIS_PASSWORD", "MLFLOW_BACKEND_STORE_URI",
                 "DAGSTER_CELERY_BROKER_URL", "DAGSTER_CELERY_BACKEND_URL"):
        assert re.search(rf"^  {name} .*CHANGE-ME", out.stderr, re.M), (name, out.stderr)
    assert not (tmp_path / "home").exists()  # refused before anything was written
    # the compose service `secrets`, which postgres and redis wait for, refuses it the same way
    assert entrypoint(env, tmp_path, "check-secrets").returncode == 78


@pytest.mark.parametrize(("change", "complaint"), [
    ({"POSTGRES_PASSWORD": ""}, "POSTGRES_PASSWORD is not set"),
    ({"DAGSTER_POSTGRES_PASSWORD": "short"}, "DAGSTER_POSTGRES_PASSWORD is shorter than 12"),
    ({"REDIS_PASSWORD": "changeme-changeme"}, "REDIS_PASSWORD is still the placeholder"),
    ({"DAGSTER_CELERY_BROKER_URL": "redis://redis:6379/0"}, "DAGSTER_CELERY_BROKER_URL does not carry REDIS_PASSWORD"),
    ({"DAGSTER_CELERY_BACKEND_URL": f"redis://:{GOOD}@redis:6379/1"}, "DAGSTER_CELERY_BACKEND_URL does not carry"),
    ({"MLFLOW_ALLOWED_HOSTS": "*"}, "MLFLOW_ALLOWED_HOSTS allows every Host header"),
    ({"MLFLOW_ALLOWED_HOSTS": "mlflow:5000,*"}, "MLFLOW_ALLOWED_HOSTS allows every Host header"),
    ({"MLFLOW_ALLOWED_HOSTS": ""}, "MLFLOW_ALLOWED_HOSTS is not set"),
    # #22.8: wildcard-only patterns, padded or with a port, open MLflow to every Host header too
    ({"MLFLOW_ALLOWED_HOSTS": "*:5000"}, "MLFLOW_ALLOWED_HOSTS allows every Host header ('*:5000')"),
    ({"MLFLOW_ALLOWED_HOSTS": " *"}, "MLFLOW_ALLOWED_HOSTS allows every Host header (' *')"),
    ({"MLFLOW_ALLOWED_HOSTS": "**"}, "MLFLOW_ALLOWED_HOSTS allows every Host header ('**')"),
    ({"MLFLOW_ALLOWED_HOSTS": "mlflow:5000, *.* ,[a-z]*:5000"}, "every Host header (' *.* ', '[a-z]*:5000')"),
    ({"MLFLOW_ALLOWED_HOSTS": " , "}, "MLFLOW_ALLOWED_HOSTS is not set"),
    # placeholders and well-known defaults in any case or punctuation; too few different characters
    ({"POSTGRES_PASSWORD": "Change-Me-Please"}, "POSTGRES_PASSWORD is still the placeholder"),
    ({"REDIS_PASSWORD": "CHANGE_ME_NOW_2024"}, "REDIS_PASSWORD is still the placeholder"),
    ({"DAGSTER_POSTGRES_PASSWORD": "Password123456!"}, "DAGSTER_POSTGRES_PASSWORD is a well-known default"),
    ({"POSTGRES_PASSWORD": "aaaaaaaaaaaaaaaa"}, "POSTGRES_PASSWORD has fewer than 6 different characters"),
    # the password inside the backend store's URI is held to the same rules
    ({"MLFLOW_BACKEND_STORE_URI": "postgresql+psycopg2://fma:short@postgres:5432/mlflow"},
     "MLFLOW_BACKEND_STORE_URI carries a password that is shorter than 12 characters"),
    ({"MLFLOW_BACKEND_STORE_URI": "postgresql://fma:Change-Me-Please@postgres/mlflow"},
     "MLFLOW_BACKEND_STORE_URI carries a password that is still the placeholder"),
    ({"MLFLOW_BACKEND_STORE_URI": "postgresql://fma@postgres:5432/mlflow"},
     "MLFLOW_BACKEND_STORE_URI carries no password"),
])
def test_the_entrypoint_refuses_each_weak_setting(tmp_path, change, complaint):
    out = entrypoint(filled(**change), tmp_path, "echo", "started")
    assert out.returncode == 78 and complaint in out.stderr and "started" not in out.stdout, out


@pytest.mark.parametrize("change", [
    {"MLFLOW_ALLOWED_HOSTS": "*.example.org,mlflow:*,127.0.0.1:5000,[::1]:5000, localhost:5000"},
    {"MLFLOW_BACKEND_STORE_URI": f"postgresql+psycopg2://fma:{GOOD}@postgres:5432/mlflow?sslmode=require"},
    {"POSTGRES_PASSWORD": "k7#Qm!2vR9&x"},  # 12 characters, punctuation allowed
])
def test_the_entrypoint_accepts_named_hosts_and_strong_passwords(tmp_path, change):
    out = entrypoint(filled(**change), tmp_path, "check-secrets")
    assert out.returncode == 0, out


def test_the_entrypoint_starts_with_real_secrets_and_installs_the_team_dagster_yaml(tmp_path):
    out = entrypoint(filled(), tmp_path, "echo", "started")
    assert out.returncode == 0 and out.stdout.strip() == "started", out
    assert (tmp_path / "home" / ".dagster" / "dagster.yaml").read_text() == (DEPLOY / "dagster.yaml").read_text()
    workspace = yaml.safe_load((tmp_path / "home" / ".dagster" / "workspace.yaml").read_text())
    assert workspace == {"load_from": [{"grpc_server": {"host": "user-code", "port": 4000,
                                                        "location_name": "fma_pipeline"}}]}
    assert entrypoint(filled(), tmp_path, "check-secrets").returncode == 0


def test_compose_passwords_redis_restricts_mlflow_hosts_and_checks_secrets_first():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    text = (REPO / "docker-compose.yml").read_text()
    assert "--allowed-hosts '*'" not in text and '--allowed-hosts "*"' not in text
    assert '--allowed-hosts \\"$$MLFLOW_ALLOWED_HOSTS\\"' in text
    assert "*" not in services["mlflow"]["environment"]["MLFLOW_ALLOWED_HOSTS"].replace("${", "").split(":-", 1)[1]
    redis = services["redis"]
    assert "requirepass" in redis["command"][-1] and "$$REDIS_PASSWORD" in redis["command"][-1]
    assert "REDISCLI_AUTH" in redis["healthcheck"]["test"][-1]
    assert services["secrets"]["command"] == ["check-secrets"]
    for name in ("postgres", "redis"):  # the only services not started through the entrypoint
        assert services[name]["depends_on"]["secrets"] == {"condition": "service_completed_successfully"}
    for name, service in services.items():
        if name not in {"postgres", "redis"}:  # every other one runs deploy/docker-entrypoint.sh
            assert "entrypoint" not in service, name
    example = env_example()
    for name in ("DAGSTER_CELERY_BROKER_URL", "DAGSTER_CELERY_BACKEND_URL"):
        assert example[name].startswith("redis://:CHANGE-ME@redis:6379/")
    assert example["REDIS_PASSWORD"] == "CHANGE-ME"


def test_one_workspace_yaml_the_cli_writes_the_same_location():
    """The repository's workspace.yaml (``dagster dev`` in a checkout) and the one ``fma-pipeline
    ui`` writes under DAGSTER_HOME name the same code location; the team's is written by the
    entrypoint (above), so the repository holds no other copy."""
    from fma_pipeline.orchestration.instance import WORKSPACE_YAML

    assert (REPO / "workspace.yaml").read_text() == WORKSPACE_YAML
    tracked = subprocess.run(["git", "ls-files", "*workspace.yaml"], cwd=REPO, capture_output=True, text=True)
    if tracked.returncode == 0:
        assert tracked.stdout.split() == ["workspace.yaml"]
    assert (REPO / "docker-compose.yml").is_file() and not (DEPLOY / "docker-compose.yml").exists()
