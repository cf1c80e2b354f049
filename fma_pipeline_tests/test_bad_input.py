"""Bad input, third round (issue #22 items 3-7): each case is one line or one row, nothing lost.

Long WAVs cut on purpose, file names that are not UTF-8, damaged outputs, a full disk,
partition keys that are not folders, a copied data root, and data roots or inputs that are
not what they should be (a file, read-only, a FIFO, a device, a folder).
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from fma_pipeline.core.audio.decode import AudioError, AudioLimits, decode
from fma_pipeline.core.audio.extraction import SECONDS_COLUMN, ExtractionSettings, extract_folders
from fma_pipeline.core.storage import parquet_rows, read_parquet, write_parquet

SR = 8_000  # a 12-minute file stays small (11.5 MB as 16-bit WAV)
BAD_NAME = os.fsdecode(b"047\xff98.wav")  # what Python makes of a name that is not UTF-8


def _music(seconds: float, sr: int = SR, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = 0.2 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.3 * t)) + 0.02 * rng.standard_normal(len(t))
    return y.astype(np.float32)


def _cli(*argv: str) -> tuple[int, str]:
    """The CLI in a subprocess (as a user runs it): exit code and stdout + stderr."""
    out = subprocess.run([sys.executable, "-m", "fma_pipeline.cli", "--quiet", *argv], capture_output=True,
                         text=True, timeout=600, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return out.returncode, out.stdout + out.stderr


def _one_line_error(text: str) -> str:
    assert "Traceback" not in text, text[-3000:]
    lines = [line for line in text.strip().splitlines() if line.startswith("fma-pipeline")]
    assert len(lines) == 1, text[-3000:]
    return lines[0]


# --- 3. a WAV longer than max_seconds is cut on purpose, not truncated ----------------------------

@pytest.fixture(scope="module")
def long_files(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("long") / "000"
    folder.mkdir()
    y = _music(720)
    sf.write(folder / "000001.wav", y, SR)  # 12 minutes, real and whole
    sf.write(folder / "000002.flac", y, SR)
    data = (folder / "000001.wav").read_bytes()
    (folder / "000003.wav").write_bytes(data[: len(data) * 9 // 10])  # header says 720 s, holds 648 s
    return folder


def test_a_whole_wav_longer_than_max_seconds_is_cut_not_called_truncated(long_files):
    for name in ("000001.wav", "000002.flac"):
        assert len(decode(long_files / name, sr=SR)) == 600 * SR  # the middle 10 minutes
    with pytest.raises(AudioError, match=r"truncated: decoded 648\.0 s of the 720\.0 s"):
        decode(long_files / "000003.wav", sr=SR)  # a long WAV really cut short still is
    assert len(decode(long_files / "000001.wav", sr=SR, limits=AudioLimits(max_seconds=800))) == 720 * SR


@pytest.mark.parametrize("max_seconds", [60.0, pytest.param(600.0, marks=pytest.mark.slow)])
def test_extraction_and_predict_keep_a_12_minute_wav(long_files, max_seconds):
    """A 12-minute WAV is longer than the limit (600 s by default; 60 s for speed in the default run)."""
    from sklearn.dummy import DummyClassifier

    from fma_pipeline.core.audio.features import flat_feature_names
    from fma_pipeline.core.audio.tagging import TagSettings, tag_files

    limits = AudioLimits(max_seconds=max_seconds)
    settings = ExtractionSettings(workers=1, segments=None, limits=limits)
    result = extract_folders({"000": long_files}, settings=settings)["000"]
    assert sorted(result.features.index) == [1, 2], result.errors[["name", "reason"]].to_dict("records")
    assert result.features[SECONDS_COLUMN].tolist() == [max_seconds, max_seconds]
    assert result.errors["name"].tolist() == ["000003.wav"]
    assert result.errors["reason"].iloc[0].startswith("truncated")
    X = pd.DataFrame(np.zeros((2, len(flat_feature_names()))), columns=list(flat_feature_names()))
    model = DummyClassifier(strategy="prior").fit(X, ["Rock", "Jazz"])
    table = tag_files(model, [long_files / "000001.wav", long_files / "000003.wav"], TagSettings(limits=limits))
    assert table["status"].tolist() == ["ok", "error"], table[["path", "reason"]].to_dict("records")


@pytest.mark.slow
def test_a_12_minute_mp3_is_cut_and_a_cut_short_one_is_truncated(tmp_path):
    y = _music(720, sr=22_050)
    sf.write(tmp_path / "long.mp3", y, 22_050, format="MP3")
    assert len(decode(tmp_path / "long.mp3")) == 600 * 22_050
    data = (tmp_path / "long.mp3").read_bytes()
    (tmp_path / "cut.mp3").write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(AudioError, match=r"truncated: decoded 43\d\.\d s of the 720\.0 s"):
        decode(tmp_path / "cut.mp3")


# --- 4. a file name that is not UTF-8 costs one row, not the folder -------------------------------

def test_a_name_that_is_not_utf8_is_recorded_and_the_folder_is_written(tmp_path):
    folder = tmp_path / "047"
    folder.mkdir()
    sf.write(folder / "047001.wav", _music(6), SR)
    shutil.copy(folder / "047001.wav", folder / BAD_NAME)
    result = extract_folders({"047": folder}, settings=ExtractionSettings(workers=1))["047"]
    assert list(result.features.index) == [47001]
    row = result.errors.iloc[0]
    assert row["name"] == "047\\xff98.wav" and "not valid UTF-8" in row["reason"], row.to_dict()
    assert "\\xff" in row["path"]
    write_parquet(result.errors, tmp_path / "errors.parquet")  # once: UnicodeEncodeError, no row for any file
    write_parquet(result.features, tmp_path / "features.parquet")
    again = extract_folders({"047": folder}, {"047": (result.features, result.errors, result.segments)},
                            ExtractionSettings(workers=1))["047"]
    assert (again.reused, again.extracted, again.failed) == (1, 0, 1)


def test_tagging_a_folder_with_a_name_that_is_not_utf8_writes_every_row(tmp_path):
    from sklearn.dummy import DummyClassifier

    from fma_pipeline.core.audio.features import flat_feature_names
    from fma_pipeline.core.audio.tagging import TagSettings, tag_files

    sf.write(tmp_path / "good.wav", _music(6), SR)
    shutil.copy(tmp_path / "good.wav", tmp_path / BAD_NAME)
    X = pd.DataFrame(np.zeros((4, len(flat_feature_names()))), columns=list(flat_feature_names()))
    model = DummyClassifier(strategy="prior").fit(X, ["Rock", "Jazz", "Rock", "Jazz"])
    table = tag_files(model, sorted(tmp_path.glob("*.wav")), TagSettings())
    assert table["status"].tolist() == ["ok", "ok"], table[["path", "reason"]].to_dict("records")
    assert str(tmp_path / "047\\xff98.wav") in table["path"].tolist()
    table.drop(columns=["top"]).to_parquet(tmp_path / "tags.parquet")  # once: UnicodeEncodeError
    table.to_csv(tmp_path / "tags.csv")


# --- 5. damaged outputs are named, rebuilt and listed; the machine's failures are retried -------

def test_a_damaged_parquet_file_is_named(tmp_path):
    from fma_pipeline.core.storage import DamagedFile

    path = write_parquet(pd.DataFrame({"a": range(100)}), tmp_path / "047.parquet")
    data = path.read_bytes()
    for damage in (data[: len(data) // 2], data[:-10], b"", b"<html>not parquet</html>" * 20):
        path.write_bytes(damage)
        for read in (read_parquet, parquet_rows):
            with pytest.raises(DamagedFile, match=r"damaged file .*047\.parquet: cannot be read \(Arrow"):
                read(path)
    with pytest.raises(FileNotFoundError):  # missing is not damaged
        read_parquet(tmp_path / "gone.parquet")


@pytest.fixture
def small_root(tiny_sample, tmp_path, monkeypatch) -> Path:
    """A copy of the tiny sample with audio in folders 000 and 003 only; its own Dagster home."""
    root = tmp_path / "root"
    shutil.copytree(tiny_sample, root)
    for folder in (root / "fma_small").iterdir():
        if folder.name not in {"000", "003"}:
            shutil.rmtree(folder)
    monkeypatch.setenv("DAGSTER_HOME", str(root / ".dagster"))
    monkeypatch.setenv("FMA_DATA_DIR", str(root))
    monkeypatch.setenv("FMA_EXTRACTION_WORKERS", "1")  # a handful of clips: no pool to start
    return root


def _main(capsys, *argv: str) -> tuple[int, str]:
    """The CLI in this process (no start-up cost): exit code and stdout + stderr."""
    from fma_pipeline.cli import main

    code = main(["--quiet", *argv])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.slow
def test_a_damaged_output_is_listed_by_the_dry_run_then_rebuilt(small_root, capfd):
    capsys = capfd  # Dagster's console logger writes to the process's stderr
    data = ["--data-dir", str(small_root)]
    code, out = _main(capsys, *data, "materialise", "--partitions", "000,003", "--features-only")
    assert code == 0, out[-3000:]
    output = small_root / "pipeline" / "track_features" / "003.parquet"
    rows = read_parquet(output)
    output.write_bytes(output.read_bytes()[: output.stat().st_size // 2])

    code, out = _main(capsys, *data, "backfill", "--failed", "--dry-run")
    assert code == 0 and out.splitlines()[0].startswith(
        "003  output damaged: pipeline/track_features/003.parquet cannot be read (ArrowInvalid"), out

    code, out = _main(capsys, *data, "materialise", "--partitions", "003", "--features-only")
    assert code == 0, out[-3000:]
    named = [line for line in out.splitlines() if "damaged file" in line]
    assert len(named) == 1 and "003.parquet" in named[0] and "extracted again" in named[0], out[-3000:]
    pd.testing.assert_frame_equal(read_parquet(output).drop(columns=["file"], level=0),
                                  rows.drop(columns=["file"], level=0))
    code, out = _main(capsys, *data, "backfill", "--failed", "--dry-run")
    assert out.strip() == "nothing to backfill", out


def test_a_dropped_segment_table_of_a_folder_without_audio_is_rewritten(tmp_path):
    """Found by bench/soak.py: a damaged segment file of an empty folder stayed damaged (nothing to decode)."""
    from fma_pipeline.core.audio.extraction import empty_errors, empty_features

    folder = tmp_path / "057"
    folder.mkdir()
    result = extract_folders({"057": folder}, {"057": (empty_features(), empty_errors(), None)},
                             ExtractionSettings(workers=1))["057"]
    assert result.changed


def test_an_error_row_of_a_full_disk_is_retried_not_carried_forever(tmp_path):
    """Rows that blamed a good file for the machine (as stored before this was told apart) are retried."""
    folder = tmp_path / "000"
    folder.mkdir()
    sf.write(folder / "000001.wav", _music(6), SR)
    first = extract_folders({"000": folder}, settings=ExtractionSettings(workers=1))["000"]
    st = (folder / "000001.wav").stat()
    for reason, exc_class in (("cannot read file: No space left on device", "OSError"),
                              ("not the file's fault, retried next run: Input/output error", "MachineError")):
        errors = pd.DataFrame([{"track_id": 1, "folder": "000", "name": "000001.wav", "path": str(folder),
                                "reason": reason, "exception_class": exc_class, "at": "2026-12-04T00:00:00+00:00",
                                "size": st.st_size, "mtime_ns": st.st_mtime_ns}]).astype({"track_id": "Int64"})
        again = extract_folders({"000": folder}, {"000": (first.features.iloc[:0], errors, None)},
                                ExtractionSettings(workers=1))["000"]
        assert (again.extracted, again.failed) == (1, 0), again.errors.to_dict("records")


def test_failures_of_the_machine_are_told_apart_from_the_files(tmp_path):
    from fma_pipeline.core.audio.file_worker import MACHINE_ERROR, extract_file as _extract_file
    from fma_pipeline.core.audio.features import FeatureConfig
    from fma_pipeline.core.failures import machine_errno, machine_failure

    with pytest.raises(OSError) as full:  # a real ENOSPC: the kernel's /dev/full
        with open("/dev/full", "wb") as handle:
            handle.write(b"x")
    assert machine_errno(full.value) == errno.ENOSPC
    assert machine_failure(full.value) == "No space left on device"
    db = tmp_path / "x.db"
    sqlite3.connect(db).execute("create table t (a)").connection.commit()
    with pytest.raises(sqlite3.OperationalError) as readonly:  # a real read-only SQLite database
        sqlite3.connect(f"file:{db}?mode=ro", uri=True).execute("insert into t values (1)")
    assert machine_failure(readonly.value) == "the database is read-only (SQLite: attempt to write a readonly database)"
    try:
        raise AudioError("cannot read file: No space left on device", "OSError") from full.value
    except AudioError as wrapped:
        assert machine_errno(wrapped) == errno.ENOSPC
    assert machine_failure(ValueError("bad bytes")) is None
    # a file's own OSError stays the file's: /dev/full is not a regular file
    ok, _, reason, exc_class, _ = _extract_file("/dev/full", FeatureConfig(), AudioLimits())
    assert not ok and exc_class != MACHINE_ERROR and reason == "not a regular file (character device)"


def _mount_tmpfs(where: Path, size: str) -> None:
    where.mkdir(parents=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a small tmpfs to fill (needs root): {done.stderr.strip()}")


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_full_disk_ends_in_one_line_and_the_next_run_finishes(small_root, tmp_path, monkeypatch):
    """On a real full filesystem (a small tmpfs): one line, old outputs intact, then recovery."""
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "40m")
    try:
        root = disk / "root"
        shutil.copytree(small_root, root, ignore=shutil.ignore_patterns(".dagster"))
        monkeypatch.setenv("DAGSTER_HOME", str(root / ".dagster"))
        data = ["--data-dir", str(root)]
        code, out = _cli(*data, "materialise", "--partitions", "000", "--features-only")
        assert code == 0, out[-3000:]
        before = read_parquet(root / "pipeline" / "track_features" / "000.parquet")
        for clip in (root / "fma_small" / "003").iterdir():
            os.utime(clip)  # changed: decoded again
        filler = disk / "filler"
        with open(filler, "wb") as handle:  # fill the disk to the last byte
            with pytest.raises(OSError) as full:
                while True:
                    handle.write(b"\0" * (1 << 20))
                    handle.flush()
        assert full.value.errno == errno.ENOSPC
        code, out = _cli(*data, "materialise", "--partitions", "000-003", "--features-only")
        assert code != 0
        line = _one_line_error(out)
        # where the run stops first decides the words (a Parquet write, or SQLite's journal: "disk I/O error")
        assert any(w in line for w in ("No space left on device", "disk is full", "disk I/O error")), line
        assert "(0 MB free on the data root's disk)" in line, line
        pd.testing.assert_frame_equal(read_parquet(root / "pipeline" / "track_features" / "000.parquet"), before)
        filler.unlink()
        code, out = _cli(*data, "materialise", "--partitions", "000-003", "--features-only")
        assert code == 0, out[-3000:]
        for key in ("000", "003"):
            errors = read_parquet(root / "pipeline" / "track_feature_errors" / f"{key}.parquet")
            machine = errors[errors["reason"].str.contains("space|fault", regex=True)]
            assert machine.empty, machine.to_dict("records")
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


# --- 6. --partitions says what it understood, a copied root keeps its own runs ------------------

@pytest.mark.parametrize("spec, message", [
    ("47", "47 is not a folder: did you mean 047?"),
    ("020-010", "020-010 is not a range: 020 comes after 010; did you mean 010-020?"),
    ("abc", "'abc' is not a folder or a range"),
    ("156", "156 is not a folder: FMA's folders are 000-155"),
    ("010...020", "did you mean 010-020?"),
    ("001,,005", "an empty item"),
    ("", "an empty item"),
])
def test_partitions_that_are_not_folders_are_refused_saying_what_was_meant(spec, message):
    from fma_pipeline.orchestration.backfill import parse_partitions

    with pytest.raises(ValueError, match=None) as refused:
        parse_partitions(spec)
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_folders_ranges_and_lists_are_read_as_written():
    from fma_pipeline.orchestration.backfill import parse_partitions

    assert parse_partitions("047") == ["047"]
    assert parse_partitions("001,005") == ["001", "005"]
    assert parse_partitions(" 010-012 , 003 ") == ["003", "010", "011", "012"]
    assert parse_partitions("155-155") == ["155"] and len(parse_partitions(None)) == 156


def test_materialise_refuses_a_partition_that_is_not_a_folder_before_running_anything(tmp_path, capsys):
    from fma_pipeline.cli import main

    root = tmp_path / "empty-root"
    with pytest.raises(SystemExit) as refused:
        main(["--quiet", "--data-dir", str(root), "materialise", "--partitions", "47", "--features-only"])
    assert str(refused.value) == ("fma-pipeline materialise: --partitions 47: 47 is not a folder: did you mean 047? "
                                  "(expected a folder 000-155, a range such as 010-020, or a comma list such as "
                                  "001,005-007)")
    assert not root.exists()  # nothing ran, nothing was written


def test_a_copied_data_root_keeps_its_runs_in_its_own_storage(tmp_path, monkeypatch):
    import dagster as dg

    from fma_pipeline.orchestration.instance import dagster_home

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "placeholder"))
    original = tmp_path / "original"
    dagster_home(original)
    with dg.DagsterInstance.get() as instance:
        assert str(original / ".dagster" / "storage") in str(instance.run_storage._conn_string)
    config = original / ".dagster" / "dagster.yaml"
    config.write_text(config.read_text().replace("max_concurrent_runs: 2", "max_concurrent_runs: 3"))  # an edit
    copy = tmp_path / "copy"
    shutil.copytree(original, copy)
    said: list[str] = []
    home = dagster_home(copy, echo=said.append)
    text = (home / "dagster.yaml").read_text()
    assert f"base_dir: {copy / '.dagster' / 'storage'}\n" in text and str(original) not in text
    assert "max_concurrent_runs: 3" in text  # the user's edit is kept
    assert len(said) == 1 and "another data root's Dagster storage" in said[0]
    with dg.DagsterInstance.get() as instance:
        assert str(copy / ".dagster" / "storage") in str(instance.run_storage._conn_string)
    dagster_home(copy, echo=said.append)
    assert len(said) == 1  # once


# --- 7. one line where a traceback was --------------------------------------------------------

def test_a_data_root_that_is_a_file_is_one_line(tmp_path, monkeypatch):
    from fma_pipeline.cli import main

    not_a_folder = tmp_path / "data.txt"
    not_a_folder.write_text("oops")
    monkeypatch.setenv("FMA_DATA_DIR", str(not_a_folder))
    with pytest.raises(SystemExit) as refused:
        main(["--quiet", "backfill", "--failed", "--dry-run"])
    assert str(refused.value) == (f"fma-pipeline backfill: the data root {not_a_folder} ($FMA_DATA_DIR or the "
                                  "default ./data) is a file, not a folder")


def _read_only_bind(source: Path, where: Path) -> None:
    where.mkdir()
    if os.geteuid() != 0:
        shutil.rmtree(where)
        shutil.copytree(source, where)
        where.chmod(0o555)
        return
    for argv in (["mount", "--bind", str(source), str(where)], ["mount", "-o", "remount,bind,ro", str(where)]):
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode:
            subprocess.run(["umount", str(where)], capture_output=True)
            pytest.skip(f"running as root, which ignores permissions, and cannot bind-mount read-only: "
                        f"{done.stderr.strip()}")


def test_a_read_only_data_root_is_one_line(small_root, tmp_path):
    from fma_pipeline.cli import main

    read_only = tmp_path / "ro"
    _read_only_bind(small_root, read_only)
    try:
        for argv in (["materialise", "--partitions", "000", "--features-only"], ["predict", str(small_root)]):
            with pytest.raises(SystemExit) as refused:
                main(["--quiet", "--data-dir", str(read_only), *argv])
            assert f"the data root {read_only} is read-only" in str(refused.value)
            assert "\n" not in str(refused.value)
    finally:
        if os.geteuid() == 0:
            subprocess.run(["umount", str(read_only)], capture_output=True)
        else:
            read_only.chmod(0o755)


def test_predict_says_what_a_fifo_a_device_and_a_folder_are(tmp_path):
    from fma_pipeline.core.audio.tagging import TagSettings, tag_files

    os.mkfifo(tmp_path / "pipe.mp3")
    model = None  # never reached: none of these is audio
    table = tag_files(model, [tmp_path / "pipe.mp3", "/dev/zero", tmp_path], TagSettings())
    assert table["reason"].tolist() == ["not a regular file (named pipe)", "not a regular file (character device)",
                                        "not a regular file (directory)"]
