"""Reliability: killed runs, concurrent runs, locked or unreachable stores, bad metadata, security.

Runs that must be killed or raced happen in subprocesses (a small runner script calling
``dg.materialize`` on one partition of ``track_features``, or a range); the runner can pause
at a chosen point (during extraction, with the temporary Parquet written but not yet
renamed, or once a folder of a range is committed) so that every kill lands where it is meant to, without timing guesses.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from fma_pipeline.core.audio.extraction import (ExtractionSettings, extract_folder, extract_folders, feature_values,
                                          file_digest)
from fma_pipeline.core.fma.layout import list_audio_files
from fma_pipeline.core.locking import LockTimeout, exclusive_lock
from fma_pipeline.core.fma.metadata import MetadataError, read_genres, read_tracks, write_genres_csv, write_tracks_csv
from fma_pipeline.core.storage import _temp_prefix, atomic_path, read_parquet, write_parquet
from fma_pipeline.orchestration.assets.features import feature_matrix, folder_features
from fma_pipeline.orchestration.assets.metadata import tracks as tracks_asset
from fma_pipeline.orchestration.resources import Extraction, FmaData

REPO = Path(__file__).resolve().parents[1]
SR = 22_050
KEY = "000"
N_CLIPS = 8

RUNNER = textwrap.dedent('''
    """Materialise one partition of track_features (or a range A...B); optionally pause at a chosen point."""
    import os, sys, time
    root, key = sys.argv[1], sys.argv[2]
    pause, marker, release = (os.environ.get(v, "") for v in
                              ("FMA_TEST_PAUSE", "FMA_TEST_MARKER", "FMA_TEST_RELEASE"))

    def hold(text):
        with open(marker, "w") as handle:
            handle.write(text)
        deadline = time.time() + 300
        while time.time() < deadline and not (release and os.path.exists(release)):
            time.sleep(0.05)

    if pause.startswith("extract:"):  # pause before the n-th file is extracted
        import fma_pipeline.core.audio.extraction as extraction
        real, seen = extraction._extract_file, [0]
        def pausing(*args, **kwargs):
            seen[0] += 1
            if seen[0] == int(pause.split(":")[1]):
                hold("extracting")
            return real(*args, **kwargs)
        extraction._extract_file = pausing
    elif pause == "write":  # pause with the features' temporary file written, not renamed
        import pandas as pd
        real_write = pd.DataFrame.to_parquet
        def pausing_write(self, path, *args, **kwargs):
            out = real_write(self, path, *args, **kwargs)
            if "track_features" + os.sep in str(path) and ".tmp-" in str(path):
                hold(str(path))
            return out
        pd.DataFrame.to_parquet = pausing_write
    elif pause.startswith("commit:"):  # pause once the n-th folder's features are written (committed)
        import fma_pipeline.orchestration.assets.features as features
        real_commit, nth, committed = features.write_parquet, int(pause.split(":")[1]), []
        def pausing_commit(frame, path, *args, **kwargs):
            out = real_commit(frame, path, *args, **kwargs)
            if os.sep + "track_features" + os.sep in str(path):
                committed.append(str(path))
                if len(committed) == nth:
                    hold(str(path))
            return out
        features.write_parquet = pausing_commit

    if __name__ == "__main__":  # a process pool's forkserver would import this file again
        import dagster as dg
        from fma_pipeline.orchestration.assets.features import folder_features
        from fma_pipeline.definitions import resources
        from fma_pipeline.orchestration.resources import Extraction, FmaData
        start, _, end = key.partition("...")
        where = ({"tags": {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}}
                 if end else {"partition_key": key})
        workers = int(os.environ.get("FMA_TEST_WORKERS") or 1)
        result = dg.materialize([folder_features], instance=dg.DagsterInstance.ephemeral(), **where,
                                resources=resources(FmaData(data_dir=root), Extraction(workers=workers)))
        meta = result.get_asset_materialization_events()[0].materialization.metadata
        print(f"RESULT success={result.success} extracted={meta['extracted'].value} "
              f"reused={meta['reused'].value} failed={meta['failed'].value}", flush=True)
''')


# ---------------------------------------------------------------- helpers

def _music(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    freqs = 110 * 2 ** (rng.integers(0, 24, 4) / 12)
    tone = sum(np.sin(2 * np.pi * f * t) / (i + 1) for i, f in enumerate(freqs))
    beat = (np.sin(2 * np.pi * rng.uniform(1, 3) * t) > 0.9) * rng.standard_normal(len(t))
    return (0.2 * tone + 0.3 * beat + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def _write_clips(folder: Path, seed: int, n: int = N_CLIPS) -> None:
    """``n`` 6-second WAV clips named by track id, plus one empty file (an error row)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        sf.write(folder / f"{int(folder.name) * 1000 + 2 * (i + 1):06d}.wav", _music(6, seed * 1000 + i), SR)
    (folder / f"{int(folder.name) * 1000 + 999:06d}.mp3").write_bytes(b"")


def _resources(root: Path) -> dict:
    from fma_pipeline.definitions import resources

    return resources(FmaData(data_dir=str(root)), Extraction(workers=1))


def _materialise(root: Path, key: str = KEY) -> dg.ExecuteInProcessResult:
    """One partition, or a range ``A...B`` in one run."""
    start, _, end = key.partition("...")
    where = ({"tags": {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}}
             if end else {"partition_key": key})
    return dg.materialize([folder_features], resources=_resources(root), instance=dg.DagsterInstance.ephemeral(),
                          **where)


def _paths(root: Path, key: str = KEY) -> tuple[Path, Path]:
    pipeline = root / "pipeline"
    return pipeline / "track_features" / f"{key}.parquet", pipeline / "track_feature_errors" / f"{key}.parquet"


def _spawn(root: Path, tmp: Path, name: str, pause: str = "", release: Path | None = None,
           key: str = KEY, workers: int = 1) -> tuple[subprocess.Popen, Path, Path]:
    """Start the runner (in its own process group); returns (process, marker file, stderr log)."""
    runner = tmp / "runner.py"
    runner.write_text(RUNNER)
    marker, log = tmp / f"{name}.marker", tmp / f"{name}.log"
    env = {**os.environ, "FMA_TEST_PAUSE": pause, "FMA_TEST_MARKER": str(marker),
           "FMA_TEST_RELEASE": str(release or tmp / f"{name}.never"), "FMA_TEST_WORKERS": str(workers)}
    proc = subprocess.Popen([sys.executable, str(runner), str(root), key], env=env, cwd=tmp,
                            stdout=subprocess.PIPE, stderr=open(log, "w"), text=True, start_new_session=True)
    return proc, marker, log


def _wait_until(condition, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"runner exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _assert_complete(root: Path, key: str = KEY) -> pd.DataFrame:
    """The partition's files are readable and account for every audio file of the folder."""
    features_path, errors_path = _paths(root, key)
    features, errors = read_parquet(features_path), read_parquet(errors_path)
    files = list_audio_files(root / "fma_small" / key)
    assert len(features) + len(errors) == len(files)
    assert set(features[("file", "name", "")]) | set(errors["name"]) == {f.name for f in files}
    assert np.isfinite(feature_values(features).to_numpy(np.float64)).all()
    return features


@pytest.fixture(scope="module")
def extracted_root(tmp_path_factory) -> Path:
    """A data root with one folder of clips, extracted once (the 'last good' output)."""
    root = tmp_path_factory.mktemp("extracted")
    _write_clips(root / "fma_small" / KEY, seed=1)
    assert _materialise(root).success
    return root


# ---------------------------------------------------------------- 1. interruptions

@pytest.mark.timeout(180)
@pytest.mark.parametrize("kill_at", ["extract:4", "write"])
def test_a_killed_run_leaves_the_last_good_output_and_the_next_run_recovers(extracted_root, tmp_path, kill_at):
    root = tmp_path / "root"
    shutil.copytree(extracted_root, root, symlinks=True)
    features_path, errors_path = _paths(root)
    before = features_path.read_bytes()
    errors_before = errors_path.read_bytes()
    _write_clips(root / "fma_small" / KEY, seed=2)  # every clip changes: the next run re-extracts all
    proc, marker, _ = _spawn(root, tmp_path, "killed", pause=kill_at)
    try:
        _wait_until(marker.exists, 120, f"the runner to reach {kill_at}", proc)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    # the last good output is intact, byte for byte; the errors file is old or a complete new one
    assert features_path.read_bytes() == before
    assert errors_path.read_bytes() == errors_before or len(read_parquet(errors_path)) == 1
    stray = list(features_path.parent.glob(".tmp-*"))
    if kill_at == "write":
        assert [p.name for p in stray] == [Path(marker.read_text()).name]
        assert stray[0].name.startswith(_temp_prefix(proc.pid))
    # the next run completes, removes the dead run's temporary file and matches a clean extraction
    result = _materialise(root)
    assert result.success
    assert not list(features_path.parent.glob(".tmp-*")) and not list(errors_path.parent.glob(".tmp-*"))
    features = _assert_complete(root)
    clean = extract_folder(root / "fma_small" / KEY, settings=ExtractionSettings(workers=1))
    assert features.index.equals(clean.features.index)
    np.testing.assert_allclose(feature_values(features).to_numpy(), feature_values(clean.features).to_numpy(),
                               rtol=1e-5, atol=1e-6)
    for tid, name in features[("file", "name", "")].items():  # hashes are of the new content
        assert features.at[tid, ("file", "blake2b", "")] == file_digest(root / "fma_small" / KEY / name)


def test_atomic_path_removes_temporary_files_of_dead_writers_only(tmp_path):
    target = tmp_path / "out.parquet"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = tmp_path / f"{_temp_prefix(dead_pid)}abc123-out.parquet"
        busy = tmp_path / f"{_temp_prefix(live.pid)}def456-out.parquet"
        other_host = tmp_path / f".tmp-{dead_pid}@00000000-ghi789-out.parquet"  # pid means nothing here
        legacy = tmp_path / ".tmp-k2j4h5g6-out.parquet"  # pre-pid name, young: kept (age rule)
        old_legacy = tmp_path / ".tmp-a1b2c3d4-out.parquet"  # pre-pid name, two hours old
        for path in (stale, busy, other_host, legacy, old_legacy):
            path.write_bytes(b"partial")
        os.utime(old_legacy, (time.time() - 7200, time.time() - 7200))
        write_parquet(pd.DataFrame({"x": [1]}), target)
        assert not stale.exists() and not old_legacy.exists()
        assert busy.exists() and legacy.exists() and other_host.exists()
        assert read_parquet(target)["x"].tolist() == [1]
    finally:
        live.kill()
        live.wait()


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "t.parquet"
    write_parquet(pd.DataFrame({"x": [1, 2]}), target)
    before = target.read_bytes()
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == before and not list(tmp_path.glob(".tmp-*"))


def _contiguous_mp3_folders(tiny_sample: Path, root: Path) -> list[str]:
    """Folders 000-002 of real MP3 clips: the tiny sample's 000, 003 and 012 (bad files included), renumbered."""
    keys = ["000", "001", "002"]
    for key, source in zip(keys, ["000", "003", "012"]):
        (root / "fma_small" / key).mkdir(parents=True)
        for clip in list_audio_files(tiny_sample / "fma_small" / source):
            shutil.copy2(clip, root / "fma_small" / key / f"{int(key) * 1000 + int(clip.stem) % 1000:06d}{clip.suffix}")
    return keys


@pytest.mark.timeout(120)
def test_folders_are_handed_over_one_after_another_and_a_failing_commit_stops_the_rest(tiny_sample):
    folders = {key: tiny_sample / "fma_small" / key for key in ("000", "003", "012")}
    total, decoded, handed = [0], [0], []

    def on_folder(key, result):
        handed.append((key, decoded[0], result.extracted + result.failed))
        if len(handed) == 2:
            raise RuntimeError("killed after the second folder")

    def progress(n):
        decoded[0] += n

    with pytest.raises(RuntimeError, match="second folder"):
        extract_folders(folders, settings=ExtractionSettings(workers=2), progress=progress,
                        on_total=lambda n: total.__setitem__(0, n), on_folder=on_folder)
    assert [key for key, *_ in handed] == ["000", "003"]  # in order, the third never handed over
    first_files = handed[0][2]
    # the first folder came as soon as its own files were done (a few of the next in flight at most)
    assert first_files <= handed[0][1] <= first_files + 3 < total[0]
    assert handed[1][1] < total[0]


@pytest.mark.timeout(180)
def test_a_run_killed_after_two_of_its_three_folders_keeps_them_and_the_next_run_reuses_them(tiny_sample, tmp_path):
    root = tmp_path / "root"
    keys = _contiguous_mp3_folders(tiny_sample, root)
    # one run over 000-002 with a shared pool of two workers; SIGKILL (run and pool) once the second
    # folder is committed (usually 001; under load 002's last file can finish before 001's)
    proc, marker, _ = _spawn(root, tmp_path, "killed", pause="commit:2", key="000...002", workers=2)
    try:
        _wait_until(marker.exists, 120, "the run to commit its second folder", proc)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == -signal.SIGKILL
    done = [key for key in keys if _paths(root, key)[0].exists()]
    assert len(done) == 2, done
    kept = {key: _assert_complete(root, key) for key in done}  # both finished folders are on disk
    (lost,) = set(keys) - set(done)
    before = {key: _paths(root, key)[0].read_bytes() for key in done}

    result = _materialise(root, "000...002")  # the next run extracts only what was lost
    assert result.success
    meta = next(e.materialization.metadata for e in result.get_asset_materialization_events()
                if e.asset_key == dg.AssetKey("track_features"))
    third = _assert_complete(root, lost)
    assert meta["reused"].value == sum(len(f) for f in kept.values())
    assert meta["extracted"].value == len(third) > 0
    assert {key: _paths(root, key)[0].read_bytes() for key in done} == before  # not rewritten


# ---------------------------------------------------------------- 2. concurrency

@pytest.mark.timeout(180)
def test_two_runs_of_one_partition_take_turns_and_leave_a_complete_file(tmp_path):
    root = tmp_path / "root"
    _write_clips(root / "fma_small" / KEY, seed=3)
    release = tmp_path / "release"
    first, first_marker, _ = _spawn(root, tmp_path, "first", pause="extract:2", release=release)
    second = None
    try:
        _wait_until(first_marker.exists, 120, "the first run to start extracting", first)
        second, _, second_log = _spawn(root, tmp_path, "second")
        _wait_until(lambda: "waiting for lock" in second_log.read_text(), 120,
                    "the second run to wait for the lock", second)
        assert f".{KEY}.lock" in second_log.read_text() and f"held by pid {first.pid}" in second_log.read_text()
        release.touch()
        out_first, _ = first.communicate(timeout=120)
        out_second, _ = second.communicate(timeout=120)
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
    assert first.returncode == 0 and second.returncode == 0
    assert f"RESULT success=True extracted={N_CLIPS} reused=0 failed=1" in out_first
    # the second run waited, then found the first run's output: nothing extracted twice
    assert f"RESULT success=True extracted=0 reused={N_CLIPS} failed=1" in out_second
    assert "acquired lock" in second_log.read_text()
    assert len(_assert_complete(root)) == N_CLIPS
    assert not list((root / "pipeline" / "track_features").glob(".tmp-*"))


def test_exclusive_lock_logs_when_waiting_and_can_time_out(tmp_path):
    lock, lines = tmp_path / ".000.lock", []
    with exclusive_lock(lock):
        started = time.monotonic()
        with pytest.raises(LockTimeout, match=r"\.000\.lock \(held by pid \d+\) not acquired within 0\.3 s"):
            with exclusive_lock(lock, log=lines.append, timeout=0.3):
                pass
        assert time.monotonic() - started < 5
    assert len(lines) == 1 and lines[0].startswith(f"waiting for lock {lock}")
    with exclusive_lock(lock, log=lines.append, timeout=0.3):  # released: taken at once, no log
        pass
    assert len(lines) == 1


# ---------------------------------------------------------------- 3. locked or unreachable stores

@contextlib.contextmanager
def _exclusive_sqlite_transaction(db: Path):
    """Another process holding ``BEGIN EXCLUSIVE`` on ``db`` until the block ends."""
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sqlite3, sys, time
        connection = sqlite3.connect(sys.argv[1], isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        print("locked", flush=True)
        time.sleep(300)
        """), str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.wait()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.timeout(60)
def test_unreachable_mlflow_server_fails_fast_naming_the_uri(tmp_path):
    from fma_pipeline.core.tracking import MlflowStore, TrackingStoreError

    uri = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(TrackingStoreError, match=re.escape(f"MLflow tracking server {uri} is unreachable")) as info:
        MlflowStore(uri, tmp_path / "artifacts").activate()
    assert time.monotonic() - started < 15
    assert "\n" not in str(info.value)


@pytest.mark.timeout(60)
def test_locked_mlflow_sqlite_store_fails_within_a_bounded_time(tmp_path, monkeypatch):
    from fma_pipeline.core import tracking

    db = tmp_path / "mlflow.db"
    with sqlite3.connect(db) as connection:
        connection.execute("CREATE TABLE experiments (experiment_id INTEGER)")
    monkeypatch.setattr(tracking, "STORE_TIMEOUT", 2.0)
    from fma_pipeline.core.catalogue import DataRoot

    store = DataRoot(tmp_path).mlflow_store()
    with _exclusive_sqlite_transaction(db):
        started = time.monotonic()
        with pytest.raises(tracking.TrackingStoreError, match=r"mlflow\.db is locked by another process"):
            store.activate()
        elapsed = time.monotonic() - started
    assert 1.5 < elapsed < 10


@pytest.mark.timeout(90)
def test_locked_dagster_sqlite_storage_gives_an_error_within_a_bounded_time(tmp_path, monkeypatch):
    from fma_pipeline.orchestration.instance import dagster_home

    home = dagster_home(tmp_path / "data")
    monkeypatch.setenv("DAGSTER_HOME", str(home))

    @dg.asset
    def tiny():
        return 1

    with dg.DagsterInstance.get() as instance:
        assert dg.materialize([tiny], instance=instance).success  # creates the storage
        runs_db = home / "storage" / "history" / "runs.db"
        assert runs_db.exists()
        with _exclusive_sqlite_transaction(runs_db):
            started = time.monotonic()
            with pytest.raises(Exception, match="database is locked"):
                dg.materialize([tiny], instance=instance)
            elapsed = time.monotonic() - started
    assert elapsed < 30  # Dagster's SQLite storage gives up after ~5 s on runs.db


# ---------------------------------------------------------------- 4. bad metadata

@pytest.fixture
def metadata_root(tmp_path) -> Path:
    """Sample metadata (no audio rendered) and fake feature rows for all but two selected tracks."""
    from fma_pipeline.core.sample.dataset import SampleSpec, _genre_table, plan_tracks

    root = tmp_path / "root"
    planned = plan_tracks(SampleSpec(tracks_per_genre=6, broken=False))
    write_tracks_csv(planned, root / "fma_metadata" / "tracks.csv")
    write_genres_csv(_genre_table(planned), root / "fma_metadata" / "genres.csv")
    return root


def _run_tracks_and_matrix(root: Path, feature_ids: list[int]) -> tuple[dg.ExecuteInProcessResult, pd.DataFrame]:
    """The real ``tracks`` asset, fake ``track_features`` rows for ``feature_ids``, then ``feature_matrix``."""
    from fma_pipeline.core.audio.definition import definition_attrs
    from fma_pipeline.core.audio.extraction import empty_features
    from fma_pipeline.core.audio.features import FeatureConfig
    from fma_pipeline.core.fma.layout import folder_of

    template = empty_features()
    for key, ids in pd.Series(feature_ids).groupby(pd.Series(feature_ids).map(folder_of)):
        rows = pd.DataFrame(np.random.default_rng(0).standard_normal((len(ids), template.shape[1])),
                            columns=template.columns, index=pd.Index(ids.to_list(), name="track_id"))
        rows[("file", "name", "")] = [f"{t:06d}.mp3" for t in ids]
        rows[("file", "blake2b", "")] = "x"
        rows.attrs = definition_attrs(FeatureConfig())  # as this version's extraction writes them
        write_parquet(rows.astype(template.dtypes.to_dict()), root / "pipeline" / "track_features" / f"{key}.parquet")
    instance = dg.DagsterInstance.ephemeral()
    from fma_pipeline.definitions import all_assets, resources

    result = dg.materialize(all_assets, selection=[tracks_asset, feature_matrix],
                            resources=resources(FmaData(data_dir=str(root))),
                            instance=instance, run_config={"ops": {"tracks": {"config": {"min_tracks": 2}}}})
    result.logs = [str(e.user_message) for e in instance.all_logs(result.run_id)]
    return result, read_parquet(root / "pipeline" / "feature_matrix.parquet")


def _metadata_of(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    return {k: v.value for e in result.get_asset_materialization_events()
            if e.asset_key.to_user_string() == asset for k, v in e.materialization.metadata.items()}


def test_selected_tracks_without_audio_are_counted_and_audio_without_metadata_is_ignored(metadata_root):
    """Documented tolerance: a selected track whose audio is missing has no row in
    ``feature_matrix`` and is counted (a warning and ``selected_tracks_without_features``);
    audio whose track id has no ``tracks.csv`` row is extracted but left out of
    ``feature_matrix``, as it has no label."""
    selected_ids = read_tracks(metadata_root / "fma_metadata" / "tracks.csv").index.to_list()
    with_audio = selected_ids[2:]  # the first two tracks' audio is missing
    orphans = [150_002, 150_004]  # audio files with no metadata row
    result, matrix = _run_tracks_and_matrix(metadata_root, with_audio + orphans)
    assert result.success
    selected = read_parquet(metadata_root / "pipeline" / "tracks.parquet")
    missing = [t for t in selected.index if t not in with_audio]
    assert missing and set(missing) <= set(selected_ids[:2])
    assert _metadata_of(result, "feature_matrix")["selected_tracks_without_features"] == len(missing)
    assert not set(orphans) & set(matrix.index)
    assert set(matrix.index) == set(selected.index) - set(missing)
    assert any(f"{len(missing)} selected track(s) have no features" in m for m in result.logs)


def test_extra_columns_in_tracks_csv_are_tolerated(metadata_root):
    """Documented tolerance (core.metadata): extra columns are kept and ignored."""
    path = metadata_root / "fma_metadata" / "tracks.csv"
    raw = pd.read_csv(path, index_col=0, header=[0, 1])
    raw[("track", "mood")] = "calm, \"really\""
    raw[("extra", "anything")] = 7
    raw.to_csv(path)
    tracks = read_tracks(path)
    assert tracks[("track", "mood")].iloc[0] == "calm, \"really\"" and len(tracks.columns) == 54
    result, matrix = _run_tracks_and_matrix(metadata_root, tracks.index.to_list())
    assert result.success and len(matrix) == _metadata_of(result, "tracks")["dagster/row_count"]


def test_genres_csv_with_a_broken_parent_names_file_row_and_column(metadata_root):
    path = metadata_root / "fma_metadata" / "genres.csv"
    table = read_genres(path).table.copy()
    table.loc[31, "parent"] = 4242  # Metal's parent: no such genre
    write_genres_csv(table, path)
    with pytest.raises(MetadataError, match=r"genres\.csv, line \d+, row genre_id 31, column parent: 4242 is not a known"):
        read_genres(path)
    # the same error stops the `tracks` asset
    with pytest.raises(Exception, match=r"genres\.csv, line \d+, row genre_id 31, column parent"):
        dg.materialize([tracks_asset], resources={"fma": FmaData(data_dir=str(metadata_root))},
                       instance=dg.DagsterInstance.ephemeral())
    # a cycle (Punk -> Metal -> Punk) passes the id check but not the walk to the root
    table.loc[31, "parent"], table.loc[25, "parent"] = 25, 31
    write_genres_csv(table, path)
    with pytest.raises(MetadataError, match=r"genres\.csv, row genre_id \d+, column parent: broken parent chain"):
        read_genres(path).path_to_root(31)
    table["parent"] = table["parent"].astype(object)
    table.loc[31, "parent"], table.loc[25, "parent"] = "rock", 12
    write_genres_csv(table, path)
    with pytest.raises(MetadataError, match=r"row genre_id 31, column parent: 'rock' is not a known genre id"):
        read_genres(path)


# ---------------------------------------------------------------- 7. security

def test_uis_bind_to_localhost_by_default():
    from fma_pipeline.cli import build_parser

    parser = build_parser()
    for command, port in (("ui", 3000), ("mlflow-ui", 5000)):
        args = parser.parse_args([command])
        assert args.host == "127.0.0.1" and args.port == port


def _tree(folder: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            out[str(path)] = f"-> {os.readlink(path)}"
        elif path.is_file():
            out[str(path)] = path.read_bytes()
    return out


def test_import_never_writes_outside_the_data_root(tmp_path):
    from fma_pipeline.core.fma.importer import import_collection

    src, outside, data = tmp_path / "src", tmp_path / "outside", tmp_path / "data"
    (src / "rock").mkdir(parents=True)
    (src / "jazz" / "deeper").mkdir(parents=True)
    outside.mkdir()
    sf.write(src / "rock" / "song.wav", _music(6, 1), SR)
    sf.write(src / "jazz" / "deeper" / "odd..name.wav", _music(6, 2), SR)
    sf.write(outside / "secret.wav", _music(6, 3), SR)
    (src / "rock" / "escape.wav").symlink_to(outside / "secret.wav")  # a symlink out: content copied in
    (src / "rock" / "loop.wav").symlink_to(src / "rock" / "loop.wav")  # a symlink loop
    (src / "rock" / "dangling.mp3").symlink_to(outside / "missing.mp3")
    (src / "rock" / "up").symlink_to(outside, target_is_directory=True)  # a folder link: not followed
    (src / ".." / "sibling.wav").resolve().write_bytes(b"not in src")
    outside_before, src_before = _tree(outside), _tree(src)
    before = {p for p in tmp_path.rglob("*")}
    report = import_collection(src / ".." / "src", data, "genre-folders")
    new = {p for p in tmp_path.rglob("*")} - before
    assert new and all(p.resolve().is_relative_to(data.resolve()) for p in new)
    assert _tree(outside) == outside_before and _tree(src) == src_before
    skipped = dict(report.skipped)
    assert skipped[str(src.resolve() / "rock" / "loop.wav")] == "not a regular file"
    assert skipped[str(src.resolve() / "rock" / "dangling.mp3")] == "not a regular file"
    assert report.imported == 3  # song, odd..name and the linked file's content
    imported = list((data / "fma_large").rglob("*.wav"))
    assert len(imported) == 3 and not any(p.is_symlink() for p in imported)


#: Likely secrets; the pieces are split so this file does not match itself.
SECRET_PATTERNS = (
    re.compile("AK" + r"IA[0-9A-Z]{16}"),
    re.compile("-----BEGIN [A-Z ]*PRIVATE " + "KEY-----"),
    re.compile(r"(?i)(?:\b|_)(pass(word|wd)?|secret|api[_-]?key|access[_-]?key|token)\b[ \t]*[:=][ \t]*"
               r"(?P<q>['\"]?)(?P<value>[^\s'\"#,)]{4,})(?P=q)"),
    re.compile(r"(?i)(postgres(ql)?|mysql|redis|amqp)://[^:/\s]+:(?P<value>[^@\s]{3,})@"),
)
PLACEHOLDER = re.compile(r"(?i)^(\$\{?\w+|<[^>]*>|change[-_]?me|example\w*|x{3,}|\*{3,}|"
                         r"your[_-]\w+|placeholder|dummy|\{\w*\}|os\.environ|getenv|args\.|None)")


def test_no_secrets_in_committed_files():
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    findings = []
    for name in filter(None, (n.decode() for n in listed)):
        path = REPO / name
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        text = path.read_bytes().decode("utf-8", errors="ignore")
        for pattern in SECRET_PATTERNS:
            for match in pattern.finditer(text):
                value = match.groupdict().get("value")
                if value is not None and (PLACEHOLDER.match(value)  # documented placeholders
                                          or name.endswith(".py") and not match.groupdict().get("q")):
                    continue  # in Python only a quoted literal is a stored secret, not password=args.x
                line = text.count("\n", 0, match.start()) + 1
                findings.append(f"{name}:{line}: {match.group(0)[:60]}")
    assert not findings, "possible secrets in tracked files:\n" + "\n".join(findings)


def test_a_corrupt_numba_cache_is_cleared_and_filled_again(tmp_path, monkeypatch):
    """numba#10128: workers compiling a cold cache at once can leave it crashing every later
    worker; the warm-up detects a crashing cache, clears it and compiles in one process."""
    from fma_pipeline.core.audio import warmup

    cache = tmp_path / "numba"
    (cache / "core_x").mkdir(parents=True)
    (cache / "core_x" / "pitch._pi_wrapper-430.py311.1.nbc").write_bytes(b"mismatched")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(cache))
    outcomes, lines = [(False, "the warm-up worker crashed"), (True, "digest")], []
    monkeypatch.setattr(warmup, "_warm_once", lambda settings: outcomes.pop(0))
    settings = ExtractionSettings(workers=2, numba_cache_dir=cache)
    assert warmup.warm_numba_cache(settings, log=lines.append)
    assert not (cache / "core_x").exists() and warmup._marker(cache).exists()
    assert lines == [f"compiling the feature code once into {cache} (about half a minute; later runs reuse it)",
                     f"numba cache {cache} is unusable (the warm-up worker crashed); clearing it and compiling again"]
    monkeypatch.setattr(warmup, "_warm_once", lambda settings: pytest.fail("marker present: no second warm-up"))
    assert warmup.warm_numba_cache(settings)
