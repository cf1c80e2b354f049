"""Property-based tests of the metadata readers and a bounded fuzz of audio decoding.

- Random tracks tables written with ``write_tracks_csv`` (titles with commas, quotes,
  newlines, unicode; random int lists; random splits and subsets) read back equal.
- Random garbage in a list column is a ``MetadataError`` naming the row and column,
  never another exception.
- ``core.audio.decode`` on mutated MP3/WAV bytes (bit flips, truncations, random
  headers) raises only ``AudioError`` or returns a finite array: 10 examples by
  default, 1,000 with ``-m slow``.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fma_pipeline.core.audio.decode import AudioError, AudioLimits, decode
from fma_pipeline.core.fma.metadata import LIST_COLUMNS, SPLITS, MetadataError, read_tracks, write_tracks_csv

PROPERTY = settings(max_examples=40, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

#: Text as users write it: commas, quotes, newlines, tabs, unicode; no surrogates or NULs.
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=30)
TEXT_SPICY = st.one_of(TEXT, st.sampled_from(['a, b', '"quoted"', 'line\nbreak', 'café ♫ 音楽', "it's",
                                              "[1, 2]", "  padded  ", "NA", "null", "1.50", "007"]))
INT_LISTS = st.lists(st.integers(0, 2**31), max_size=5)


@st.composite
def tracks_tables(draw) -> pd.DataFrame:
    ids = draw(st.lists(st.integers(0, 999_999), min_size=1, max_size=8, unique=True))
    n = len(ids)
    column = lambda strategy: draw(st.lists(strategy, min_size=n, max_size=n))  # noqa: E731
    return pd.DataFrame({
        ("artist", "id"): column(st.integers(0, 10**6)),
        ("set", "split"): column(st.sampled_from(SPLITS)),
        ("set", "subset"): column(st.sampled_from(["small", "medium", "large"])),
        ("track", "genre_top"): column(st.one_of(st.none(), st.sampled_from(["Rock", "Hip-Hop", "Old-Time / Historic"]))),
        ("track", "genres"): column(INT_LISTS),
        ("track", "genres_all"): column(INT_LISTS),
        ("track", "tags"): column(st.lists(TEXT, max_size=3)),
        ("track", "title"): column(st.one_of(st.none(), TEXT_SPICY)),
        ("album", "title"): column(st.one_of(st.none(), TEXT_SPICY)),
    }, index=pd.Index(ids, name="track_id"))


def _same(a, b) -> bool:
    missing = lambda v: v is None or (isinstance(v, float) and np.isnan(v))  # noqa: E731
    return (missing(a) and missing(b)) or a == b


@PROPERTY
@given(table=tracks_tables())
def test_random_tracks_tables_round_trip(tmp_path_factory, table):
    path = tmp_path_factory.mktemp("rt") / "tracks.csv"
    write_tracks_csv(table, path)
    back = read_tracks(path)
    assert list(back.index) == list(table.index)
    for column in table.columns:
        for tid in table.index:
            want, got = table.at[tid, column], back.at[tid, column]
            if column in LIST_COLUMNS:
                assert got == list(want), (tid, column)
            elif column == ("track", "title") or column == ("album", "title"):
                # an empty title is written as an empty cell: read back as missing
                assert _same(None if want == "" else want, got), (tid, column, want, got)
            else:
                assert _same(want, got), (tid, column, want, got)


GARBAGE = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["[1, 2", "[", "]", "{1: 2}", "1", "'x'", "[1,,2]", "(1, 2", "[[[[", "None",
                     "__import__('os')", "lambda: 1", "[1] + [2]", "1e400", "\\x00", "[" * 200]),
)


def _is_accepted_list_literal(text: str) -> bool:
    import ast

    try:
        return isinstance(ast.literal_eval(text), (list, tuple))
    except Exception:  # noqa: BLE001 - anything literal_eval rejects is garbage here
        return False


@PROPERTY
@given(garbage=GARBAGE, row=st.integers(0, 2), which=st.sampled_from(LIST_COLUMNS))
def test_garbage_in_a_list_column_names_the_row_and_column(tmp_path_factory, garbage, row, which):
    assume("\x00" not in garbage and "\r" not in garbage)
    assume(garbage.strip() != "" and not _is_accepted_list_literal(garbage.strip()))
    table = pd.DataFrame({
        ("artist", "id"): [1, 2, 3], ("set", "split"): ["training"] * 3, ("set", "subset"): ["small"] * 3,
        ("track", "genre_top"): ["Rock"] * 3, ("track", "genres"): [[12]] * 3, ("track", "genres_all"): [[12]] * 3,
    }, index=pd.Index([2, 3, 5], name="track_id"))
    path = tmp_path_factory.mktemp("garbage") / "tracks.csv"
    write_tracks_csv(table, path)
    raw = pd.read_csv(path, index_col=0, header=[0, 1], dtype=str, keep_default_na=False)
    raw.loc[raw.index[row], which] = garbage
    raw.to_csv(path)
    tid = table.index[row]
    try:
        read_tracks(path)
    except MetadataError as exc:
        assert str(path) in str(exc)
        assert f"row track_id {tid}, column {which}" in str(exc) or re.search(r"column \(", str(exc)), str(exc)
        return
    # accepted only when pandas turned the cell into an empty / missing value
    assert garbage.strip() in ("nan", "NaN", "NA", "N/A", "n/a", "null", "NULL", "None", "#N/A") or \
        garbage.strip().lower() in ("nan", "-nan", "<na>", "1.#ind", "1.#qnan", "-1.#ind", "-1.#qnan"), garbage


# ---------------------------------------------------------------- audio decoding fuzz

def _seed_files() -> dict[str, bytes]:
    sr = 22_050
    t = np.arange(6 * sr) / sr
    y = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.random.default_rng(0).standard_normal(len(t)))
    out = {}
    for fmt, subtype in (("WAV", "PCM_16"), ("MP3", "MPEG_LAYER_III"), ("FLAC", "PCM_16")):
        buf = io.BytesIO()
        sf.write(buf, y.astype(np.float32), sr, format=fmt, subtype=subtype)
        out[fmt.lower()] = buf.getvalue()
    return out


SEEDS = _seed_files()


@st.composite
def mutated_audio(draw) -> tuple[str, bytes]:
    ext = draw(st.sampled_from(sorted(SEEDS)))
    data = bytearray(SEEDS[ext])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "header", "splice", "zero"]))
        if kind == "flip" and data:
            for _ in range(draw(st.integers(1, 50))):
                i = draw(st.integers(0, len(data) - 1))
                data[i] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "header":
            head = draw(st.sampled_from([b"RIFF\xff\xff\xff\x7fWAVEfmt ", b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f",
                                         b"fLaC\x00\x00\x00\x22", b"\xff\xfb\x90\x64", b"OggS\x00\x02"]))
            data = bytearray(head + draw(st.binary(max_size=64))) + data[len(head) + 64:]
        elif kind == "splice" and data:
            i = draw(st.integers(0, len(data)))
            data[i:i] = draw(st.binary(min_size=1, max_size=512))
        elif kind == "zero" and data:
            i = draw(st.integers(0, len(data) - 1))
            data[i:i + draw(st.integers(1, 4096))] = bytes(min(4096, len(data) - i))
    return ext, bytes(data)


def _decode_fuzz(tmp_path_factory, case) -> None:
    ext, data = case
    path = tmp_path_factory.mktemp("fuzz") / f"000002.{ext}"
    path.write_bytes(data)
    try:
        y = decode(path, limits=AudioLimits(min_seconds=0.5))
    except AudioError as exc:
        assert exc.reason and "\n" not in exc.reason
        return
    assert y.dtype == np.float32 and y.ndim == 1 and len(y) > 0 and np.isfinite(y).all()


@settings(max_examples=10, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=mutated_audio())
def test_decode_fuzz_quick(tmp_path_factory, case):
    _decode_fuzz(tmp_path_factory, case)


@pytest.mark.slow
@settings(max_examples=1000, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=mutated_audio())
def test_decode_fuzz(tmp_path_factory, case):
    _decode_fuzz(tmp_path_factory, case)
