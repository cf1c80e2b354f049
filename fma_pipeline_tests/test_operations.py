"""Operations: the new-tracks sensor, the re-scan schedule, automation conditions, backfill --failed,
and the local instance's dagster.yaml."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import time
from pathlib import Path

import dagster as dg
import pytest

from fma_pipeline.definitions import defs
from fma_pipeline.orchestration.resources import Extraction, FmaData
from fma_pipeline.orchestration.schedules import build_rescan_schedule, rescan_cron
from fma_pipeline.orchestration.sensors import default_sensor_status, folder_fingerprint, new_tracks_sensor

REPO = defs.get_repository_def()


def _touch(path: Path, data: bytes = b"not really audio", mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as inst:
        yield inst


@pytest.fixture
def data_root(tmp_path) -> Path:
    root = tmp_path / "root"
    _touch(root / "fma_small" / "000" / "000002.mp3", mtime=1_700_000_000)
    _touch(root / "fma_small" / "000" / "000005.mp3", mtime=1_700_000_000)
    _touch(root / "fma_small" / "003" / "003001.mp3", mtime=1_700_000_000)
    (root / "fma_small" / "001").mkdir()  # an empty folder: never requested
    return root


def _tick(instance, root: Path, cursor: str | None, extraction: Extraction = Extraction()):
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"fma": FmaData(data_dir=str(root)), "extraction": extraction})
    result = new_tracks_sensor(context)
    return [r for r in (result.run_requests or [])], result.cursor


def test_sensor_requests_exactly_the_changed_folders(instance, data_root):
    audio = data_root / "fma_small"
    requests, cursor = _tick(instance, data_root, None)
    assert sorted(r.partition_key for r in requests) == ["000", "003"]
    assert all(r.run_key.startswith(r.partition_key + ":") for r in requests)
    assert set(json.loads(cursor)) == {"000", "003"}

    # same state: nothing, and the cursor is stable
    again, cursor2 = _tick(instance, data_root, cursor)
    assert again == [] and cursor2 == cursor

    # a new file in 000 -> one request for 000, with a new run key
    _touch(audio / "000" / "000010.mp3", mtime=1_700_000_100)
    added, cursor = _tick(instance, data_root, cursor)
    assert [r.partition_key for r in added] == ["000"]
    assert added[0].run_key not in {r.run_key for r in requests}

    # a changed file (same name, new mtime) -> request
    os.utime(audio / "003" / "003001.mp3", (1_700_000_500, 1_700_000_500))
    changed, cursor = _tick(instance, data_root, cursor)
    assert [r.partition_key for r in changed] == ["003"]

    # a removed file -> request
    (audio / "000" / "000005.mp3").unlink()
    removed, cursor = _tick(instance, data_root, cursor)
    assert [r.partition_key for r in removed] == ["000"]

    # a folder that appears later -> request for it only
    _touch(audio / "155" / "155320.mp3", mtime=1_700_000_000)
    new_folder, cursor = _tick(instance, data_root, cursor)
    assert [r.partition_key for r in new_folder] == ["155"]

    # the last file of a folder removed -> request (its table must become empty)
    (audio / "003" / "003001.mp3").unlink()
    emptied, cursor = _tick(instance, data_root, cursor)
    assert [r.partition_key for r in emptied] == ["003"] and "003" not in json.loads(cursor)
    assert _tick(instance, data_root, cursor)[0] == []


def test_sensor_first_tick_skips_folders_already_extracted(instance, data_root):
    out = data_root / "pipeline" / "track_features" / "000.parquet"
    _touch(out, b"x")  # newer than the folder and its files
    requests, _ = _tick(instance, data_root, None)
    assert [r.partition_key for r in requests] == ["003"]


def test_sensor_run_requests_target_the_extract_job_in_the_definitions(instance, data_root):
    context = dg.build_sensor_context(instance=instance, definitions=defs,
                                      resources={"fma": FmaData(data_dir=str(data_root)), "extraction": Extraction()})
    sensor = REPO.get_sensor_def("new_tracks_sensor")
    result = sensor(context)
    assert sensor.job_name == "extract_features"
    assert {r.partition_key for r in result.run_requests} == {"000", "003"}
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING  # no click needed


@pytest.mark.parametrize(("value", "status"), [(None, "RUNNING"), ("on", "RUNNING"), ("off", "STOPPED"),
                                               ("0", "STOPPED"), (" False ", "STOPPED")])
def test_automation_env_sets_the_sensors_default_status(monkeypatch, value, status):
    if value is None:
        monkeypatch.delenv("FMA_AUTOMATION", raising=False)
    else:
        monkeypatch.setenv("FMA_AUTOMATION", value)
    assert default_sensor_status() == getattr(dg.DefaultSensorStatus, status)


def test_fingerprint_sees_sizes_and_never_repeats_an_earlier_state(tmp_path):
    folder = tmp_path / "000"
    _touch(folder / "000002.mp3", b"a", mtime=1_700_000_000)
    os.utime(folder, ns=(1_700_000_000_000_000_000,) * 2)
    first = folder_fingerprint(folder)
    assert folder_fingerprint(folder) == first
    _touch(folder / "000002.mp3", b"ab", mtime=1_700_000_000)  # same mtime, other size
    os.utime(folder, ns=(1_700_000_000_000_000_000,) * 2)
    assert folder_fingerprint(folder) != first
    # a file added then removed: same file list as before, but a new state of the folder
    before = folder_fingerprint(folder)
    _touch(folder / "000003.mp3", b"x", mtime=1_700_000_000)
    (folder / "000003.mp3").unlink()
    os.utime(folder, ns=(1_700_000_001_000_000_000,) * 2)
    assert folder_fingerprint(folder) != before
    assert folder_fingerprint(tmp_path / "missing") == ""


def test_rescan_schedule_requests_every_folder_with_audio(instance, data_root, monkeypatch):
    schedule = REPO.get_schedule_def("rescan_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED
    context = dg.build_schedule_context(instance=instance, repository_def=REPO, resources={"fma": FmaData(data_dir=str(data_root))},
                                        scheduled_execution_time=datetime.datetime(2026, 1, 4, 3, 0))
    result = schedule.evaluate_tick(context)
    assert sorted(r.partition_key for r in result.run_requests) == ["000", "003"]
    assert len({r.run_key for r in result.run_requests}) == 2

    empty = dg.build_schedule_context(instance=instance, resources={"fma": FmaData(data_dir=str(data_root / "x"))})
    assert not build_rescan_schedule("*/5 * * * *").evaluate_tick(empty).run_requests

    monkeypatch.setenv("FMA_RESCAN_CRON", "15 2 * * *")
    assert rescan_cron() == "15 2 * * *" and build_rescan_schedule().cron_schedule == "15 2 * * *"
    monkeypatch.setenv("FMA_RESCAN_CRON", "every tuesday")
    with pytest.raises(ValueError, match="FMA_RESCAN_CRON"):
        rescan_cron()


def _requested(result) -> set[str]:
    names = ("feature_matrix", "extraction_errors", "tracks")
    return {n for n in names if result.get_requested_partitions(dg.AssetKey(n))}


def test_downstream_assets_follow_new_features_unless_a_blocking_check_fails(instance):
    """feature_matrix is requested after track_features updates, not while a blocking check fails."""
    selection = dg.AssetSelection.assets("feature_matrix", "extraction_errors", "tracks")
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection)
    assert _requested(first) == set()  # nothing updated yet (missing before the condition existed)

    def report(passed: bool):
        instance.report_runless_asset_event(dg.AssetMaterialization("track_features", partition="000"))
        for name in ("features_are_finite", "has_all_feature_columns"):
            instance.report_runless_asset_event(dg.AssetCheckEvaluation(
                asset_key=dg.AssetKey("track_features"), check_name=name, passed=passed))
        instance.report_runless_asset_event(dg.AssetMaterialization("tracks"))

    report(passed=False)
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection,
                                               cursor=first.cursor)
    assert _requested(second) == set()

    report(passed=True)
    third = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection,
                                              cursor=second.cursor)
    assert _requested(third) == {"feature_matrix", "extraction_errors"}


# --- fma-pipeline backfill --failed ------------------------------------------------------------

def test_parse_partitions_and_contiguous_chunks():
    from fma_pipeline.orchestration.backfill import contiguous_chunks, parse_partitions

    assert parse_partitions("010-012") == ["010", "011", "012"]
    assert parse_partitions("005,001-002") == ["001", "002", "005"]
    assert len(parse_partitions(None)) == 156
    with pytest.raises(ValueError):
        parse_partitions("150-160")
    assert contiguous_chunks(["003", "001", "002", "010"]) == [["001", "002", "003"], ["010"]]
    assert [len(c) for c in contiguous_chunks(parse_partitions("000-099"))] == [40, 40, 20]
    # only folders with audio count: the sample's 7 of 156 are one run, full folders are cut at 40
    sample = {"000", "003", "012", "047", "099", "133", "155"}
    assert contiguous_chunks(parse_partitions(None), holds_audio=sample.__contains__) == [parse_partitions(None)]
    assert [len(c) for c in contiguous_chunks(parse_partitions("000-099"), holds_audio=lambda k: True)] == [40, 40, 20]
    assert contiguous_chunks(["000", "001", "002"], size=1, holds_audio={"000", "002"}.__contains__) == [
        ["000", "001"], ["002"]]


def test_partitions_per_run_is_40_here_1_with_celery_and_can_be_set(monkeypatch):
    from fma_pipeline.orchestration.backfill import contiguous_chunks, parse_partitions
    from fma_pipeline.orchestration.partitions import partitions_per_run

    monkeypatch.delenv("FMA_EXECUTOR", raising=False)
    monkeypatch.delenv("FMA_PARTITIONS_PER_RUN", raising=False)
    assert partitions_per_run() == partitions_per_run(in_process=True) == 40
    monkeypatch.setenv("FMA_EXECUTOR", "celery")
    assert partitions_per_run() == 1  # the asset's backfill policy: one Celery step per folder
    assert partitions_per_run(in_process=True) == 40  # the CLI's runs execute here, one pool each
    monkeypatch.setenv("FMA_PARTITIONS_PER_RUN", "4")
    assert partitions_per_run() == partitions_per_run(in_process=True) == 4
    assert [len(c) for c in contiguous_chunks(parse_partitions(None))] == [4] * 39
    monkeypatch.setenv("FMA_PARTITIONS_PER_RUN", "0")
    with pytest.raises(ValueError, match="FMA_PARTITIONS_PER_RUN"):
        partitions_per_run()


def planned_extraction_runs(definitions: dg.Definitions) -> dict:
    """The runs Dagster's asset backfill daemon would launch to extract all 156 folders
    (``build_run_requests_with_backfill_policies``, what asset_backfill.py calls), as
    ``[first, last]`` folder ranges, and the extraction job's executor."""
    from dagster._core.definitions.automation_tick_evaluation_context import build_run_requests_with_backfill_policies
    from dagster._core.definitions.events import AssetKeyPartitionKey

    from fma_pipeline.core.fma.layout import FOLDERS

    wanted = [AssetKeyPartitionKey(dg.AssetKey(asset), key)
              for asset in ("track_features", "segment_features") for key in FOLDERS]
    with dg.DagsterInstance.ephemeral() as instance:
        requests = build_run_requests_with_backfill_policies(wanted, definitions.resolve_asset_graph(), instance)
    return {"executor": definitions.resolve_job_def("extract_features").executor_def.name,
            "runs": [[r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"]]
                     for r in requests]}


def test_a_156_folder_backfill_is_4_runs_here():
    local = planned_extraction_runs(defs)  # this process: FMA_EXECUTOR unset
    assert local["executor"] != "celery"
    assert local["runs"] == [["000", "039"], ["040", "079"], ["080", "119"], ["120", "155"]]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_156_folder_backfill_is_156_celery_steps_on_the_team_server():
    import subprocess
    import sys

    from fma_pipeline.core.fma.layout import FOLDERS

    pytest.importorskip("dagster_celery", reason="the team extra is not installed: pip install -e '.[test,team]'")
    # the code location as the team server loads it (deploy/.env.example): a fresh interpreter
    repo = Path(__file__).resolve().parents[1]
    env = {**os.environ, "FMA_EXECUTOR": "celery", "FMA_EXTRACTION_WORKERS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))}
    env.pop("FMA_PARTITIONS_PER_RUN", None)
    script = ("import json; from fma_pipeline.definitions import defs; "
              "from fma_pipeline_tests.test_operations import planned_extraction_runs; "
              "print(json.dumps(planned_extraction_runs(defs)))")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    team = json.loads(out.stdout.splitlines()[-1])
    assert team["executor"] == "celery"
    # every folder its own run, so its own extraction step: the Celery workers share all 156
    assert team["runs"] == [[key, key] for key in FOLDERS]


def _cli(capsys, *argv) -> tuple[int, str]:
    from fma_pipeline.cli import main

    code = main(["--quiet", *argv])
    return code, capsys.readouterr().out


def test_backfill_failed_finds_and_reruns_exactly_the_broken_partitions(tiny_sample, tmp_path, monkeypatch, capsys):
    root = tmp_path / "root"
    shutil.copytree(tiny_sample, root)
    audio = root / "fma_small"
    for folder in audio.iterdir():
        if folder.name not in {"000", "003", "012"}:
            shutil.rmtree(folder)
    monkeypatch.setenv("DAGSTER_HOME", str(root / ".dagster"))  # restored after the test
    monkeypatch.setenv("FMA_DATA_DIR", str(root))
    data = ["--data-dir", str(root)]

    code, out = _cli(capsys, *data, "backfill", "--failed", "--dry-run")
    assert code == 0 and [line.split()[0] for line in out.splitlines()[:-1]] == ["000", "003", "012"]
    assert "never materialised" in out and "dry run" in out

    started = time.perf_counter()
    code, out = _cli(capsys, *data, "backfill", "--failed")
    assert code == 0 and out.count("success") == 4, out  # 3 runs (non-contiguous folders) + summary
    first_backfill = time.perf_counter() - started

    # break 003 (its output path becomes a directory, so the asset raises), lose 012's output,
    # and let a new folder 047 appear
    broken = root / "pipeline" / "track_features" / "003.parquet"
    broken.unlink()
    broken.mkdir()
    (broken / "junk").write_text("not parquet")
    from fma_pipeline.definitions import resources
    from fma_pipeline.orchestration.backfill import run_backfill

    with dg.DagsterInstance.get() as instance:
        assert not run_backfill(instance, ["003"], resources()).success  # what the sensor would launch
    (root / "pipeline" / "track_features" / "012.parquet").unlink()
    shutil.copytree(tiny_sample / "fma_small" / "047", audio / "047")

    code, out = _cli(capsys, *data, "backfill", "--failed", "--dry-run")
    reasons = {line.split()[0]: line.split(None, 1)[1] for line in out.splitlines()[:-1]}
    assert set(reasons) == {"003", "012", "047"}
    assert reasons["003"].startswith("failed") and reasons["012"].startswith("output missing")
    assert reasons["047"].startswith("never materialised")

    code, out = _cli(capsys, *data, "backfill", "--failed", "--partitions", "000-010", "--dry-run")
    assert [line.split()[0] for line in out.splitlines()[:-1]] == ["003"]

    # still broken: the re-run fails and says so
    code, out = _cli(capsys, *data, "backfill", "--failed", "--partitions", "003")
    assert code == 1 and "FAILED" in out

    shutil.rmtree(broken)  # fix the cause
    code, out = _cli(capsys, *data, "backfill", "--failed", "--partitions", "000-010")
    assert code == 0 and "1 partition(s), 1 run(s), success" in out
    assert broken.is_file()
    code, out = _cli(capsys, *data, "backfill", "--failed", "--partitions", "000-010", "--dry-run")
    assert out.strip() == "nothing to backfill"
    with dg.DagsterInstance.get() as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/asset_partition_range_start": "003"}))
        assert [r.status for r in runs][:2] == [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]
    print(f"first backfill of 3 folders: {first_backfill:.1f} s")


# --- the local instance -------------------------------------------------------------------------

def test_project_dagster_yaml_is_valid_for_this_dagster(tmp_path, monkeypatch):
    from fma_pipeline.orchestration.instance import dagster_home

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "placeholder"))  # restored after the test
    home = dagster_home(tmp_path / "root")
    assert os.environ["DAGSTER_HOME"] == str(home)
    with dg.DagsterInstance.get() as instance:
        assert instance.is_persistent and not instance.telemetry_enabled
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
        assert instance.run_coordinator.get_run_queue_config().max_concurrent_runs == 2
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
        assert str(home / "storage") in str(instance.run_storage._conn_string)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")  # kept once present
    dagster_home(tmp_path / "root")
    assert (home / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def test_materialise_uses_the_data_dir_it_is_given_not_the_environment(tiny_sample, tmp_path, monkeypatch):
    """``cli.materialise(data_dir)`` ignored ``data_dir``: its resources read ``$FMA_DATA_DIR``,
    which only ``_data_dir()`` happened to set. With the variable naming another root, the run
    must still read and write the root it was given."""
    from fma_pipeline.cli import materialise
    from fma_pipeline.orchestration.instance import dagster_home

    root = tmp_path / "root"  # the sample with only folder 000 (a short run)
    shutil.copytree(tiny_sample, root, ignore=lambda d, names: [n for n in names if d.endswith("fma_small")
                                                                 and n != "000"])
    monkeypatch.setenv("DAGSTER_HOME", str(root / ".dagster"))  # restored after the test
    dagster_home(root)
    elsewhere = tmp_path / "elsewhere"
    monkeypatch.setenv("FMA_DATA_DIR", str(elsewhere))
    materialise(root, partitions=["000"], downstream=False, progress=False)
    assert (root / "pipeline" / "track_features" / "000.parquet").is_file()
    assert not elsewhere.exists()
