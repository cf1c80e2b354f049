"""Malformed metadata: one line naming file, line (row), row id and column (issue #16, item 10).

Each case was accepted silently or reported poorly before: (a) a track id ``7.9`` read as 7,
(b) a ``genre_top`` unknown to genres.csv crashed the sub-genre step later, (c) a file cut
mid-row lost its last rows, (d) a short row lost its track, (e) ``top_level`` contradicting
``parent`` was accepted, (f) a non-numeric artist id raised a raw ValueError, (g) extra
fields gave a pandas index error, (h) a Latin-1 byte reported a wrong offset, and (i)
messages printed ``np.int64(-5)``. The rest guard the same rule at its edges (ids too large
to be int64, a cut inside a quoted field, a very long field, a loop of parents).

Rows are named ``line N`` (the 1-based line of the file, header lines included); the small
tracks.csv below holds tracks 2, 3 and 5 on lines 4, 5-6 (a quoted newline) and 7.
"""

from __future__ import annotations

import pandas as pd
import pytest

from fma_pipeline.core.fma.metadata import MetadataError, check_genre_ids, read_genres, read_tracks, write_tracks_csv
from fma_pipeline_tests.test_metadata import _tracks

GENRES = ("genre_id,#tracks,parent,title,top_level\n"
          "12,3,0,Rock,12\n15,1,0,Electronic,15\n21,1,0,Hip-Hop,21\n25,1,12,Punk,12\n811,1,21,Rap,21\n")


@pytest.fixture
def tracks_csv(tmp_path):
    path = tmp_path / "tracks.csv"
    write_tracks_csv(_tracks(), path)
    return path


def _lines(path):
    return path.read_text(encoding="utf-8").split("\n")


def _edit(path, line: int, old: str, new: str) -> None:
    lines = _lines(path)
    assert old in lines[line - 1], lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path.write_text("\n".join(lines), encoding="utf-8")


def _error(path, reader=read_tracks) -> str:
    """The message of the MetadataError ``reader(path)`` raises, after the checks every message passes."""
    with pytest.raises(MetadataError) as caught:
        reader(path)
    message = str(caught.value)
    assert message.startswith(f"{path}, line ") and "\n" not in message and "np." not in message
    return message.removeprefix(f"{path}, ")


def test_a_fractional_track_id_is_refused(tracks_csv):
    _edit(tracks_csv, 7, "5,", "7.9,")
    assert _error(tracks_csv) == "line 7, column track_id: track id 7.9 is not a whole number from 0 to 2**63 - 1"


def test_b_a_genre_top_unknown_to_genres_csv_is_named(tracks_csv, tmp_path):
    (tmp_path / "genres.csv").write_text(GENRES)
    _edit(tracks_csv, 4, ",Rock,", ",Rokc,")
    with pytest.raises(MetadataError) as caught:
        check_genre_ids(read_tracks(tracks_csv), read_genres(tmp_path / "genres.csv"), tracks_csv)
    assert str(caught.value) == (f"{tracks_csv}, line 4, row track_id 2, column ('track', 'genre_top'): "
                                 "genre_top 'Rokc' is not a genre title of genres.csv")


def test_c_a_file_cut_mid_row_is_refused(tracks_csv):
    text = tracks_csv.read_text(encoding="utf-8")
    tracks_csv.write_text(text[: text.rindex("Hip-Hop")], encoding="utf-8")  # cut inside the last row
    assert _error(tracks_csv) == ("line 7, column ('track', 'genres'): 41 fields where the header has 53; "
                                  "the row stops before this column (the file ends here: cut short?)")


def test_d_a_short_row_is_refused_not_dropped(tracks_csv):
    lines = _lines(tracks_csv)
    lines[3] = ",".join(lines[3].split(",")[:40])  # track 2's row loses its last fields
    tracks_csv.write_text("\n".join(lines), encoding="utf-8")
    assert _error(tracks_csv) == ("line 4, column ('track', 'genre_top'): 40 fields where the header has 53; "
                                  "the row stops before this column (a short row)")


def test_e_top_level_contradicting_the_parent_chain_is_refused(tmp_path):
    path = tmp_path / "genres.csv"
    path.write_text(GENRES.replace("25,1,12,Punk,12", "25,1,12,Punk,21"))
    assert _error(path, read_genres) == ("line 5, row genre_id 25, column top_level: "
                                         "top_level 21 contradicts the parent chain, which ends at genre 12")


def test_f_a_non_numeric_artist_id_is_named(tracks_csv):
    write_tracks_csv(_tracks({("artist", "id"): [1, "abc", 2]}), tracks_csv)
    assert _error(tracks_csv) == ("line 5, row track_id 3, column ('artist', 'id'): "
                                  "artist id 'abc' is not a whole number from 0 to 2**63 - 1")


def test_g_extra_fields_are_refused_with_their_line(tracks_csv):
    _edit(tracks_csv, 7, "5,", "5,surplus,")
    assert _error(tracks_csv) == "line 7, column 54: 54 fields where the header has 53 (extra fields)"


def test_h_a_latin1_byte_is_reported_at_its_line_column_and_offset(tracks_csv):
    raw = tracks_csv.read_bytes()
    at = raw.index(b'c ""quoted')  # track 5's title, on line 7
    tracks_csv.write_bytes(raw.replace(b'c ""quoted', b"caf\xe9", 1))
    offset = at - (raw.rfind(b"\n", 0, at) + 1) + 4  # 1-based: 'caf', then the bad byte
    assert _error(tracks_csv) == (f"line 7, column ('track', 'title'): byte 0xe9 at byte {offset} of the line "
                                  "is not UTF-8 (save the file as UTF-8)")


def test_i_messages_print_plain_numbers(tmp_path, tracks_csv):
    path = tmp_path / "genres.csv"
    path.write_text(GENRES.replace("25,1,12,Punk,12", "25,1,-5,Punk,12"))
    assert _error(path, read_genres) == "line 5, row genre_id 25, column parent: -5 is not a known genre id"
    _edit(tracks_csv, 7, "5,", "-5,")
    assert _error(tracks_csv) == "line 7, column track_id: track id -5 is not a whole number from 0 to 2**63 - 1"


def test_ids_too_large_for_int64_are_refused_not_wrapped(tracks_csv):
    _edit(tracks_csv, 7, "5,", "99999999999999999999,")  # once read as -9223372036854775808
    assert _error(tracks_csv).startswith("line 7, column track_id: track id '99999999999999999999' is not")
    write_tracks_csv(_tracks({("artist", "id"): [1, "inf", 2]}), tracks_csv)  # once a raw OverflowError
    assert _error(tracks_csv).startswith("line 5, row track_id 3, column ('artist', 'id'): artist id inf is not")


def test_a_file_cut_inside_a_quoted_last_field_is_refused(tracks_csv):
    text = tracks_csv.read_text(encoding="utf-8")
    tracks_csv.write_text(text[: text.index("b\nmultiline") + 2], encoding="utf-8")  # inside track 3's title
    assert _error(tracks_csv) == ("line 5, column ('track', 'title'): the file ends inside a quoted field "
                                  "that starts in this row (cut short?)")


def test_a_parent_loop_names_the_file_and_genre(tmp_path):
    path = tmp_path / "genres.csv"
    path.write_text(GENRES + "26,1,27,Loop A,12\n27,1,26,Loop B,12\n")
    with pytest.raises(MetadataError) as caught:
        read_genres(path)
    assert str(caught.value) == (f"{path}, row genre_id 26, column parent: "
                                 "broken parent chain from genre 26 (line 7): 26 -> 27 -> 26 is a cycle")


def test_the_well_formed_file_still_reads_with_its_lines(tracks_csv):
    long_bio = "x" * 200_000  # above the csv module's default field limit
    write_tracks_csv(_tracks({("artist", "bio"): [long_bio, None, None]}), tracks_csv)
    tracks = read_tracks(tracks_csv)
    assert list(tracks.index) == [2, 3, 5] and tracks.attrs["lines"] == {2: 4, 3: 5, 5: 7}
    assert tracks[("artist", "id")].dtype == pd.Int64Dtype() and tracks.at[2, ("artist", "bio")] == long_bio
    assert tracks.at[2, ("track", "tags")] is not tracks.at[3, ("track", "tags")]  # parsed once, copied per row
