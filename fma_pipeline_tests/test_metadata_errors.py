"""Malformed metadata: one line naming file, line, row and column (issue #16, item 10).

Each case was accepted silently or reported poorly before: a track id ``7.9`` read as 7, a
``genre_top`` unknown to genres.csv crashed the sub-genre step later, a file cut mid-row
lost its last rows, a short row lost its track, ``top_level`` contradicting ``parent`` was
accepted, a non-numeric artist id raised a raw ValueError, extra fields gave a pandas index
error, a Latin-1 byte reported a wrong offset, and messages printed ``np.int64(-5)``.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from fma_pipeline.core.metadata import MetadataError, check_genre_ids, read_genres, read_tracks, write_tracks_csv
from fma_pipeline_tests.test_metadata import _tracks

GENRES = ("genre_id,#tracks,parent,title,top_level\n"
          "12,3,0,Rock,12\n15,1,0,Electronic,15\n21,1,0,Hip-Hop,21\n25,1,12,Punk,12\n811,1,21,Rap,21\n")


@pytest.fixture
def tracks_csv(tmp_path):
    path = tmp_path / "tracks.csv"
    write_tracks_csv(_tracks(), path)  # header lines 1-3; tracks 2, 3, 5 on lines 4, 5-6 (a quoted newline), 7
    return path


def _lines(path):
    return path.read_text(encoding="utf-8").split("\n")


def _edit(path, line: int, old: str, new: str) -> None:
    lines = _lines(path)
    assert old in lines[line - 1], lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_text("\n".join(lines), encoding="utf-8")


def _error(path, reader=read_tracks) -> str:
    with pytest.raises(MetadataError) as caught:
        reader(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message and "np." not in message
    return message


def test_a_fractional_track_id_is_refused(tracks_csv):
    _edit(tracks_csv, 7, "5,", "7.9,")
    assert _error(tracks_csv).endswith("line 7, column track_id: track id 7.9 is not a non-negative whole number")


def test_a_genre_top_unknown_to_genres_csv_is_named(tracks_csv, tmp_path):
    (tmp_path / "genres.csv").write_text(GENRES)
    _edit(tracks_csv, 4, ",Rock,", ",Rokc,")
    with pytest.raises(MetadataError, match=r"line 4, row track_id 2, column \('track', 'genre_top'\): "
                                            r"genre_top 'Rokc' is not a genre title of genres.csv"):
        check_genre_ids(read_tracks(tracks_csv), read_genres(tmp_path / "genres.csv"), tracks_csv)


def test_a_file_cut_mid_row_is_refused(tracks_csv):
    text = tracks_csv.read_text(encoding="utf-8")
    tracks_csv.write_text(text[: text.rindex("Hip-Hop")], encoding="utf-8")  # cut inside the last row
    assert re.search(r"line 7: \d+ fields where the header has 53 \(the file ends here: cut short\?\)",
                     _error(tracks_csv))


def test_a_short_row_is_refused_not_dropped(tracks_csv):
    lines = _lines(tracks_csv)
    lines[3] = ",".join(lines[3].split(",")[:40])  # track 2's row loses its last fields
    tracks_csv.write_text("\n".join(lines), encoding="utf-8")
    assert "line 4: 40 fields where the header has 53 (a short row)" in _error(tracks_csv)


def test_extra_fields_are_refused_with_their_line(tracks_csv):
    _edit(tracks_csv, 7, "5,", "5,surplus,")
    assert "line 7: 54 fields where the header has 53 (extra fields)" in _error(tracks_csv)


def test_top_level_contradicting_the_parent_chain_is_refused(tmp_path):
    path = tmp_path / "genres.csv"
    path.write_text(GENRES.replace("25,1,12,Punk,12", "25,1,12,Punk,21"))
    assert _error(path, read_genres).endswith(
        "line 5, row genre_id 25, column top_level: top_level 21 contradicts the parent chain, which ends at genre 12")


def test_a_non_numeric_artist_id_is_named(tracks_csv):
    frame = _tracks({("artist", "id"): [1, "abc", 2]})
    write_tracks_csv(frame, tracks_csv)
    assert _error(tracks_csv).endswith(
        "line 5, row track_id 3, column ('artist', 'id'): artist id 'abc' is not a whole number")


def test_a_latin1_byte_is_reported_at_its_line_and_offset(tracks_csv):
    raw = tracks_csv.read_bytes()
    tracks_csv.write_bytes(raw.replace(b"c \"\"quoted\"\"", b"caf\xe9", 1))
    line = raw[: raw.index(b"c \"\"quoted")].count(b"\n") + 1
    message = _error(tracks_csv)
    assert f"line {line}: byte 0xe9 at byte " in message and "is not UTF-8" in message
    start = raw.rfind(b"\n", 0, raw.index(b"c \"\"quoted")) + 1
    offset = raw.index(b"c \"\"quoted") - start + 4  # 'caf' then the bad byte
    assert f"at byte {offset} of the line" in message


def test_messages_print_plain_numbers(tmp_path):
    path = tmp_path / "genres.csv"
    path.write_text(GENRES.replace("25,1,12,Punk,12", "25,1,-5,Punk,12"))
    assert _error(path, read_genres).endswith("line 5, row genre_id 25, column parent: -5 is not a known genre id")


def test_the_well_formed_file_still_reads_with_its_lines(tracks_csv):
    tracks = read_tracks(tracks_csv)
    assert list(tracks.index) == [2, 3, 5] and tracks.attrs["lines"] == {2: 4, 3: 5, 5: 7}
    assert tracks[("artist", "id")].dtype == pd.Int64Dtype()
