"""FMA metadata readers on the real genres.csv and on generated tracks.csv files."""

from __future__ import annotations

import pandas as pd
import pytest

from fma_pipeline.core.fma.layout import audio_path, folder_of, subsets_within, track_id_from_path
from fma_pipeline.core.fma.metadata import (ALL_TRACKS_COLUMNS, MetadataError, check_genre_ids, read_genres,
                                        read_tracks, write_tracks_csv)


def test_real_genres_csv(real_genres_csv):
    tree = read_genres(real_genres_csv)
    assert len(tree.table) == 163
    roots = tree.roots()
    assert len(roots) == 16 and roots[12] == "Rock" and roots[21] == "Hip-Hop"
    assert tree.parent(31) == 12 and tree.title(31) == "Metal"
    # a grand-child walks up to its root
    grandchild = next(g for g in tree.table.index if len(tree.path_to_root(g)) == 3)
    assert tree.path_to_root(grandchild)[-1] == tree.root(grandchild)


def test_track_paths():
    assert folder_of(2) == "000" and folder_of(155320) == "155"
    assert str(audio_path("fma_medium", 2)) == "fma_medium/000/000002.mp3"
    assert track_id_from_path(audio_path("x", 123456)) == 123456
    assert track_id_from_path("notes.mp3") is None
    # Other scripts' digits are not track ids (int() would read "٢٣٤" as 234).
    assert track_id_from_path("000٢٣٤.mp3") is None and track_id_from_path("０００００２.mp3") is None
    assert subsets_within("medium") == ("small", "medium")


def _tracks(overrides: dict | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({
        ("artist", "id"): [1, 1, 2], ("set", "split"): ["training", "training", "test"],
        ("set", "subset"): ["small", "medium", "large"],
        ("track", "genre_top"): ["Rock", None, "Hip-Hop"],
        ("track", "genres"): [[25], [12, 15], [21, 811]],
        ("track", "genres_all"): [[12, 25], [12, 15], [21, 811]],
        ("track", "tags"): [["loud"], [], []],
        ("track", "title"): ["a, with comma", "b\nmultiline", "c \"quoted\""],
    }, index=pd.Index([2, 3, 5], name="track_id"))
    for k, v in (overrides or {}).items():
        frame[k] = v
    return frame


def test_tracks_csv_roundtrip_in_fma_format(tmp_path):
    path = tmp_path / "tracks.csv"
    write_tracks_csv(_tracks(), path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith(",album,album") and lines[1].startswith(",comments,date_created")
    assert lines[2].startswith("track_id,,")
    tracks = read_tracks(path)
    assert list(tracks.columns) == list(ALL_TRACKS_COLUMNS) and len(tracks.columns) == 52
    assert tracks.loc[5, ("track", "genres")] == [21, 811]
    assert tracks.loc[2, ("track", "tags")] == ["loud"]
    assert pd.isna(tracks.loc[3, ("track", "genre_top")])
    assert tracks.loc[3, ("track", "title")] == "b\nmultiline"
    assert list(tracks[("set", "subset")].cat.categories) == ["small", "medium", "large"]


def test_unparsable_list_names_file_row_and_column(tmp_path):
    path = tmp_path / "tracks.csv"
    write_tracks_csv(_tracks(), path)
    path.write_text(path.read_text().replace('"[21, 811]"', '"[21, 811"', 1))
    with pytest.raises(MetadataError, match=r"tracks\.csv, line 7, row track_id 5, column \('track', 'genres'\)"):
        read_tracks(path)


def test_duplicate_ids_and_missing_columns(tmp_path):
    path = tmp_path / "tracks.csv"
    write_tracks_csv(_tracks().rename(index={3: 2}), path)
    with pytest.raises(MetadataError, match="duplicate track id"):
        read_tracks(path)
    pd.DataFrame({("set", "split"): ["training"]}, index=pd.Index([1], name="track_id")).to_csv(path)
    with pytest.raises(MetadataError, match="required column is missing"):
        read_tracks(path)


def test_non_utf8_and_unknown_genres(tmp_path, real_genres_csv):
    path = tmp_path / "tracks.csv"
    write_tracks_csv(_tracks(), path)
    path.write_bytes(path.read_bytes().replace(b"a, with comma", b"caf\xe9"))
    with pytest.raises(MetadataError, match="not UTF-8"):
        read_tracks(path)
    write_tracks_csv(_tracks({("track", "genres"): [[25], [12], [99999]]}), path)
    with pytest.raises(MetadataError, match="unknown genre id 99999"):
        check_genre_ids(read_tracks(path), read_genres(real_genres_csv), path)
