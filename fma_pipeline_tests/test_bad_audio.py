"""Bad audio on the extraction and tagging paths: each file costs one row with a reason."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fma_pipeline.core.audio.decode import AudioLimits
from fma_pipeline.core.audio.extraction import FILE_COLUMNS, SECONDS_COLUMN, ExtractionSettings, extract_folders
from fma_pipeline.core.audio.features import N_FEATURES, N_FMA_FEATURES, flat_feature_names
from fma_pipeline.core.audio.tagging import TagSettings, tag_files

SR = 22_050


def _music(seconds: float, sr: int = SR, channels: int = 1, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    tone = sum(np.sin(2 * np.pi * f * t) / (i + 1) for i, f in enumerate((220, 277, 330, 440)))
    beat = (np.sin(2 * np.pi * 2 * t) > 0.95) * rng.standard_normal(len(t))
    y = 0.2 * tone + 0.3 * beat + 0.02 * rng.standard_normal(len(t))
    return np.repeat(y[:, None], channels, axis=1).astype(np.float32)


@pytest.fixture(scope="module")
def bad_folder(tmp_path_factory) -> tuple[Path, dict[str, str | None]]:
    """A folder of FMA-named files; value = expected error fragment, None = must succeed."""
    folder = tmp_path_factory.mktemp("bad") / "000"
    folder.mkdir()
    good = _music(8)
    expected: dict[str, str | None] = {}

    def put(tid: int, ext: str, expect: str | None) -> Path:
        path = folder / f"{tid:06d}{ext}"
        expected[path.name] = expect
        return path

    sf.write(put(2, ".mp3", None), _music(8, 44_100, 2), 44_100, format="MP3")
    put(3, ".mp3", "empty file").write_bytes(b"")
    data = (folder / "000002.mp3").read_bytes()
    put(4, ".mp3", "truncated: decoded 0.").write_bytes(data[: len(data) // 10])  # truncated MP3
    put(19, ".mp3", "truncated: decoded 6.").write_bytes(data[: len(data) * 8 // 10])  # truncated, still > 5 s
    sf.write(folder / "000020.wav", good, SR)
    wav = (folder / "000020.wav").read_bytes()
    put(20, ".wav", "truncated: decoded 5.").write_bytes(wav[: len(wav) * 7 // 10])  # RIFF header says 8 s
    os.mkfifo(put(21, ".mp3", "not a regular file (named pipe)"))  # used to hang extraction for ever
    put(5, ".mp3", "not a recognised audio format").write_bytes(np.random.default_rng(1).bytes(50_000))
    put(6, ".mp3", "not a recognised audio format").write_text("this is not audio\n" * 100)
    sf.write(put(7, ".wav", "no audio samples"), np.zeros((0, 1), np.float32), SR)
    sf.write(put(8, ".wav", "silent"), np.zeros((SR * 8, 1), np.float32), SR)
    sf.write(put(9, ".wav", None), good + 0.3, SR, subtype="FLOAT")  # DC offset
    sf.write(put(10, ".wav", None), np.clip(good * 8, -1, 1), SR)  # clipping
    sf.write(put(11, ".wav", "too short"), _music(1), SR)  # a 1-second clip
    sf.write(put(12, ".wav", None), _music(8, 8_000), 8_000)  # 8 kHz mono
    sf.write(put(13, ".flac", None), _music(8, 48_000, 6), 48_000)  # 48 kHz, 6 channels
    sf.write(put(14, ".ogg", None), _music(8, 44_100, 2), 44_100, format="OGG")
    sf.write(put(15, ".wav", None), _music(600, 8_000), 8_000)  # a 10-minute file
    unreadable = put(16, ".wav", "cannot read file")
    sf.write(unreadable, good, SR)
    os.chmod(unreadable, 0)
    loop = put(17, ".mp3", "cannot read file")
    loop.symlink_to(loop)  # a symlink loop
    put(18, ".mp3", "not an FMA track id").write_bytes(b"")  # placeholder, renamed below
    (folder / "000018.mp3").rename(folder / "notes.mp3")
    expected["notes.mp3"] = expected.pop("000018.mp3")
    return folder, expected


def _reason_of(errors: pd.DataFrame, name: str) -> str | None:
    row = errors[errors["name"] == name]
    return None if row.empty else str(row["reason"].iloc[0])


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod-0 file; covered by the symlink loop")
def test_unreadable_file_is_recorded(bad_folder):
    folder, _ = bad_folder
    result = extract_folders({"000": folder}, settings=ExtractionSettings(workers=1))["000"]
    assert "cannot read" in _reason_of(result.errors, "000016.wav")


@pytest.mark.parametrize("workers", [1, 2])
def test_extraction_records_every_bad_file_and_keeps_the_rest(bad_folder, workers):
    folder, expected = bad_folder
    result = extract_folders({"000": folder}, settings=ExtractionSettings(workers=workers))["000"]
    assert result.files == len(expected)
    assert len(result.features) + len(result.errors) == len(expected)
    for name, fragment in expected.items():
        if name == "000016.wav" and os.geteuid() == 0:
            continue
        reason = _reason_of(result.errors, name)
        if fragment is None:
            assert reason is None, f"{name} should extract, got {reason}"
        else:
            assert reason is not None and fragment in reason, f"{name}: {reason!r} lacks {fragment!r}"
    assert np.isfinite(result.features.iloc[:, len(FILE_COLUMNS):].to_numpy(dtype=float)).all()
    seconds = result.features[SECONDS_COLUMN]  # each row says how much audio it describes
    assert seconds[12] == pytest.approx(8.0, abs=0.01) and seconds[15] == pytest.approx(600.0, abs=0.01)
    assert result.errors["exception_class"].str.len().gt(0).all() and result.errors["at"].notna().all()


def test_a_file_deleted_during_the_run_is_recorded(bad_folder, tmp_path):
    folder, _ = bad_folder
    copy = tmp_path / "001"
    copy.mkdir()
    sf.write(copy / "001000.wav", _music(6), SR)
    sf.write(copy / "001001.wav", _music(6, seed=2), SR)
    from fma_pipeline.core.audio import extraction

    original = extraction._plan_folder

    def plan_then_delete(*args, **kwargs):
        plan = original(*args, **kwargs)
        (copy / "001001.wav").unlink()  # gone between listing and decoding
        return plan

    extraction._plan_folder = plan_then_delete
    try:
        result = extract_folders({"001": copy}, settings=ExtractionSettings(workers=1))["001"]
    finally:
        extraction._plan_folder = original
    assert list(result.features.index) == [1000]
    assert "cannot read file" in _reason_of(result.errors, "001001.wav")


@pytest.fixture(scope="module")
def tiny_model():
    """A real fitted classifier over the 708 feature names (random training data)."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.standard_normal((60, N_FEATURES)), columns=list(flat_feature_names()))
    y = np.repeat(["Rock", "Jazz", "Pop"], 20)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(X, y)


def test_a_model_fitted_on_fmas_518_columns_still_tags(bad_folder):
    """A model trained before mfcc_corr existed gets exactly the columns it was fitted on."""
    folder, _ = bad_folder
    names = list(flat_feature_names()[:N_FMA_FEATURES])
    X = pd.DataFrame(np.random.default_rng(1).standard_normal((30, len(names))), columns=names)
    old = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(X, np.repeat(["Rock", "Jazz"], 15))
    row = tag_files(old, [folder / "000002.mp3"], TagSettings()).iloc[0]
    assert row["status"] == "ok" and row["genre"] in {"Rock", "Jazz"}, row.to_dict()


def test_tagging_a_folder_of_mixed_input_gives_a_row_per_file(bad_folder, tiny_model):
    folder, expected = bad_folder
    paths = sorted(folder.iterdir())
    table = tag_files(tiny_model, paths, TagSettings(), workers=2)
    assert len(table) == len(paths)
    by_name = {Path(p).name: row for p, row in zip(table["path"], table.to_dict("records"))}
    for name in ("000002.mp3", "000012.wav", "000013.flac", "000014.ogg", "000015.wav"):
        assert by_name[name]["status"] == "ok", by_name[name]
        assert by_name[name]["genre"] in {"Rock", "Jazz", "Pop"}
    # the same minimum length as extraction (5 s by default): a 1 s clip gets a reason, not a genre
    assert by_name["000011.wav"]["status"] == "error"
    assert by_name["000011.wav"]["reason"] == "too short: 1.00 s < 5 s"
    assert tag_files(tiny_model, [folder / "000011.wav"], TagSettings(limits=AudioLimits(min_seconds=1.0))
                     ).iloc[0]["status"] == "ok"  # unless the caller lowers it (--min-seconds)
    assert by_name["000015.wav"]["windows"] == 20  # a 10-minute file: 20 windows, aggregated
    for name in ("000003.mp3", "000005.mp3", "000006.mp3", "000008.wav", "000017.mp3"):
        assert by_name[name]["status"] == "error" and by_name[name]["reason"], by_name[name]
