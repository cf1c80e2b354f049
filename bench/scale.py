"""Scale benchmark: FMA-size data in the pipeline's layout, then every downstream asset.

    python bench/scale.py [--tracks 25000] [--data-dir DIR] [--seed 0] [--targets medium|large]
    python bench/scale.py --generate-only --tracks 106574 [--data-dir DIR]
    python bench/scale.py --skip-generate --data-dir DIR [--assets genre_classifiers ...] [--timeout S]

1. Generates a data root (default: a new temporary folder, kept) as if FMA's audio had
   been extracted: ``fma_metadata/genres.csv`` (FMA's table from ``../shared/data`` when
   present, else the built-in sample's genres), ``fma_metadata/tracks.csv`` in FMA's
   format (fma_medium's genre proportions scaled to ``--tracks``, ~1 artist per 5 tracks
   with heavy-tailed sizes, an artist-filtered 80/10/10 split, real sub-genre ids), and per
   folder ``pipeline/track_features/NNN.parquet``, ``track_feature_errors/NNN.parquet``
   (empty) and ``segment_features/NNN.parquet`` (10 windows of 3 s per clip) exactly as
   the extraction writes them, streamed folder by folder. The features have class
   structure, not separable noise: per genre a mixture of 2-4 Gaussian components in a
   32-dimensional latent space, some borrowed towards a neighbouring genre; an artist
   offset; a sub-genre offset; a few quadratic latent terms; a fixed random loading onto
   the 708 columns with per-column noise, chroma/tonnetz mostly noise, and per-column
   shapes and scales (positive statistics log-normal, kurtosis skewed, correlations in
   (-1, 1)). Windows are the clip's latent vector plus window noise, each window noisier
   than the clip. Difficulty is tuned so that shrinkage LDA on standardised features
   (train+validation -> test, FMA medium's 12 genres) scores about 0.59 at 25,000 tracks;
   that figure is printed after generation as a sanity check.
2. Materialises every asset downstream of extraction (all but ``folder_features``, in
   dependency order, read from ``fma_pipeline.definitions``) with the default
   configuration, each in a fresh subprocess through ``dagster.materialize`` against a
   real instance (``DAGSTER_HOME=<data root>/.dagster``, ``FMA_DATA_DIR=<data root>``).
3. Prints, per asset, wall time, CPU time and peak memory of the whole process tree (sum
   of RSS over the subprocess and all its descendants, joblib/loky workers included,
   sampled every 0.2 s from /proc, or with psutil where there is no /proc; shared pages
   count once per process, so it errs high), a table with the total, every model's test
   scores from ``pipeline/classifier_comparison.parquet`` (the champion first, and how far
   it is below the best model of the run) and the clip- vs segment-level table, and the
   load average at start, after each asset and at the end (the machine may be shared).
   ``--targets`` adds PASS/MISS lines (medium: all assets <= 45 min, genre_classifiers <=
   10 min and <= 2 GiB, peak <= 6 GiB; large: <= 4 h, genre_classifiers <= 45 min, <= 12
   GiB). Exits 1 when an asset fails, with its stderr's tail.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fma_pipeline.core.audio.extraction import FILE_COLUMNS, empty_errors  # noqa: E402
from fma_pipeline.core.audio.definition import definition_attrs  # noqa: E402
from fma_pipeline.core.audio.features import FeatureConfig, feature_columns  # noqa: E402
from fma_pipeline.core.fma.layout import NO_AUDIO_CLIPS  # noqa: E402
from fma_pipeline.core.audio.windows import segment_frame  # noqa: E402
from fma_pipeline.core.fma.metadata import (GenreTree, read_genres, tracks_table, with_track_counts,  # noqa: E402
                                            write_genres_csv, write_tracks_csv)
from fma_pipeline.core.catalogue import (CLASSIFIER_COMPARISON, LEVEL_COMPARISON, SEGMENT_FEATURES,  # noqa: E402
                                         TRACK_FEATURE_ERRORS, TRACK_FEATURES, DataRoot)
from fma_pipeline.core import procfs  # noqa: E402
from fma_pipeline.core.storage import write_parquet  # noqa: E402

SHARED_GENRES_CSV = DataRoot(ROOT.parent / "shared" / "data").genres_csv

#: fma_medium's 25,000 tracks by top-level genre (FMA's published counts).
FMA_MEDIUM_GENRES: dict[str, int] = {
    "Rock": 7103, "Electronic": 6314, "Experimental": 2251, "Hip-Hop": 2201, "Folk": 1519,
    "Instrumental": 1350, "Pop": 1186, "International": 1018, "Classical": 619, "Old-Time / Historic": 510,
    "Jazz": 384, "Country": 178, "Soul-RnB": 154, "Spoken": 118, "Blues": 74, "Easy Listening": 21,
}
FMA_MEDIUM_TRACKS = sum(FMA_MEDIUM_GENRES.values())  # 25,000
#: Genres a genre's extra mixture components lean towards (genres blur into each other).
NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "Rock": ("Pop", "Experimental", "Folk", "Blues"), "Electronic": ("Experimental", "Hip-Hop", "Pop"),
    "Experimental": ("Electronic", "Rock", "Instrumental"), "Hip-Hop": ("Electronic", "Soul-RnB", "Pop"),
    "Folk": ("Country", "Rock", "Pop"), "Instrumental": ("Electronic", "Classical", "Experimental"),
    "Pop": ("Rock", "Electronic", "Soul-RnB"), "International": ("Folk", "Pop", "Electronic"),
    "Classical": ("Instrumental", "Old-Time / Historic"), "Old-Time / Historic": ("Folk", "Blues", "Classical"),
    "Jazz": ("Blues", "Soul-RnB", "Instrumental"), "Country": ("Folk", "Rock", "Blues"),
    "Soul-RnB": ("Hip-Hop", "Pop", "Jazz"), "Spoken": ("Experimental", "Hip-Hop"),
    "Blues": ("Rock", "Jazz", "Country"), "Easy Listening": ("Pop", "Jazz", "Instrumental"),
}
N_FOLDERS = 156  # FMA's folders 000-155
WINDOWS = 10  # 3 s windows of a 30 s clip
SHORT_CLIP_SHARE = 0.002  # clips shorter than 30 s: fewer windows (FMA has a few)

# The latent model. SEPARATION sets the difficulty (tuned: LDA ~0.59 at 25,000 tracks).
LATENT_DIM = 32
QUADRATIC_DIMS = 6  # latent dims whose squares also load on the columns (a little non-linearity)
SEPARATION = 0.41  # spread of the genre centres, in units of the within-genre track noise
COMPONENT_SHIFT = (0.25, 0.6)  # how far an extra component leans towards a neighbouring genre
ARTIST_SD = 0.55  # artist offset (so artist-grouped splits matter)
SUBGENRE_SD = 0.5  # sub-genre offset, on top of the genre component
WINDOW_SD = 0.7  # window-level latent noise
WINDOW_NOISE = 1.6  # window column noise, relative to the clip's
#: How much of each family is signal (the rest is per-column noise): pitch classes mostly noise.
FAMILY_SIGNAL: dict[str, float] = {
    "chroma_cens": 0.12, "chroma_cqt": 0.12, "chroma_stft": 0.12, "mfcc": 1.0, "rmse": 0.6,
    "spectral_bandwidth": 0.8, "spectral_centroid": 0.8, "spectral_contrast": 0.9, "spectral_rolloff": 0.8,
    "tonnetz": 0.1, "zcr": 0.6, "mfcc_corr": 0.7,
}
#: Plausible centre and spread of each family's values; positive families are log-normal.
FAMILY_RANGE: dict[str, tuple[float, float, bool]] = {
    "chroma_cens": (0.25, 0.06, True), "chroma_cqt": (0.45, 0.1, True), "chroma_stft": (0.45, 0.1, True),
    "mfcc": (0.0, 12.0, False), "rmse": (0.08, 0.04, True), "spectral_bandwidth": (1900.0, 350.0, True),
    "spectral_centroid": (1800.0, 550.0, True), "spectral_contrast": (20.0, 4.0, True),
    "spectral_rolloff": (3800.0, 1100.0, True), "tonnetz": (0.0, 0.04, False), "zcr": (0.08, 0.035, True),
}
MFCC_CENTRES = {"01": (-180.0, 60.0), "02": (110.0, 30.0)}
LIN, EXP, TANH = 0, 1, 2
#: Parameters of the artist-size distribution: 1 + floor(lognormal), mean ~5 tracks per artist.
ARTIST_SIZE_MU, ARTIST_SIZE_SIGMA, ARTIST_SIZE_CAP = 0.9, 1.1, 400
OTHER_GENRE_SHARE = 0.06  # tracks an artist has outside its main genre
NO_SUBGENRE_SHARE = 0.3  # artists tagged with their top-level genre only
SECOND_TAG_SHARE = 0.2  # tracks tagged with a second sub-genre of the same root


# ----------------------------------------------------------------------------- genres

def genre_tree(real: Path | None = SHARED_GENRES_CSV) -> tuple[GenreTree, bool]:
    """FMA's genre table from ``real`` when it exists, else the built-in sample's (16 roots + sub-genres)."""
    if real is not None and Path(real).is_file():
        return read_genres(real), True
    from fma_pipeline.core.fma.genres import known_genres

    table = known_genres()
    table["#tracks"] = 100  # equal weights; rewritten with the generated counts
    return GenreTree(table.sort_index()), False


def subgenre_choices(tree: GenreTree, root: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids under ``root`` (any depth) and their pick weights (FMA's ``#tracks``, heavy-tailed)."""
    table = tree.table
    ids = table.index[(table["top_level"] == root) & (table.index != root)].to_numpy()
    weights = table.loc[ids, "#tracks"].clip(lower=1).to_numpy(dtype=float)
    return ids, weights / weights.sum() if len(ids) else weights


def scaled_counts(n: int) -> dict[str, int]:
    """fma_medium's genre proportions scaled to ``n`` tracks (largest remainder, sums to ``n``)."""
    raw = np.array(list(FMA_MEDIUM_GENRES.values()), dtype=float) * n / FMA_MEDIUM_TRACKS
    counts = np.floor(raw).astype(int)
    counts[np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]] += 1
    return dict(zip(FMA_MEDIUM_GENRES, counts.tolist()))


# ----------------------------------------------------------------------------- the plan

@dataclass
class Plan:
    """Every track's metadata and latent vector (small: N x 38 floats), before any column exists."""

    tracks: pd.DataFrame  # FMA's tracks.csv columns (two-level), indexed by track_id
    latent: np.ndarray  # (N, LATENT_DIM + QUADRATIC_DIMS), rows in tracks' order
    windows: np.ndarray  # windows per clip
    tree: GenreTree
    real_genres: bool


def _artist_sizes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Heavy-tailed tracks per artist summing to ``n``."""
    if n == 0:
        return np.zeros(0, dtype=int)
    sizes = np.empty(0, dtype=int)
    while sizes.sum() < n:
        draw = 1 + np.floor(rng.lognormal(ARTIST_SIZE_MU, ARTIST_SIZE_SIGMA, max(8, n // 3))).astype(int)
        sizes = np.concatenate([sizes, np.minimum(draw, ARTIST_SIZE_CAP)])
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n)) + 1]
    sizes[-1] -= sizes.sum() - n
    return sizes


def _split_artists(rng: np.random.Generator, artist_genre: np.ndarray, artist_size: np.ndarray) -> np.ndarray:
    """FMA's artist filter: each artist wholly in training/validation/test, ~80/10/10 of tracks per genre."""
    split = np.zeros(len(artist_genre), dtype=np.int8)  # 0 training, 1 validation, 2 test
    target = np.array([0.8, 0.1, 0.1])
    for genre in np.unique(artist_genre):
        members = rng.permutation(np.flatnonzero(artist_genre == genre))
        goal, have = target * artist_size[members].sum(), np.zeros(3)
        for a in members:
            deficit = np.maximum(goal - have, 0)
            s = int(rng.choice(3, p=deficit / deficit.sum())) if deficit.sum() > 0 else 0
            split[a] = s
            have[s] += artist_size[a]
    return split


def plan_tracks(n_tracks: int, seed: int = 0, genres_csv: Path | None = SHARED_GENRES_CSV,
                folders: int = N_FOLDERS) -> Plan:
    """Metadata and latent vectors of ``n_tracks`` FMA-like tracks (deterministic from ``seed``),
    their ids spread over the first ``folders`` of FMA's 156 folders (all of them by default)."""
    if not 1 <= folders <= N_FOLDERS:
        raise ValueError(f"folders must be in 1..{N_FOLDERS}, got {folders}")
    max_tracks = folders * 1000 - 1 - len([c for c in NO_AUDIO_CLIPS if c < folders * 1000])
    if not 1 <= n_tracks <= max_tracks:
        raise ValueError(f"--tracks must be in 1..{max_tracks}, got {n_tracks}")
    tree, real = genre_tree(genres_csv)
    ids_by_title = tree.ids_by_title()
    world = np.random.default_rng([seed, 0])  # genre geometry: the same for any N
    rng = np.random.default_rng([seed, 1])  # tracks and artists
    titles = list(FMA_MEDIUM_GENRES)

    # Genre centres, mixture components (extra ones lean towards a neighbour), sub-genre offsets.
    # Orthogonal centres of equal norm: every pair of genres equally far apart before the
    # components blur them, so the difficulty does not hang on the seed's geometry.
    basis = np.linalg.qr(world.standard_normal((LATENT_DIM, len(titles))))[0].T
    centre = {g: SEPARATION * np.sqrt(LATENT_DIM) * basis[i] for i, g in enumerate(titles)}
    components: dict[str, np.ndarray] = {}
    weights: dict[str, np.ndarray] = {}
    for g in titles:
        k = int(world.integers(2, 5))
        means = [centre[g]]
        for _ in range(k - 1):
            towards = centre[NEIGHBOURS[g][int(world.integers(len(NEIGHBOURS[g])))]]
            shift = world.uniform(*COMPONENT_SHIFT)
            means.append(centre[g] + shift * (towards - centre[g]) + world.normal(0, 0.3 * SEPARATION, LATENT_DIM))
        components[g] = np.stack(means)
        w = world.dirichlet(np.full(k, 2.0))
        w[0] += 0.5  # the genre's own sound is the commonest
        weights[g] = w / w.sum()
    sub_offset = {int(gid): world.normal(0, SUBGENRE_SD, LATENT_DIM) for gid in tree.table.index}
    choices = {g: subgenre_choices(tree, ids_by_title[g]) for g in titles}

    # Artists per genre, heavy-tailed; each with one mixture component and one specific genre.
    counts = scaled_counts(n_tracks)
    artist_genre, artist_size = [], []
    for gi, g in enumerate(titles):
        sizes = _artist_sizes(rng, counts[g])
        artist_genre += [gi] * len(sizes)
        artist_size += sizes.tolist()
    artist_genre, artist_size = np.array(artist_genre, dtype=int), np.array(artist_size, dtype=int)
    n_artists = len(artist_genre)
    artist_comp = np.array([rng.choice(len(weights[titles[g]]), p=weights[titles[g]]) for g in artist_genre])

    def pick_specific(g: str) -> int:
        ids, p = choices[g]
        if len(ids) == 0 or rng.random() < NO_SUBGENRE_SHARE:
            return ids_by_title[g]
        return int(rng.choice(ids, p=p))

    artist_specific = np.array([pick_specific(titles[g]) for g in artist_genre])
    artist_offset = rng.normal(0, ARTIST_SD, (n_artists, LATENT_DIM))

    # Tracks: artists' tracks, then a few swapped between artists of different genres
    # (genre counts unchanged; an artist is mostly, not only, in one genre).
    track_artist = np.repeat(np.arange(n_artists), artist_size)
    track_genre = artist_genre[track_artist].copy()
    n_swaps = int(OTHER_GENRE_SHARE * n_tracks / 2)
    if n_tracks > 1 and n_swaps:
        i, j = rng.integers(0, n_tracks, (2, n_swaps))
        ok = track_genre[i] != track_genre[j]
        i, j = i[ok], j[ok]
        track_artist[i], track_artist[j] = track_artist[j], track_artist[i].copy()
    own = artist_genre[track_artist] == track_genre
    specific = np.where(own, artist_specific[track_artist], 0)
    comp = np.where(own, artist_comp[track_artist], -1)
    for t in np.flatnonzero(~own):
        g = titles[track_genre[t]]
        specific[t] = pick_specific(g)
        comp[t] = rng.choice(len(weights[g]), p=weights[g])
    artist_split = _split_artists(rng, artist_genre, np.bincount(track_artist, minlength=n_artists))

    # Tag lists: the specific genre, sometimes a second sub-genre of the same root; all ancestors.
    paths = {int(g): tree.path_to_root(int(g)) for g in tree.table.index}
    genres, genres_all = [], []
    for t in range(n_tracks):
        g = titles[track_genre[t]]
        tags = {int(specific[t])}
        if len(choices[g][0]) and rng.random() < SECOND_TAG_SHARE:
            tags.add(int(rng.choice(choices[g][0], p=choices[g][1])))
        genres.append(sorted(tags))
        genres_all.append(sorted({a for tag in tags for a in paths[tag]}))

    # Latent vectors: component + artist + sub-genre (its path below the root) + track noise.
    used = np.unique(specific)
    below_root = np.stack([sum((sub_offset[p] for p in paths[int(s)][:-1]), np.zeros(LATENT_DIM)) for s in used])
    table = np.zeros((len(titles), 4, LATENT_DIM))
    for gi, g in enumerate(titles):
        table[gi, : len(components[g])] = components[g]
    z = (table[track_genre, comp] + artist_offset[track_artist] + below_root[np.searchsorted(used, specific)]
         + rng.standard_normal((n_tracks, LATENT_DIM)))
    latent = with_quadratic(z)

    # Track ids over folders 000-155 (id // 1000 = folder), subsets, a few short clips.
    pool = np.setdiff1d(np.arange(1, folders * 1000), np.fromiter(NO_AUDIO_CLIPS, int))
    ids = rng.choice(pool, n_tracks, replace=False)
    medium = np.zeros(n_tracks, dtype=bool)
    medium[rng.permutation(n_tracks)[:min(n_tracks, FMA_MEDIUM_TRACKS)]] = True
    windows = np.where(rng.random(n_tracks) < SHORT_CLIP_SHARE, rng.integers(2, WINDOWS, n_tracks), WINDOWS)
    splits = np.array(["training", "validation", "test"])[artist_split[track_artist]]
    artist_ids = 1 + track_artist
    frame = {
        ("album", "id"): 100_000 + artist_ids,
        ("artist", "id"): artist_ids,
        ("artist", "name"): [f"Artist {a:05d}" for a in artist_ids],
        ("set", "split"): splits,
        ("set", "subset"): np.where(medium, "medium", "large"),
        ("track", "bit_rate"): rng.choice([128_000, 192_000, 256_000, 320_000], n_tracks),
        ("track", "duration"): rng.integers(60, 600, n_tracks),
        ("track", "genre_top"): [titles[g] for g in track_genre],
        ("track", "genres"): genres,
        ("track", "genres_all"): genres_all,
        ("track", "listens"): rng.integers(1, 20_000, n_tracks),
        ("track", "title"): [f"Track {t:06d}" for t in ids],
    }
    order = np.argsort(ids, kind="stable")  # the table's row order (ascending ids)
    return Plan(tracks_table(ids, frame), latent[order], windows[order], tree, real)


def with_quadratic(z: np.ndarray) -> np.ndarray:
    """The latent vector plus a few centred squares (features that are not linear in it)."""
    return np.concatenate([z, (z[:, :QUADRATIC_DIMS] ** 2 - 1) / np.sqrt(2)], axis=1)


# ----------------------------------------------------------------------------- columns

@dataclass
class Columns:
    """The fixed map from latent vectors to the 708 feature columns."""

    loading: np.ndarray  # (latent, 708), columns normalised by the latent spread
    offset: np.ndarray  # (708,) centring of the loaded signal
    signal: np.ndarray  # (708,) share of signal in each column's pre-activation
    kind: np.ndarray  # LIN, EXP or TANH
    a: np.ndarray
    b: np.ndarray
    k: np.ndarray

    @classmethod
    def build(cls, latent: np.ndarray, seed: int) -> Columns:
        rng = np.random.default_rng([seed, 2])
        cols = list(feature_columns())
        n = len(cols)
        loading = rng.standard_normal((latent.shape[1], n))
        signal = np.array([FAMILY_SIGNAL[f] for f, _, _ in cols]) * rng.uniform(0.5, 1.5, n)
        mean, cov = latent.mean(axis=0), np.cov(latent, rowvar=False)
        sd = np.sqrt(np.einsum("ij,ik,kj->j", loading, cov, loading))
        loading /= sd
        kind, a, b, k = np.full(n, LIN), np.zeros(n), np.ones(n), np.zeros(n)
        for j, (family, stat, number) in enumerate(cols):
            jitter = rng.uniform(0.8, 1.2)
            if family == "mfcc_corr":
                kind[j], a[j], k[j] = TANH, rng.uniform(-0.8, 0.8), 0.5
                continue
            centre, spread, positive = FAMILY_RANGE[family]
            if family == "mfcc" and number in MFCC_CENTRES:
                centre, spread = MFCC_CENTRES[number]
            centre, spread = centre * jitter, spread * jitter
            if stat == "std":
                kind[j], b[j], k[j] = EXP, 0.6 * spread, 0.35
            elif stat == "skew":
                a[j], b[j] = 0.3 * jitter, 0.8
            elif stat == "kurtosis":
                kind[j], a[j], b[j], k[j] = EXP, -1.2, 1.5 * jitter, 0.7
            else:  # mean, median, max, min
                level = {"max": 1.8, "min": 0.35}.get(stat, 1.0)
                if positive:
                    kind[j], b[j], k[j] = EXP, centre * level, min(0.8, spread / centre)
                else:
                    a[j], b[j] = centre + {"max": 2.0, "min": -2.0}.get(stat, 0.0) * spread, spread
        f32 = np.float32
        return cls(loading.astype(f32), (mean @ loading).astype(f32), signal.astype(f32), kind,
                   a.astype(f32), b.astype(f32), k.astype(f32))

    def rows(self, latent: np.ndarray, rng: np.random.Generator, noise: float = 1.0) -> np.ndarray:
        """Feature rows (float32) of latent vectors, with fresh per-column noise."""
        u = latent.astype(np.float32) @ self.loading
        u -= self.offset
        u *= self.signal
        u += rng.standard_normal(u.shape, dtype=np.float32) * np.float32(noise)
        u /= np.sqrt(self.signal ** 2 + 1)
        out = self.a + self.b * u
        j = np.flatnonzero(self.kind == EXP)
        out[:, j] = self.a[j] + self.b[j] * np.exp(self.k[j] * u[:, j])
        j = np.flatnonzero(self.kind == TANH)
        out[:, j] = np.tanh(self.k[j] * u[:, j] + self.a[j])
        return out


# ----------------------------------------------------------------------------- writing

def folder_tables(plan: Plan, columns: Columns, rows: slice, seed: int, folder: str
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One folder's ``track_features`` and ``segment_features`` tables, extraction's exact layout."""
    rng = np.random.default_rng([seed, 3, int(folder)])
    ids = plan.tracks.index[rows].to_numpy(dtype=np.int64)
    latent = plan.latent[rows]
    clip = columns.rows(latent, rng)
    n_windows = plan.windows[rows]
    z = np.repeat(latent[:, :LATENT_DIM].astype(np.float32), n_windows, axis=0)
    z += rng.standard_normal(z.shape, dtype=np.float32) * np.float32(WINDOW_SD)
    windows = columns.rows(with_quadratic(z), rng, noise=WINDOW_NOISE)
    index = pd.Index(ids, name="track_id", dtype=np.int64)
    names = feature_columns().names
    files = pd.DataFrame({FILE_COLUMNS[0]: [f"{t:06d}.mp3" for t in ids],
                          FILE_COLUMNS[1]: rng.integers(400_000, 1_300_000, len(ids)).astype(np.int64),
                          FILE_COLUMNS[2]: np.full(len(ids), 1_700_000_000_000_000_000, dtype=np.int64)
                          + rng.integers(0, 10**15, len(ids)),
                          FILE_COLUMNS[3]: [rng.bytes(16).hex() for _ in ids],
                          FILE_COLUMNS[4]: np.full(len(ids), 29.98, dtype=np.float32)}, index=index)  # FMA's clips
    files.columns = pd.MultiIndex.from_tuples(FILE_COLUMNS, names=names)
    features = pd.concat([files, pd.DataFrame(clip, index=index, columns=feature_columns())], axis=1)
    bounds = np.cumsum(n_windows)[:-1]
    segments = segment_frame(dict(zip(ids.tolist(), np.split(windows, bounds))))
    features.attrs = segments.attrs = definition_attrs(FeatureConfig())  # as extraction stamps them
    return features, segments


def genres_table(plan: Plan) -> pd.DataFrame:
    """genres.csv to write: FMA's own table, or the built-in one with the generated counts."""
    return plan.tree.table.copy() if plan.real_genres else with_track_counts(plan.tree.table, plan.tracks)


def generate(data_dir: Path, n_tracks: int, seed: int = 0, *, genres_csv: Path | None = SHARED_GENRES_CSV,
             folders: int = N_FOLDERS, log=print) -> tuple[Plan, np.ndarray]:
    """Write the whole data root; return the plan and the clip features (N x 708, tracks' order).

    Writing a folder's Parquet costs ~0.3 s whatever its size (708 columns), so tiny data
    sets (tests) may use fewer ``folders``."""
    data_dir = Path(data_dir)
    started = time.perf_counter()
    plan = plan_tracks(n_tracks, seed, genres_csv, folders)
    columns = Columns.build(plan.latent, seed)
    root = DataRoot(data_dir)
    write_genres_csv(genres_table(plan), root.genres_csv)
    write_tracks_csv(plan.tracks, root.tracks_csv)
    log(f"  metadata: {n_tracks:,} tracks, {plan.tracks[('artist', 'id')].nunique():,} artists, "
        f"{'FMA' if plan.real_genres else 'built-in'} genres.csv ({time.perf_counter() - started:.1f} s)")
    folder_of_row = plan.tracks.index.to_numpy() // 1000  # FMA: track 2 is in folder 000; ids sorted
    clip_all = np.empty((n_tracks, len(feature_columns())), dtype=np.float32)
    starts = np.searchsorted(folder_of_row, np.arange(N_FOLDERS + 1))
    for f in range(N_FOLDERS):
        rows = slice(int(starts[f]), int(starts[f + 1]))
        if rows.start == rows.stop:
            continue
        key = f"{f:03d}"
        features, segments = folder_tables(plan, columns, rows, seed, key)
        clip_all[rows] = features.iloc[:, len(FILE_COLUMNS):].to_numpy()
        write_parquet(empty_errors(), root.partition_path(TRACK_FEATURE_ERRORS, key))
        write_parquet(segments, root.partition_path(SEGMENT_FEATURES, key))
        write_parquet(features, root.partition_path(TRACK_FEATURES, key))  # last, as extraction
    log(f"  features: {int((np.diff(starts) > 0).sum())} folders, {int(plan.windows.sum()):,} windows "
        f"({time.perf_counter() - started:.1f} s)")
    return plan, clip_all


def lda_accuracy(plan: Plan, clip: np.ndarray) -> tuple[float, int, int]:
    """Shrinkage LDA on standardised features, the pipeline's default selection (12 genres):
    fit on training + validation, ``(accuracy, n_fit, n_test)`` on test."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.preprocessing import StandardScaler

    from fma_pipeline.core.learning.selection import LabelConfig, select_tracks

    selected = select_tracks(plan.tracks, plan.tree.ids_by_title(), LabelConfig())
    pos = plan.tracks.index.get_indexer(selected.index)
    test = (selected["split"] == "test").to_numpy()
    X, y = clip[pos], selected["genre"].to_numpy()
    scaler = StandardScaler().fit(X[~test])
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(scaler.transform(X[~test]), y[~test])
    accuracy = float((lda.predict(scaler.transform(X[test])) == y[test]).mean())
    return accuracy, int((~test).sum()), int(test.sum())


# ----------------------------------------------------------------------------- running assets

def downstream_assets() -> list[str]:
    """Every asset but the ``folder_features`` multi-asset, topologically sorted (ties: PREFERRED order)."""
    from fma_pipeline.definitions import all_assets

    deps: dict[str, set[str]] = {}
    for asset in all_assets:
        if asset.node_def.name == "folder_features":
            continue
        for spec in asset.specs:
            deps[spec.key.to_user_string()] = {d.asset_key.to_user_string() for d in spec.deps}
    rank = {name: i for i, name in enumerate(PREFERRED)}
    order, done = [], set()
    while len(order) < len(deps):
        ready = [a for a in deps if a not in done and deps[a] & deps.keys() <= done]
        nxt = min(ready, key=lambda a: (rank.get(a, len(rank)), a))
        order.append(nxt)
        done.add(nxt)
    return order


#: Tie-break of the topological order (the order the assets were written in).
PREFERRED = ("tracks", "subgenre_labels", "feature_matrix", "extraction_errors", "scaled_features", "pca_features",
             "genre_classifiers", "classifier_metrics", "segment_matrix", "segment_classifiers", "genre_clusters",
             "subgenre_classifiers")


def child_materialise(asset: str, data_dir: Path) -> None:
    """In the subprocess: materialise one asset with the default config on the data root's instance."""
    import dagster as dg

    from fma_pipeline.cli import QUIET_LOGS
    from fma_pipeline.definitions import all_assets, all_checks, resources
    from fma_pipeline.orchestration.instance import dagster_home
    from fma_pipeline.orchestration.progress import Console

    os.environ["FMA_DATA_DIR"] = str(data_dir)
    dagster_home(data_dir)
    dg.materialize([*all_assets, *all_checks], selection=dg.AssetSelection.assets(asset),
                   instance=dg.DagsterInstance.get(), resources=resources(console=Console(progress=True)),
                   run_config=QUIET_LOGS)  # progress lines land in bench-logs/<asset>.stderr


@dataclass
class Measured:
    asset: str
    ok: bool
    seconds: float
    peak_bytes: int
    cpu_seconds: float = float("nan")
    stderr_tail: str = ""


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from Linux's ``/proc`` (psutil elsewhere)."""
    if not os.path.isdir("/proc/self"):
        import psutil

        try:
            return [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]
        except psutil.NoSuchProcess:
            return []
    children = procfs.children_by_parent()
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop())
        todo += children.get(tree[-1], [])
    return tree


def rss_bytes(pid: int) -> int:
    """Resident memory of one process (0 once it is gone)."""
    rss = procfs.rss_bytes(pid)
    if rss is not None or os.path.isdir("/proc/self"):
        return rss or 0  # None with /proc: gone meanwhile
    import psutil  # no /proc (macOS)

    try:
        return psutil.Process(pid).memory_info().rss
    except psutil.NoSuchProcess:
        return 0


def run_measured(argv: list[str], env: dict, log_dir: Path, name: str, timeout: float,
                 interval: float = 0.2) -> Measured:
    """Run ``argv``; wall time, peak process-tree RSS and CPU time; the tree is killed on timeout.

    CPU time is user + system time of the whole tree: ``RUSAGE_CHILDREN`` counts every
    descendant that was waited for (joblib/loky workers are reaped by the child, and the
    child by us), so its growth over the run is the tree's CPU time."""
    import resource
    import signal

    def children_cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    log_dir.mkdir(parents=True, exist_ok=True)
    cpu_before = children_cpu()
    out, err = log_dir / f"{name}.stdout", log_dir / f"{name}.stderr"
    started = time.perf_counter()
    with open(out, "wb") as o, open(err, "wb") as e:
        popen = subprocess.Popen(argv, env=env, stdout=o, stderr=e, cwd=ROOT)
        peak, timed_out = 0, False
        while popen.poll() is None:
            tree = process_tree(popen.pid)
            peak = max(peak, sum(rss_bytes(p) for p in tree))
            if time.perf_counter() - started > timeout:
                timed_out = True
                for p in reversed(tree):  # only the tree started here, children first
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                popen.wait()
                break
            time.sleep(interval)
    seconds = time.perf_counter() - started
    ok = popen.returncode == 0 and not timed_out
    tail = "" if ok else "\n".join(err.read_text(errors="replace").splitlines()[-40:])
    if timed_out:
        tail += f"\n(killed after the {timeout:.0f} s timeout)"
    return Measured(name, ok, seconds, peak, stderr_tail=tail, cpu_seconds=children_cpu() - cpu_before)


def run_assets(data_dir: Path, assets: list[str], timeout: float) -> list[Measured]:
    from fma_pipeline.cli import QUIET_WARNINGS

    env = {**os.environ, "FMA_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(data_dir / ".dagster"),
           "PYTHONWARNINGS": os.environ.get("PYTHONWARNINGS", QUIET_WARNINGS)}
    results = []
    for asset in assets:
        argv = [sys.executable, str(Path(__file__).resolve()), "--child-asset", asset, "--data-dir", str(data_dir)]
        logs = data_dir / "bench-logs"
        m = run_measured(argv, env, logs, asset, timeout)
        results.append(m)
        print(f"  {asset:<22} {'ok' if m.ok else 'FAILED':<7} {m.seconds:9.1f} s (CPU {m.cpu_seconds:.0f} s)  "
              f"peak {mib(m.peak_bytes):8.0f} MiB  load {load_average()}", flush=True)
        if not m.ok:
            print(f"--- tail of {asset}'s stderr ({logs / (asset + '.stderr')}):\n{m.stderr_tail}\n---")
            break
    return results


# ----------------------------------------------------------------------------- report

def mib(n: float) -> float:
    return n / 2**20


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def print_results(data_dir: Path, results: list[Measured], targets: str | None, planned: list[str]) -> None:
    from fma_pipeline.cli import results_table
    from fma_pipeline.core.storage import read_parquet

    table = pd.DataFrame([{"asset": m.asset, "status": "ok" if m.ok else "FAILED", "seconds": m.seconds,
                           "cpu_seconds": m.cpu_seconds, "peak_MiB": mib(m.peak_bytes)} for m in results])
    total, peak = float(table["seconds"].sum()), float(table["peak_MiB"].max())
    print("\nPer asset (wall time; CPU time and peak RSS of the whole process tree):")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    print(f"total: {total:.1f} s ({total / 60:.1f} min) over {len(results)} asset(s), highest peak {peak:.0f} MiB")
    comparison = DataRoot(data_dir).path(CLASSIFIER_COMPARISON)
    if comparison.exists():
        models = read_parquet(comparison)  # the champion first
        fields = [c for c in ("model", "branch", "families", "macro_f1", "accuracy", "balanced_accuracy",
                              "majority_baseline", "validation_macro_f1", "cv_macro_f1", "n_test", "fit_seconds")
                  if c in models]
        print("\nEvery model (held-out test split; the champion first, chosen by validation_macro_f1 when "
              "present, else cv_macro_f1):")
        print(models[fields].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        gap = float(models["macro_f1"].max() - models["macro_f1"].iloc[0])
        print(f"champion {models['model'].iloc[0]}/{models['branch'].iloc[0]}: test macro-F1 "
              f"{models['macro_f1'].iloc[0]:.3f}, {gap:.3f} below the best model this run trained "
              f"({'within' if gap <= 0.01 else 'NOT within'} 0.01)")
    if DataRoot(data_dir).path(LEVEL_COMPARISON).exists():
        print("\n" + results_table(data_dir, 1))
    if targets:
        seconds = dict(zip(table["asset"], table["seconds"]))
        peaks = dict(zip(table["asset"], table["peak_MiB"]))
        limits = {"medium": [("all downstream assets <= 45 min", total <= 45 * 60),
                             ("genre_classifiers <= 10 min", seconds.get("genre_classifiers", np.inf) <= 10 * 60),
                             ("genre_classifiers peak <= 2 GiB", peaks.get("genre_classifiers", np.inf) <= 2 * 1024),
                             ("peak <= 6 GiB", peak <= 6 * 1024)],
                  "large": [("all downstream assets <= 4 h", total <= 4 * 3600), ("peak <= 12 GiB", peak <= 12 * 1024),
                            ("genre_classifiers <= 45 min", seconds.get("genre_classifiers", np.inf) <= 45 * 60)]}
        complete = all(m.ok for m in results) and len(results) == len(planned)
        tracks_csv = DataRoot(data_dir).tracks_csv
        n_tracks = 0
        if tracks_csv.exists():
            with open(tracks_csv, "rb") as handle:
                n_tracks = sum(1 for _ in handle) - 3  # two header rows and the track_id row
        print(f"\nTargets ({targets}, meant for {TARGET_TRACKS[targets]:,} tracks; this data root has {n_tracks:,}"
              f"{'' if complete else '; an asset failed or was not run, so every target is a MISS'}):")
        for text, passed in limits[targets]:
            print(f"  {'PASS' if passed and complete else 'MISS'}  {text}")


#: The data size each set of targets is meant for.
TARGET_TRACKS = {"medium": FMA_MEDIUM_TRACKS, "large": 106_574}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="data root (default: a new temporary folder, kept)")
    parser.add_argument("--tracks", type=int, default=FMA_MEDIUM_TRACKS,
                        help="tracks to generate (25000 = fma_medium, 106574 = fma_large)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-generate", action="store_true", help="reuse the data in --data-dir")
    parser.add_argument("--generate-only", action="store_true", help="generate (and print the LDA check), no assets")
    parser.add_argument("--assets", nargs="+", help="only these assets (default: every downstream asset)")
    parser.add_argument("--timeout", type=float, default=6 * 3600, help="seconds per asset before it is killed")
    parser.add_argument("--targets", choices=["medium", "large"], help="print PASS/MISS against these targets")
    parser.add_argument("--child-asset", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_asset:
        child_materialise(args.child_asset, args.data_dir.resolve())
        return 0
    if args.skip_generate and not args.data_dir:
        parser.error("--skip-generate needs --data-dir")
    data_dir = (args.data_dir or Path(tempfile.mkdtemp(prefix="fma-scale-"))).resolve()
    print(f"data root: {data_dir}\nload average at start: {load_average()}", flush=True)
    if not args.skip_generate:
        import resource

        print(f"generating {args.tracks:,} tracks (seed {args.seed}):", flush=True)
        started = time.perf_counter()
        plan, clip = generate(data_dir, args.tracks, args.seed)
        seconds = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(f"generation: {seconds:.1f} s, peak RSS {mib(peak):.0f} MiB", flush=True)
        accuracy, n_fit, n_test = lda_accuracy(plan, clip)
        print(f"sanity check: shrinkage LDA (standardised, {n_fit:,} train+validation -> {n_test:,} test tracks, "
              f"12 genres) accuracy {accuracy:.3f} (FMA-like target ~0.59 at 25,000 tracks)", flush=True)
        del plan, clip
    if args.generate_only:
        print(f"load average at end: {load_average()}")
        return 0
    known = downstream_assets()
    unknown = sorted(set(args.assets or []) - set(known))
    if unknown:
        parser.error(f"unknown asset(s) {unknown}; downstream assets: {known}")
    assets = [a for a in known if not args.assets or a in args.assets]
    print(f"materialising {len(assets)} asset(s), one subprocess each: {', '.join(assets)}", flush=True)
    results = run_assets(data_dir, assets, args.timeout)
    not_run = assets[len(results):]
    if not_run:
        print(f"not run after the failure: {', '.join(not_run)}")
    print_results(data_dir, results, args.targets, assets)
    print(f"\nload average at end: {load_average()}")
    return 0 if all(m.ok for m in results) and len(results) == len(assets) else 1


if __name__ == "__main__":
    sys.exit(main())
