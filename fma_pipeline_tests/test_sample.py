"""The built-in sample: FMA's formats, real MP3s, artist-pure splits, broken clips like FMA's."""

from __future__ import annotations

import soundfile as sf

from fma_pipeline.core.audio.decode import AudioError, decode
from fma_pipeline.core.fma.layout import audio_path, list_audio_files
from fma_pipeline.core.fma.metadata import check_genre_ids, read_genres, read_tracks


def test_sample_round_trips_through_the_readers(tiny_sample):
    tracks = read_tracks(tiny_sample / "fma_metadata" / "tracks.csv")
    genres = read_genres(tiny_sample / "fma_metadata" / "genres.csv")
    check_genre_ids(tracks, genres, "tracks.csv")
    roots = tracks[("track", "genre_top")].dropna().unique()
    assert len(roots) >= 10
    # genre_top is a real FMA root title; sub-genres sit under their root
    assert set(roots) <= set(genres.roots())
    for genres_all, top in zip(tracks[("track", "genres_all")], tracks[("track", "genre_top")]):
        if isinstance(top, str):
            assert genres.ids_by_title()[top] in genres_all
    assert tracks[("track", "genres")].map(lambda g: any(genres.parent(x) != 0 for x in g)).sum() > 5
    assert tracks[("track", "genre_top")].isna().sum() >= 1  # genres span two roots
    # each artist sits in exactly one split
    assert (tracks[("set", "split")].astype(str).groupby(tracks[("artist", "id")]).nunique() == 1).all()
    assert set(tracks[("set", "split")]) == {"training", "validation", "test"}


def test_sample_audio_is_fma_layout_mp3_with_broken_clips(tiny_sample):
    tracks = read_tracks(tiny_sample / "fma_metadata" / "tracks.csv")
    audio_dir = tiny_sample / "fma_small"
    folders = sorted(p.name for p in audio_dir.iterdir())
    assert len(folders) >= 5 and all(len(f) == 3 for f in folders)
    files = [f for folder in folders for f in list_audio_files(audio_dir / folder)]
    assert len(files) == len(tracks)
    ok, failed = 0, []
    for tid in tracks.index:
        path = audio_path(audio_dir, tid)
        try:
            decode(path)
            ok += 1
        except AudioError as exc:
            failed.append(exc.reason)
    assert len(failed) == 3 and ok == len(tracks) - 3
    assert any("empty" in r for r in failed) and any("too short" in r for r in failed)
    info = sf.info(audio_path(audio_dir, tracks.index[0]))
    assert info.format == "MP3" and info.channels == 1  # mono: see SampleSpec.channels
