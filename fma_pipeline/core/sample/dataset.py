"""The built-in sample dataset: a small, deterministic FMA in FMA's exact formats.

It lets a user run every stage before downloading 22 GiB of FMA. The generator writes
``fma_metadata/tracks.csv`` and ``genres.csv`` (real FMA genre ids and titles) and real
MP3 clips of 30 s (22.05 kHz mono by default, where FMA's are 44.1 kHz stereo: see
:class:`SampleSpec`) into ``fma_small/<folder>/`` spread over several of the 000–155
folders. Each artist has one genre and one album and sits wholly in one split (training /
validation / test), as FMA's artist filter demands.

As in real FMA it carries: sub-genres under several roots (Rock → Punk, Metal;
Electronic → Techno, Ambient Electronic; Hip-Hop → Rap, Breakbeat; Jazz → Free-Jazz,
Big Band/Swing; Classical → Chamber Music, Symphony), a few tracks whose genres span
two roots (empty ``genre_top``), a dropped-by-default genre (International), and
broken clips (an empty file, a truncated MP3, one only a few seconds long).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from fma_pipeline.core.fma.genres import KNOWN_GENRES, known_genres
from fma_pipeline.core.fma.layout import audio_path
from fma_pipeline.core.fma.metadata import tracks_table, with_track_counts, write_genres_csv, write_tracks_csv
from fma_pipeline.core.catalogue import DataRoot
from fma_pipeline.core.storage import atomic_path
from fma_pipeline.core.audio.workers import worker_pool

#: Top-level genres with audio in the sample; International is dropped by default later.
SAMPLE_ROOTS: tuple[int, ...] = (12, 15, 21, 17, 4, 5, 10, 1235, 38, 3, 9, 14, 2)
#: Folders the sample's tracks are spread over.
SAMPLE_FOLDERS: tuple[int, ...] = (0, 3, 12, 47, 99, 133, 155)


@dataclass(frozen=True)
class SampleSpec:
    """Size and shape of the sample. The defaults keep the demo to a few minutes on 2 cores.

    Parameters
    ----------
    tracks_per_genre : int, default 20
        Tracks of each sample root genre (International gets a share of it).
    tracks_per_artist : int, default 2
        Tracks of each artist (each artist has one album).
    seconds : float, default 30.0
        Length of each clip.
    sr : int, default 22_050
        Sample rate of the clips, in Hz. FMA's clips are 44.1 kHz, and the pipeline analyses
        every file at its own rate as FMA's ``features.py`` does; at 22.05 kHz a clip renders
        and encodes in half the CPU time (0.30 s instead of 0.58 s) and extracts in half
        (0.20 s instead of 0.45 s), which halves the demo's first two minutes. 44_100 writes
        clips at FMA's rate.
    channels : int, default 1
        FMA's clips are stereo, but the pipeline mixes every file to mono before anything
        else, and a mono MP3 encodes in a third of the time (0.33 s instead of 1.0 s per
        30 s clip), which was most of the demo's first minutes. 2 writes stereo clips.
    seed : int, default 42
        Seed of the plan and of every clip's rendering.
    minor_genre_share : float, default 0.4
        International gets this share of ``tracks_per_genre``.
    mixed_root_tracks : int, default 3
        Tracks tagged with two roots (empty ``genre_top``).
    broken : bool, default True
        Add an empty, a truncated and a too-short clip.
    workers : int or None, default None
        Rendering processes; None: one per core.
    """

    tracks_per_genre: int = 20
    tracks_per_artist: int = 2
    seconds: float = 30.0
    #: FMA's clips are 44.1 kHz; at 22.05 kHz a clip renders, encodes and extracts in half the CPU
    #: time, which halves the demo's first two minutes. 44_100 writes clips at FMA's rate.
    sr: int = 22_050
    #: FMA's clips are stereo, but the pipeline mixes every file to mono before anything else,
    #: and a mono MP3 encodes in a third of the time (0.33 s instead of 1.0 s per 30 s clip),
    #: which was most of the demo's first minutes. 2 writes stereo clips.
    channels: int = 1
    seed: int = 42
    minor_genre_share: float = 0.4  # International gets this share of tracks_per_genre
    mixed_root_tracks: int = 3  # tracks tagged with two roots (empty genre_top)
    broken: bool = True  # add an empty, a truncated and a too-short clip
    workers: int | None = None


def _genre_table(tracks: pd.DataFrame) -> pd.DataFrame:
    return with_track_counts(known_genres(), tracks)


def plan_tracks(spec: SampleSpec = SampleSpec()) -> pd.DataFrame:
    """The sample's ``tracks.csv`` content (no audio written): deterministic from ``spec.seed``.

    Parameters
    ----------
    spec : SampleSpec, default SampleSpec()
        Size and shape of the sample.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``track_id``, two-level columns as in FMA's ``tracks.csv``;
        ``attrs["render_genre"]`` maps each track id to the genre its clip is rendered as.
    """
    from fma_pipeline.core.sample.styles import STYLE_PARENT

    rng = np.random.default_rng(spec.seed)
    titles = {gid: title for gid, _, title in KNOWN_GENRES}
    subgenres = {root: sorted(s for s, p in STYLE_PARENT.items() if p == root) for root in SAMPLE_ROOTS}
    rows: list[dict] = []
    artist_id = 0
    for root in SAMPLE_ROOTS:
        n = spec.tracks_per_genre if root != 2 else max(4, round(spec.tracks_per_genre * spec.minor_genre_share))
        n_artists = max(3, int(np.ceil(n / spec.tracks_per_artist)))
        artists = list(range(artist_id + 1, artist_id + 1 + n_artists))
        artist_id += n_artists
        # Artist-level split, stratified per genre: 80/10/10 with at least one artist each.
        n_test = n_val = max(1, round(0.1 * n_artists))
        order = rng.permutation(artists)
        split_of = {a: ("test" if i < n_test else "validation" if i < n_test + n_val else "training")
                    for i, a in enumerate(order)}
        for i in range(n):
            artist = artists[i % n_artists]
            choices = [root, *subgenres[root]]
            genre = choices[i % len(choices)]
            genres_all = sorted({genre, root})
            rows.append(dict(artist=artist, genre=genre, genres=[genre], genres_all=genres_all,
                             genre_top=titles[root], split=split_of[artist], root=root))
    for j in range(spec.mixed_root_tracks):  # genres span two roots: FMA leaves genre_top empty
        a, b = rng.choice(SAMPLE_ROOTS[:-1], size=2, replace=False)
        artist_id += 1
        rows.append(dict(artist=artist_id, genre=int(a), genres=sorted([int(a), int(b)]),
                         genres_all=sorted([int(a), int(b)]), genre_top=None,
                         split="training", root=int(a)))
    order = rng.permutation(len(rows))
    rows = [rows[i] for i in order]
    per_folder = {f: 0 for f in SAMPLE_FOLDERS}
    ids = []
    for i in range(len(rows)):
        folder = SAMPLE_FOLDERS[i % len(SAMPLE_FOLDERS)]
        per_folder[folder] += 1
        ids.append(folder * 1000 + 2 * per_folder[folder])
    frame = {
        ("album", "id"): [r["artist"] + 1000 for r in rows],
        ("album", "title"): [f"Album {r['artist']:03d}" for r in rows],
        ("album", "type"): "Album",
        ("album", "tracks"): spec.tracks_per_artist,
        ("artist", "id"): [r["artist"] for r in rows],
        ("artist", "name"): [f"Sample Artist {r['artist']:03d}" for r in rows],
        ("set", "split"): [r["split"] for r in rows],
        ("set", "subset"): "small",
        ("track", "bit_rate"): 128000,
        ("track", "duration"): int(spec.seconds),
        ("track", "genre_top"): [r["genre_top"] for r in rows],
        ("track", "genres"): [r["genres"] for r in rows],
        ("track", "genres_all"): [r["genres_all"] for r in rows],
        ("track", "interest"): rng.integers(10, 5000, len(rows)),
        ("track", "license"): "Attribution 4.0 International (CC BY 4.0)",
        ("track", "listens"): rng.integers(1, 3000, len(rows)),
        ("track", "number"): [1 + k % spec.tracks_per_artist for k in range(len(rows))],
        ("track", "tags"): [[] for _ in rows],
        ("track", "title"): [f"Sample {titles[r['genre']]} {k:03d}" for k, r in enumerate(rows)],
        ("track", "date_created"): "2026-01-01 00:00:00",
    }
    tracks = tracks_table(ids, frame)
    tracks.attrs["render_genre"] = {tid: r["genre"] for tid, r in zip(ids, rows)}
    return tracks


def _render_to_mp3(args: tuple[int, int, int, float, int, int, str]) -> str:
    """Worker: render one clip and write it as MP3 atomically."""
    import soundfile as sf

    from fma_pipeline.core.sample.engine import render_clip

    track_id, genre, seed, seconds, sr, channels, path = args
    clip = render_clip(genre, np.random.default_rng([seed, track_id]), sr=sr, seconds=seconds)
    if channels == 1:
        clip = clip.mean(axis=1)
    with atomic_path(path) as tmp:
        sf.write(tmp, clip, sr, format="MP3", subtype="MPEG_LAYER_III",
                 compression_level=0.65, bitrate_mode="CONSTANT")
    return path


def _write_broken_clips(tracks: pd.DataFrame, audio_dir: Path, spec: SampleSpec) -> dict[int, str]:
    """Turn three existing clips into FMA-like broken ones; return track id -> what broke."""
    import soundfile as sf

    from fma_pipeline.core.sample.engine import render_clip

    broken: dict[int, str] = {}
    ids = list(tracks.index[tracks[("set", "split")] == "training"][-3:])
    empty, truncated, short = ids
    audio_path(audio_dir, empty).write_bytes(b"")
    broken[empty] = "empty file"
    data = audio_path(audio_dir, truncated).read_bytes()
    audio_path(audio_dir, truncated).write_bytes(data[: len(data) // 12 + 77])
    broken[truncated] = "truncated MP3"
    genre = tracks.attrs["render_genre"][short]
    clip = render_clip(genre, np.random.default_rng([spec.seed, short]), sr=spec.sr, seconds=2.5)
    sf.write(audio_path(audio_dir, short), clip, spec.sr, format="MP3", subtype="MPEG_LAYER_III",
             compression_level=0.65, bitrate_mode="CONSTANT")
    broken[short] = "2.5 s clip"
    return broken


def generate_sample(data_dir: Path, spec: SampleSpec = SampleSpec(),
                    progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """Write the sample dataset under ``data_dir``; return its tracks table.

    Idempotent: an existing clip is not rendered again, and the metadata files are
    written last, so an interrupted generation is simply resumed by the next call.

    Parameters
    ----------
    data_dir : pathlib.Path
        The data root; clips go to ``fma_small/``, metadata to ``fma_metadata/``.
    spec : SampleSpec, default SampleSpec()
        Size and shape of the sample.
    progress : Callable[[int], None] or None, default None
        Called with 1 after each rendered clip.

    Returns
    -------
    pandas.DataFrame
        The tracks table, as :func:`plan_tracks` returns it.
    """
    data_dir = Path(data_dir)
    tracks = plan_tracks(spec)
    audio_dir = data_dir / "fma_small"
    jobs = [(int(tid), int(tracks.attrs["render_genre"][tid]), spec.seed, spec.seconds, spec.sr, spec.channels,
             str(audio_path(audio_dir, int(tid)))) for tid in tracks.index]
    todo = [job for job in jobs if not Path(job[-1]).exists()]
    for job in todo:
        Path(job[-1]).parent.mkdir(parents=True, exist_ok=True)
    if todo:
        workers = max(1, min(spec.workers or multiprocessing.cpu_count(), len(todo)))
        if workers == 1:
            for job in todo:
                _render_to_mp3(job)
                if progress:
                    progress(1)
        else:
            with worker_pool(workers) as pool:
                for _ in pool.map(_render_to_mp3, todo, chunksize=4):
                    if progress:
                        progress(1)
        if spec.broken:
            _write_broken_clips(tracks, audio_dir, spec)
    root = DataRoot(data_dir)
    write_genres_csv(_genre_table(tracks), root.genres_csv)
    write_tracks_csv(tracks, root.tracks_csv)
    return tracks


def sample_exists(data_dir: Path) -> bool:
    """True when a data root already holds metadata and audio (sample or real FMA).

    Parameters
    ----------
    data_dir : pathlib.Path
        The data root.

    Returns
    -------
    bool
    """
    return DataRoot(Path(data_dir)).tracks_csv.is_file()
