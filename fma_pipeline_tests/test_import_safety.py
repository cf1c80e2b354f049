"""``fma-pipeline import`` never overwrites audio, keeps non-Latin genre names apart, and
imports a second collection whose paths repeat the first's (issue #16, items 3-5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import soundfile as sf

from fma_pipeline.core.fma.importer import MANIFEST, content_hash, import_collection, normalise
from fma_pipeline.core.fma.metadata import check_genre_ids, read_genres, read_tracks

SR = 22_050


def _clip(path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sf.write(path, (0.1 * rng.standard_normal(SR * 6)).astype(np.float32), SR)


def test_an_existing_file_is_never_overwritten_without_tracks_csv(tmp_path):
    data = tmp_path / "data"
    existing = data / "fma_large" / "000" / "000002.mp3"
    existing.parent.mkdir(parents=True)
    existing.write_bytes(b"an FMA clip already here")
    (data / "fma_large" / "000" / "000005.wav").write_bytes(b"another, with another extension")
    _clip(tmp_path / "src" / "jazz" / "x.wav", 1)
    _clip(tmp_path / "src" / "jazz" / "y.wav", 2)
    report = import_collection(tmp_path / "src", data)
    assert report.imported == 2
    assert existing.read_bytes() == b"an FMA clip already here"
    assert (data / "fma_large" / "000" / "000005.wav").read_bytes() == b"another, with another extension"
    assert sorted(read_tracks(data / "fma_metadata" / "tracks.csv").index) == [6, 7]  # after every id on disk


def test_genre_names_in_other_scripts_stay_distinct(tmp_path):
    for i, name in enumerate(("ロック", "ジャズ", "Русский рок", "ＨＩＰ－ＨＯＰ")):
        _clip(tmp_path / "src" / name / "a.wav", i)
    report = import_collection(tmp_path / "src", tmp_path / "data")
    assert report.imported == 4
    assert report.genres["ＨＩＰ－ＨＯＰ"] == "Hip-Hop"  # full-width letters match FMA's genre
    assert len({report.genres[n] for n in ("ロック", "ジャズ", "Русский рок")}) == 3
    genres = read_tracks(tmp_path / "data" / "fma_metadata" / "tracks.csv")[("track", "genre_top")]
    assert genres.nunique() == 4
    assert normalise("Русский рок") == "русскийрок" and normalise("Hip-Hop") == normalise("hip hop") == "hiphop"
    assert normalise("रॉक") != normalise("रक")  # a vowel sign is a combining mark, not punctuation


def test_a_label_without_letters_is_skipped_with_its_reason(tmp_path):
    _clip(tmp_path / "src" / "---" / "a.wav", 1)
    report = import_collection(tmp_path / "src", tmp_path / "data")
    assert report.imported == 0
    assert report.skipped == [("---/a.wav", "genre label '---' has no letters or digits")]


def test_a_second_collection_with_the_same_relative_paths_is_imported(tmp_path):
    _clip(tmp_path / "S1" / "rock" / "my song.wav", 1)
    _clip(tmp_path / "S2" / "rock" / "my song.wav", 2)  # same relative path, other music
    data = tmp_path / "data"
    assert import_collection(tmp_path / "S1", data).imported == 1
    second = import_collection(tmp_path / "S2", data)
    assert (second.imported, second.already) == (1, 0)
    again = import_collection(tmp_path / "S2", data)  # the same bytes again: nothing new
    assert (again.imported, again.already) == (0, 1)
    manifest = pd.read_csv(data / "fma_metadata" / MANIFEST)
    assert list(manifest["sha1"]) == [content_hash(tmp_path / s / "rock" / "my song.wav") for s in ("S1", "S2")]
    assert list(manifest["source"]) == ["rock/my song.wav"] * 2


def test_a_manifest_of_an_earlier_version_is_still_honoured(tmp_path):
    _clip(tmp_path / "S1" / "rock" / "a.wav", 1)
    data = tmp_path / "data"
    import_collection(tmp_path / "S1", data)
    path = data / "fma_metadata" / MANIFEST
    pd.read_csv(path)[["source", "track_id"]].to_csv(path, index=False)  # as earlier versions wrote it
    again = import_collection(tmp_path / "S1", data)
    assert (again.imported, again.already) == (0, 1)


def _as_earlier_version(data) -> None:
    """Rewrite the manifest as earlier versions wrote it: ``source,track_id``, keyed by path."""
    path = data / "fma_metadata" / MANIFEST
    pd.read_csv(path)[["source", "track_id"]].to_csv(path, index=False)


def test_an_earlier_manifest_does_not_block_a_second_collection_at_the_same_paths(tmp_path):
    _clip(tmp_path / "S1" / "rock" / "my song.wav", 1)
    _clip(tmp_path / "S2" / "rock" / "my song.wav", 2)
    data = tmp_path / "data"
    import_collection(tmp_path / "S1", data)
    _as_earlier_version(data)
    second = import_collection(tmp_path / "S2", data)  # the WAV copy's bytes identify S1's row
    assert (second.imported, second.already) == (1, 0)
    assert pd.read_csv(data / "fma_metadata" / MANIFEST)["sha1"].notna().all()  # the old row got its hash
    again = import_collection(tmp_path / "S1", data)
    assert (again.imported, again.already) == (0, 1)


def test_an_earlier_manifest_of_converted_copies_still_matches_by_path(tmp_path):
    _clip(tmp_path / "S1" / "rock" / "a.wav", 1)
    data = tmp_path / "data"
    import_collection(tmp_path / "S1", data, to_mp3=True)
    _as_earlier_version(data)
    _clip(tmp_path / "S1" / "jazz" / "b.wav", 2)  # a new file makes this run rewrite the manifest
    first = import_collection(tmp_path / "S1", data, to_mp3=True)
    assert (first.imported, first.already) == (1, 1)  # the MP3 copy has other bytes: a.wav is known by its path
    second = import_collection(tmp_path / "S1", data, to_mp3=True)
    assert (second.imported, second.already) == (0, 2)  # and still is once the manifest was rewritten


def test_a_label_matching_a_sub_genre_keeps_it_as_its_class_with_the_root_in_genres_all(tmp_path):
    _clip(tmp_path / "src" / "metal" / "a.wav", 1)
    report = import_collection(tmp_path / "src", tmp_path / "data")
    assert report.genres == {"metal": "Metal"}
    meta = tmp_path / "data" / "fma_metadata"
    tracks = read_tracks(meta / "tracks.csv")
    row = tracks.iloc[0]
    assert row[("track", "genre_top")] == "Metal" and row[("track", "genres")] == [31]
    assert sorted(row[("track", "genres_all")]) == [12, 31]
    check_genre_ids(tracks, read_genres(meta / "genres.csv"), meta / "tracks.csv")  # what materialise checks
