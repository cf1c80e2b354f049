"""The procedural synthesiser: contract (shape, peak, determinism) and learnability.

Learnability is checked the way the pipeline will use the audio: simple librosa features
of short clips and a cross-validated random forest. The thresholds ask for "clearly
learnable", not for perfection: the styles vary inside a genre and overlap their
neighbours on purpose.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from fma_pipeline.core.sample.engine import render_clip
from fma_pipeline.core.sample.styles import STYLE_PARENT, STYLE_TITLES, STYLES, Style

TOP_LEVEL = (12, 15, 21, 17, 4, 5, 10, 1235, 38, 3, 9, 14, 2)
SUBGENRES = {25: 12, 31: 12, 181: 15, 42: 15, 539: 21, 542: 21, 74: 4, 179: 4, 442: 5, 444: 5}
TITLES = {
    12: "Rock", 15: "Electronic", 21: "Hip-Hop", 17: "Folk", 4: "Jazz", 5: "Classical", 10: "Pop",
    1235: "Instrumental", 38: "Experimental", 3: "Blues", 9: "Country", 14: "Soul-RnB", 2: "International",
    25: "Punk", 31: "Metal", 181: "Techno", 42: "Ambient Electronic", 539: "Rap", 542: "Breakbeat",
    74: "Free-Jazz", 179: "Big Band/Swing", 442: "Chamber Music", 444: "Symphony",
}
SR = 22_050
SECONDS = 10.0
LEARN_GENRES = (12, 15, 21, 17, 4, 5)  # FMA's most common roots
N_LEARN = 10
N_PAIR = 8


def test_genre_tables_match_fma():
    assert STYLE_TITLES == TITLES
    assert set(STYLES) == set(TITLES)
    assert STYLE_PARENT == SUBGENRES
    assert all(isinstance(s, Style) for s in STYLES.values())
    for genre, style in STYLES.items():  # crossover only borrows from genres that exist
        assert style.neighbours and set(style.neighbours) <= set(STYLES) - {genre}
    for sub, parent in STYLE_PARENT.items():  # derived from the parent, yet different
        assert STYLES[sub] != STYLES[parent]
        assert STYLES[sub].title == TITLES[sub]


def test_full_clip_shape_dtype_peak():
    clip = render_clip(12, np.random.default_rng(0))
    assert clip.shape == (30 * 44_100, 2)
    assert clip.dtype == np.float32
    assert clip.flags.c_contiguous
    assert np.isfinite(clip).all()
    assert 0.05 < np.abs(clip).max() <= 0.99
    assert not np.array_equal(clip[:, 0], clip[:, 1])  # really stereo


@pytest.mark.parametrize("genre", sorted(STYLES))
def test_every_style_renders(genre):
    clip = render_clip(genre, np.random.default_rng([3, genre]), sr=SR, seconds=4.0)
    assert clip.shape == (4 * SR, 2) and clip.dtype == np.float32
    assert np.isfinite(clip).all()
    peak = np.abs(clip).max()
    assert 0.01 < peak <= 0.99
    rms = np.sqrt(np.mean(clip.astype(np.float64) ** 2))
    assert rms > 1e-3  # not silent


@pytest.mark.parametrize(("sr", "seconds"), [(44_100, 2.5), (8_000, 1.0), (48_000, 0.01)])
def test_odd_rates_and_lengths(sr, seconds):
    clip = render_clip(31, np.random.default_rng(1), sr=sr, seconds=seconds)
    assert clip.shape == (round(sr * seconds), 2)
    assert np.abs(clip).max() <= 0.99


def test_deterministic_given_rng_state():
    a = render_clip(4, np.random.default_rng(123), sr=SR, seconds=6.0)
    b = render_clip(4, np.random.default_rng(123), sr=SR, seconds=6.0)
    c = render_clip(4, np.random.default_rng(124), sr=SR, seconds=6.0)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    rng = np.random.default_rng(7)
    first, second = render_clip(15, rng, sr=SR, seconds=3.0), render_clip(15, rng, sr=SR, seconds=3.0)
    assert not np.array_equal(first, second)  # the rng state advances


def test_unknown_genre_is_rejected():
    with pytest.raises(KeyError):
        render_clip(99999, np.random.default_rng(0))


def test_styles_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        STYLES[12].tempo = (1, 2)  # type: ignore[misc]


def test_render_is_fast():
    """The target is well under 0.15 s per 30 s clip; this bound only catches regressions."""
    times = []
    for seed in range(5):
        start = time.perf_counter()
        render_clip(TOP_LEVEL[seed], np.random.default_rng(seed))
        times.append(time.perf_counter() - start)
    assert np.median(times) < 0.5


# --------------------------------------------------------------------------- learnability


def _features(clip: np.ndarray, mel_basis: np.ndarray) -> np.ndarray:
    """Mean/std of 20 MFCCs; spectral centroid, zcr, rms, onset strength and tempo."""
    import librosa

    y = clip.mean(axis=1)
    spec = np.abs(librosa.stft(y, n_fft=2048, hop_length=512))
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel_basis @ spec**2), n_mfcc=20)
    freqs = librosa.fft_frequencies(sr=SR, n_fft=2048)
    centroid = (freqs @ spec) / (spec.sum(axis=0) + 1e-9)
    frames = librosa.util.frame(y, frame_length=2048, hop_length=512)
    zcr = np.mean(np.diff(np.signbit(frames), axis=0), axis=0)
    rms = librosa.feature.rms(S=spec)[0]
    onset = librosa.onset.onset_strength(S=librosa.amplitude_to_db(spec), sr=SR)
    tempo = librosa.feature.tempo(onset_envelope=onset, sr=SR)[0]
    scalars = [centroid.mean(), centroid.std(), zcr.mean(), zcr.std(), rms.mean(), rms.std(),
               onset.mean(), onset.std(), tempo]
    return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1), scalars])


@pytest.fixture(scope="module")
def features() -> dict[int, np.ndarray]:
    import librosa
    from threadpoolctl import threadpool_limits

    mel_basis = librosa.filters.mel(sr=SR, n_fft=2048)
    genres = sorted(set(LEARN_GENRES) | set(SUBGENRES) | set(SUBGENRES.values()))
    out = {}
    with threadpool_limits(1):  # multi-threaded BLAS on small matrices is slow on a busy machine
        for genre in genres:
            n = N_LEARN if genre in LEARN_GENRES else N_PAIR
            clips = (render_clip(genre, np.random.default_rng([2024, genre, i]), sr=SR, seconds=SECONDS)
                     for i in range(n))
            out[genre] = np.array([_features(clip, mel_basis) for clip in clips])
    return out


def _cv_accuracy(features: dict[int, np.ndarray], genres) -> float:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    x = np.concatenate([features[g] for g in genres])
    y = np.concatenate([[g] * len(features[g]) for g in genres])
    model = RandomForestClassifier(n_estimators=100, random_state=0)
    return float(cross_val_score(model, x, y, cv=StratifiedKFold(5, shuffle=True, random_state=0)).mean())


def test_top_level_genres_are_learnable(features):
    accuracy = _cv_accuracy(features, LEARN_GENRES)
    print(f"\n5-fold CV accuracy, {len(LEARN_GENRES)} top-level genres x {N_LEARN} clips: {accuracy:.3f}")
    assert accuracy > 0.6  # chance is 1/6


def test_subgenres_differ_from_their_parent(features):
    accuracies = {sub: _cv_accuracy(features, (parent, sub)) for sub, parent in SUBGENRES.items()}
    mean = float(np.mean(list(accuracies.values())))
    print("\nparent vs sub-genre CV accuracy: "
          + ", ".join(f"{TITLES[s]} {a:.2f}" for s, a in accuracies.items()) + f"; mean {mean:.3f}")
    assert mean > 0.6  # chance is 0.5
