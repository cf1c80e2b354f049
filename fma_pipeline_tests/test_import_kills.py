"""Imports are safe together and after a kill (#22.2): one import at a time per data root, and a
killed import is finished or undone by the next one, so that no audio file is left without its
tracks.csv row and no row points at another clip's audio. Real processes, real SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from fma_pipeline.core.fma.importer import JOURNAL, audit_imports, content_hash, import_collection
from fma_pipeline.core.fma.metadata import read_tracks

SR = 22_050
#: A process that waits for ``go`` (so two start their imports together), then imports.
RUNNER = """
import sys, time
from pathlib import Path
from fma_pipeline.core.fma.importer import import_collection
src, data, go, ready, to_mp3 = sys.argv[1:6]
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.01)
report = import_collection(Path(src), Path(data), "filename-prefix", to_mp3=to_mp3 == "1")
print(report.imported, flush=True)
"""
CLEAN = {"files_without_row": [], "rows_without_file": [], "duplicate_rows": [], "not_its_audio": [],
         "no_manifest_row": [], "pending": []}


def _sources(folder: Path, n: int, seed: int, seconds: float = 4.0) -> Path:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        tone = np.sin(2 * np.pi * rng.uniform(100, 2000) * np.arange(int(SR * seconds)) / SR)
        sf.write(folder / f"{['rock', 'jazz', 'pop'][i % 3]}.{seed:02d}{i:03d}.wav",
                 (0.3 * tone + 0.05 * rng.standard_normal(tone.size)).astype(np.float32), SR)
    return folder


def _start(tmp_path: Path, src: Path, data: Path, name: str, to_mp3: bool) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", RUNNER, str(src), str(data), str(tmp_path / "go"),
                             str(tmp_path / f"ready-{name}"), "1" if to_mp3 else "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _audio_files(data: Path) -> list[Path]:
    return sorted(p for p in data.glob("fma_*/[0-9][0-9][0-9]/*") if not p.name.startswith("."))


def test_two_imports_at_once_keep_every_file_with_its_own_row(tmp_path):
    """Two imports into one root used to both take the same ids: 55 files, 35 rows, 13 rows with
    another clip's audio. Now the second waits for the first, then imports after it."""
    data = tmp_path / "data"
    a, b = _sources(tmp_path / "A", 12, 1), _sources(tmp_path / "B", 12, 2)
    procs = [_start(tmp_path, a, data, "a", True), _start(tmp_path, b, data, "b", True)]
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready-{n}").exists() for n in "ab"):
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.05)
    (tmp_path / "go").touch()
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sorted(int(out.split()[0]) for out, _ in outs) == [12, 12], outs
    assert len(_audio_files(data)) == 24 and len(read_tracks(data / "fma_metadata" / "tracks.csv")) == 24
    assert audit_imports(data) == CLEAN


def test_a_killed_import_is_finished_by_the_next_one(tmp_path):
    """SIGKILL in the middle of ``import --to-mp3`` used to leave MP3s without rows that the
    re-import copied again (108 files for 70 rows). Now the re-import commits what was complete,
    removes what was not, and imports the rest once."""
    data, src = tmp_path / "data", _sources(tmp_path / "S", 16, 3)
    proc = _start(tmp_path, src, data, "k", True)
    (tmp_path / "go").touch()
    deadline = time.monotonic() + 180
    while len(_audio_files(data)) < 4:  # some copies made, the tracks.csv rows not yet written
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    orphans = len(_audio_files(data))
    assert orphans >= 4 and not (data / "fma_metadata" / "tracks.csv").exists()
    report = import_collection(src, data, "filename-prefix", to_mp3=True)
    assert audit_imports(data) == CLEAN
    assert len(_audio_files(data)) == 16 and len(read_tracks(data / "fma_metadata" / "tracks.csv")) == 16
    assert report.finished >= 4 and report.finished + report.imported == 16, report
    again = import_collection(src, data, "filename-prefix", to_mp3=True)
    assert (again.imported, again.already, again.finished, again.undone) == (0, 16, 0, 0)


class _Crash(BaseException):
    """Stands in for a kill at a chosen point, in-process (the journal stays, as after SIGKILL)."""


def test_recovery_removes_a_damaged_copy_and_leaves_a_file_it_did_not_write(tmp_path):
    data, src = tmp_path / "data", _sources(tmp_path / "S", 6, 4, seconds=2.0)
    calls = []

    def crash_after_three(_):
        calls.append(1)
        if len(calls) == 3:
            raise _Crash

    with pytest.raises(_Crash):
        import_collection(src, data, "filename-prefix", progress=crash_after_three)
    journal = data / "fma_metadata" / JOURNAL
    header = json.loads(journal.read_text().splitlines()[0])
    planned = [data / e["target"] for e in header["entries"]]
    assert [p.exists() for p in planned] == [True] * 3 + [False] * 3
    planned[1].write_bytes(b"damaged after its journal line")  # bytes unlike the line's hash: undone
    planned[4].write_bytes(b"a file the import never wrote (no journal line)")  # left alone
    report = import_collection(src, data, "filename-prefix")
    assert (report.finished, report.undone) == (2, 1), report
    foreign = int(planned[4].stem)
    assert planned[4].read_bytes().startswith(b"a file the import never wrote")
    audit = audit_imports(data)
    assert audit == {**CLEAN, "files_without_row": [foreign]}, audit  # the only file without a row: not ours
    tracks = read_tracks(data / "fma_metadata" / "tracks.csv")
    assert len(tracks) == 6 and foreign not in tracks.index
    assert sorted(content_hash(p) for p in src.iterdir()) == sorted(
        content_hash(p) for p in _audio_files(data) if p != planned[4])


def test_a_kill_between_tracks_csv_and_the_manifest_imports_nothing_twice(tmp_path, monkeypatch):
    """The manifest is written after tracks.csv: an import stopped between the two left rows whose
    bytes the manifest did not know, and the next import copied them again."""
    from fma_pipeline.core.fma import importer

    data, src = tmp_path / "data", _sources(tmp_path / "S", 4, 5, seconds=2.0)
    atomic_path = importer.atomic_path

    def stop_at_the_manifest(target):
        if Path(target).name == "imported.csv":  # written after tracks.csv
            raise _Crash
        return atomic_path(target)

    monkeypatch.setattr(importer, "atomic_path", stop_at_the_manifest)
    with pytest.raises(_Crash):
        import_collection(src, data, "filename-prefix")
    monkeypatch.undo()
    assert len(read_tracks(data / "fma_metadata" / "tracks.csv")) == 4
    assert not (data / "fma_metadata" / "imported.csv").exists()
    report = import_collection(src, data, "filename-prefix")
    assert (report.imported, report.already) == (0, 4), report  # it used to import all 4 again
    assert audit_imports(data) == CLEAN and len(_audio_files(data)) == 4 and report.finished == 0
