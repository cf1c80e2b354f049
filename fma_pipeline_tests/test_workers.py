"""The process pool's rules (issue #16, items 2 and 7): workers die with their owner, and no
file can hold a worker, or a folder, for ever."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fma_pipeline.core.audio import extraction, file_worker
from fma_pipeline.core.audio.extraction import ExtractionSettings, extract_folders
from fma_pipeline.core.procfs import stat_fields

SR = 22_050

#: Makes a pool of two workers busy for a minute, prints their pids, then waits.
OWNER = textwrap.dedent("""
    import time
    from fma_pipeline.core.audio.workers import worker_pool

    if __name__ == "__main__":
        pool = worker_pool(2)
        futures = [pool.submit(time.sleep, 60) for _ in range(2)]
        time.sleep(2)
        print(" ".join(str(pid) for pid in pool._processes), flush=True)
        time.sleep(120)
""")


def _alive(pid: int) -> bool:
    fields = stat_fields(pid)
    return fields is not None and fields[0] not in {"Z", "X"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_when_only_the_process_that_made_the_pool_is_killed(tmp_path):
    script = tmp_path / "owner.py"
    script.write_text(OWNER)
    owner = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(pid) for pid in owner.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(pid) for pid in workers)
        owner.send_signal(signal.SIGKILL)  # the owner only, not its process group
        owner.wait(timeout=30)
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers), "workers outlived the killed owner"
    finally:
        owner.kill()


def _stall_in_c_for_file_3() -> None:
    """Pool initializer: decoding 000003 (``decode_for``) blocks with SIGALRM blocked, as a decoder stuck in
    C code that never returns to Python would, so that only the pool's kill can end it."""
    original = file_worker.decode_for

    def decode(path, *args, **kwargs):
        if Path(path).name.startswith("000003"):
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
            time.sleep(3600)
        return original(path, *args, **kwargs)

    file_worker.decode_for = decode


def _stall_in_python_for_file_3() -> None:
    """Pool initializer: decoding 000003 (``decode_for``) sleeps (interruptible): the worker's alarm ends it."""
    original = file_worker.decode_for

    def decode(path, *args, **kwargs):
        if Path(path).name.startswith("000003"):
            time.sleep(3600)
        return original(path, *args, **kwargs)

    file_worker.decode_for = decode


@pytest.fixture
def folder(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    folder = tmp_path / "000"
    folder.mkdir()
    for tid in (2, 3, 4):
        sf.write(folder / f"{tid:06d}.wav", 0.1 * rng.standard_normal(SR * 6).astype(np.float32), SR)
    return folder


@pytest.mark.parametrize(("initializer", "reason"), [
    (_stall_in_python_for_file_3, "took longer than 10 s (stalled decode?)"),
    (_stall_in_c_for_file_3, "no result after 12 s: the stalled worker was killed"),
])
@pytest.mark.timeout(300)
def test_a_stalled_file_is_recorded_and_the_others_extracted(folder, monkeypatch, initializer, reason):
    # numba's functions compiled and cached first (a cold compile on a busy machine takes
    # longer than the short limit used here; the default limit is 300 s)
    extract_folders({"000": folder}, settings=ExtractionSettings(workers=2))
    pool = extraction.worker_pool
    monkeypatch.setattr(extraction, "worker_pool", lambda workers: pool(workers, initializer))
    monkeypatch.setattr(extraction, "KILL_GRACE_SECONDS", 2.0)
    started = time.monotonic()
    result = extract_folders({"000": folder}, settings=ExtractionSettings(workers=2, file_timeout=10.0))["000"]
    assert sorted(result.features.index) == [2, 4]
    row = result.errors.set_index("name").loc["000003.wav"]
    assert row["reason"] == reason and row["exception_class"] == "Timeout"
    assert time.monotonic() - started < 120


@pytest.mark.timeout(120)
def test_a_named_pipe_is_recorded_not_read(folder):
    os.mkfifo(folder / "000005.mp3")  # opening it for reading would block until a writer comes
    for workers in (1, 2):
        result = extract_folders({"000": folder}, settings=ExtractionSettings(workers=workers))["000"]
        assert sorted(result.features.index) == [2, 3, 4]
        assert result.errors["reason"].tolist() == ["not a regular file (named pipe)"]


def test_a_features_table_without_durations_is_reused_not_extracted_again(folder):
    """Tables written before the ``("file", "seconds")`` column: rows reused, duration unknown."""
    from fma_pipeline.core.audio.extraction import SECONDS_COLUMN

    settings = ExtractionSettings(workers=1)
    first = extract_folders({"000": folder}, settings=settings)["000"]
    older = first.features.drop(columns=[SECONDS_COLUMN])
    again = extract_folders({"000": folder}, {"000": (older, first.errors, first.segments)}, settings)["000"]
    assert (again.reused, again.extracted) == (3, 0)
    assert again.features[SECONDS_COLUMN].isna().all()
    assert list(again.features.columns) == list(first.features.columns)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_two_in_process_runs_compiling_one_cold_numba_cache_do_not_crash(tiny_sample, tmp_path):
    """numba#10128 across processes: two runs with one extraction process each (as two Celery
    workers) starting a few seconds apart on a cold shared cache; the second used to die with
    SIGSEGV in 2 of 3 tries. Their first file is now compiled under one lock."""
    import shutil

    root = tmp_path / "root"
    shutil.copytree(tiny_sample, root)
    folders = sorted(p.name for p in (root / "fma_small").iterdir())[:2]
    cli = Path(sys.executable).with_name("fma-pipeline")
    for attempt, delay in enumerate((3, 6)):
        env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / f"numba-{attempt}"), "FMA_EXTRACTION_WORKERS": "1",
               "DAGSTER_HOME": str(root / ".dagster")}
        runs = []
        for folder, wait in zip(folders, (0, delay)):
            time.sleep(wait)
            runs.append(subprocess.Popen([str(cli), "--quiet", "--data-dir", str(root), "materialise", "--partitions",
                                          folder, "--features-only"], env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True))
        for run in runs:
            out, _ = run.communicate(timeout=280)
            assert run.returncode == 0, (attempt, run.returncode, out[-2000:])
        shutil.rmtree(root / "pipeline")
