"""The 708 features: FMA's 518 as FMA's ``features.py`` computes them, plus mfcc_corr.

The reference (``reference_features.py``) makes features.py's own librosa calls, in its
order, on ``librosa.load(path, sr=None, mono=True)``. The project decodes with soundfile
and reorganises the arithmetic (one tuning pass on piptrack's rows, cached CQT filters,
shared spectrogram passes, vectorised statistics). Every family is held to the
reference on MP3s like FMA's: gtzan-mini clips resampled to 44.1 kHz (from
``../shared/data``, skipped when absent) and generated 44.1 kHz stereo tones, chords and
noise (always). Tolerance: per family, the worst column's median relative difference
over the clips is at most 1e-4 (observed: <= 3e-6; see docs/features.md).
"""

from __future__ import annotations

import warnings

import librosa
import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import soxr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats

from fma_pipeline.core.audio import spectral
from fma_pipeline.core.audio.cqt import cqt_magnitude
from fma_pipeline.core.audio.decode import decode
from fma_pipeline.core.audio.features import (
    FEATURE_SIZES, LIBROSA_DEFAULT_SR, N_FEATURES, N_FMA_FEATURES, STATISTICS, FeatureConfig, extract, feature_columns,
    frame_series, summarise,
)
from fma_pipeline.core.audio.tuning import estimate_tuning
from fma_pipeline.core.audio.windows import SegmentConfig, segment_rows
from fma_pipeline_tests.reference_features import family_differences, load, reference_file_features

FMA_SR = 44_100
#: Per family: the worst column's median relative difference from features.py (issue #21).
FAMILY_RTOL = 1e-4
#: gtzan-mini clips in the default run (one per genre family of sounds); all 70 with -m slow.
GTZAN_CLIPS = ("blues.00000", "classical.00000", "metal.00000", "reggae.00000")
OFFSETS = dict(zip(FEATURE_SIZES, np.cumsum([0, *FEATURE_SIZES.values()]).tolist()))


def write_mp3(path, data: np.ndarray, sr: int = FMA_SR) -> None:
    """128 kbps constant-bit-rate MP3, like FMA's."""
    sf.write(path, (0.9 * data / np.abs(data).max()).astype(np.float32), sr, format="MP3",
             compression_level=0.65, bitrate_mode="CONSTANT")


def generated_clips(folder, seconds: float = 8.0) -> list:
    """44.1 kHz stereo MP3s: a chord with a beat, a pure tone, pink-ish noise, a detuned melody."""
    rng = np.random.default_rng(21)
    t = np.arange(int(seconds * FMA_SR)) / FMA_SR
    since_beat = t % 0.5
    beat = 0.6 * np.sin(2 * np.pi * 60 * since_beat) * np.exp(-since_beat * 25)
    chord = sum(0.2 / k * np.sin(2 * np.pi * k * f * t + rng.uniform(0, 2 * np.pi))
                for f in (220.0, 277.18, 329.63) for k in (1, 2, 3))
    tone = 0.5 * np.sin(2 * np.pi * 523.25 * t)
    noise = np.cumsum(rng.standard_normal(t.size)) * 1e-3
    noise = noise - np.convolve(noise, np.ones(441) / 441, mode="same") + 0.05 * rng.standard_normal(t.size)
    notes = 440.0 * 2 ** ((rng.integers(-12, 12, 16) + 0.3) / 12)  # 30 cents sharp
    melody = 0.4 * np.sin(2 * np.pi * np.cumsum(np.repeat(notes, -(-t.size // 16))[:t.size]) / FMA_SR)
    clips = {"chord": (chord + beat, 0.8 * chord + beat), "tone": (tone, 0.5 * tone),
             "noise": (noise, np.roll(noise, 100)), "melody": (melody + 0.02 * rng.standard_normal(t.size), melody)}
    paths = []
    for name, (left, right) in clips.items():
        write_mp3(folder / f"{name}.mp3", np.stack([left, right], axis=1))
        paths.append(folder / f"{name}.mp3")
    return paths


def gtzan_mp3s(gtzan_dir, folder, names) -> list:
    """gtzan-mini clips (22.05 kHz WAV) resampled to 44.1 kHz and encoded as MP3, like FMA's."""
    paths = []
    for name in names:
        y, sr = sf.read(gtzan_dir / f"{name}.wav", dtype="float32")
        write_mp3(folder / f"{name}.mp3", soxr.resample(y, sr, FMA_SR, quality="HQ"))
        paths.append(folder / f"{name}.mp3")
    return paths


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    return generated_clips(tmp_path_factory.mktemp("generated"))


def project_features(path) -> np.ndarray:
    """The project's 708 features of a file at its own rate."""
    return extract(decode(path, sr=FMA_SR), FeatureConfig(sr=FMA_SR)).astype(np.float64)


def check_families(paths) -> pd.DataFrame:
    """Assert the issue's tolerance per family; returns the per-family table."""
    ours = pd.DataFrame([project_features(p) for p in paths], columns=feature_columns())
    ref = pd.DataFrame([reference_file_features(p).to_numpy() for p in paths], columns=feature_columns())
    assert np.isfinite(ours.to_numpy()).all() and np.isfinite(ref.to_numpy()).all()
    table = family_differences(ours, ref)
    assert set(table.index) == {*FEATURE_SIZES, "mfcc_corr"}
    bad = table[table["worst_median"] > FAMILY_RTOL]
    assert bad.empty, bad.to_string()
    return table


def test_every_family_matches_features_py_on_generated_mp3s(generated):
    """Tones, a chord, noise and a detuned melody, 44.1 kHz stereo MP3: no shared data needed."""
    check_families(generated)


def test_every_family_matches_features_py_on_real_music(gtzan_dir, tmp_path):
    check_families(gtzan_mp3s(gtzan_dir, tmp_path, GTZAN_CLIPS))


@pytest.mark.slow
def test_every_family_matches_features_py_on_all_of_gtzan_mini(gtzan_dir, tmp_path):
    names = sorted(p.stem for p in gtzan_dir.glob("*.wav"))
    check_families(gtzan_mp3s(gtzan_dir, tmp_path, names))


def test_decode_is_librosa_load_at_the_native_rate(generated, gtzan_dir, tmp_path):
    """soundfile + the (L + R) * 0.5 mix gives librosa.load(sr=None, mono=True)'s samples, stereo and mono."""
    for path in [*generated, *gtzan_mp3s(gtzan_dir, tmp_path, GTZAN_CLIPS[:1])]:
        x, sr = load(path)
        assert sr == FMA_SR
        np.testing.assert_array_equal(decode(path, sr=FMA_SR), x)


def test_tuning_is_librosas_exactly(generated):
    """Both of features.py's tuning estimates, from piptrack's rows only, give librosa's very value."""
    for path in generated:
        x, sr = load(path)
        magnitude = np.abs(librosa.stft(x, n_fft=2048, hop_length=512))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Trying to estimate tuning", UserWarning)
            # inside librosa.cqt(tuning=None): piptrack on the waveform's magnitude STFT at the real sr
            assert estimate_tuning(magnitude, sr) == librosa.estimate_tuning(y=x, sr=sr, bins_per_octave=12)
            # inside chroma_stft(S=stft**2): the power spectrogram at the assumed 22,050 Hz
            power = magnitude**2
            assert estimate_tuning(power, LIBROSA_DEFAULT_SR) == librosa.estimate_tuning(S=power, bins_per_octave=12)


def test_cqt_is_librosas(generated):
    x, sr = load(generated[0])
    for tuning in (0.0, -0.27):
        ours = cqt_magnitude(x, sr, tuning)
        theirs = np.abs(librosa.cqt(x, sr=sr, hop_length=512, bins_per_octave=12, n_bins=84, tuning=tuning))
        assert ours.shape == theirs.shape
        assert np.abs(ours - theirs).max() <= 1e-5 * theirs.max()


def test_cqt_filter_sparsification_is_librosas():
    """The CQT plans' dense stand-in for librosa.util.sparsify_rows keeps exactly librosa's entries."""
    from fma_pipeline.core.audio.cqt import _sparsify_rows

    rng = np.random.default_rng(3)
    x = rng.standard_normal((12, 129)) * np.exp(-rng.uniform(0, 12, (12, 129))) + 1j * rng.standard_normal((12, 129))
    x[:, ::7] = 0
    expected = librosa.util.sparsify_rows(x, quantile=0.01, dtype=np.complex64).toarray()
    np.testing.assert_array_equal(_sparsify_rows(x, quantile=0.01, dtype=np.complex64), expected)


def test_cqt_wavelets_are_librosas():
    """The CQT plans' filter bases are librosa.filters.wavelet's, bit for bit, at several rates and tunings."""
    from librosa import filters

    from fma_pipeline.core.audio.cqt import _wavelet

    for sr, tuning in ((44_100, 0.0), (22_050, -0.31), (48_000, 0.17)):
        freqs = librosa.cqt_frequencies(n_bins=84, fmin=librosa.note_to_hz("C1") * 2.0 ** (tuning / 12))
        alpha = filters._relative_bandwidth(freqs=freqs)
        for band in (slice(-12, None), slice(-48, -36), slice(0, 12)):
            ours, our_lengths = _wavelet(freqs[band], sr / 4, alpha[band])
            theirs, their_lengths = filters.wavelet(freqs=freqs[band], sr=sr / 4, filter_scale=1, norm=1, pad_fft=True,
                                                    window="hann", gamma=0, alpha=alpha[band])
            np.testing.assert_array_equal(ours, theirs)
            np.testing.assert_array_equal(our_lengths, their_lengths)


def test_spectral_passes_are_librosas(generated):
    x, sr = load(generated[0])
    stft = np.abs(librosa.stft(x, n_fft=2048, hop_length=512))
    freq = librosa.fft_frequencies(sr=LIBROSA_DEFAULT_SR, n_fft=2048)
    centroid, bandwidth = spectral.centroid_and_bandwidth(stft, freq)
    np.testing.assert_allclose(centroid, librosa.feature.spectral_centroid(S=stft), rtol=1e-6)
    np.testing.assert_allclose(bandwidth, librosa.feature.spectral_bandwidth(S=stft), rtol=1e-5)
    magnitude, power = spectral.stft_magnitude(x, n_fft=2048, hop_length=512)
    np.testing.assert_array_equal(magnitude, stft)  # bit for bit, and Fortran-ordered like librosa's
    np.testing.assert_array_equal(power, stft * stft)
    assert magnitude.flags.f_contiguous and power.flags.f_contiguous
    short = x[:1500]  # shorter than a frame: librosa pads the whole signal at once
    np.testing.assert_array_equal(spectral.stft_magnitude(short)[0], np.abs(librosa.stft(short, n_fft=2048)))
    np.testing.assert_array_equal(spectral.rolloff(stft, freq), librosa.feature.spectral_rolloff(S=stft))
    np.testing.assert_array_equal(spectral.rolloff(np.ascontiguousarray(stft), freq),
                                  librosa.feature.spectral_rolloff(S=stft))  # C order: the row-by-row sum
    np.testing.assert_allclose(spectral.contrast(stft, freq, LIBROSA_DEFAULT_SR),
                               librosa.feature.spectral_contrast(S=stft, n_bands=6), rtol=1e-5)
    np.testing.assert_allclose(spectral.rms_from_power(stft**2), librosa.feature.rms(S=stft), rtol=1e-5)
    basis = librosa.filters.mel(sr=sr, n_fft=2048, n_mels=128)
    dense = basis @ stft**2
    np.testing.assert_allclose(spectral.MelBank(basis) @ stft**2, dense, rtol=1e-5, atol=1e-12 * dense.max())
    np.testing.assert_array_equal(spectral.zero_crossing_rate(x),
                                  librosa.feature.zero_crossing_rate(x, frame_length=2048, hop_length=512))
    # zeros, negative zeros and values within librosa's 1e-10 of zero count as positive
    edgy = np.random.default_rng(0).choice(np.float32([-0.0, 0.0, -1e-11, 1e-11, -0.5, 0.5]), 20_000)
    np.testing.assert_array_equal(spectral.zero_crossing_rate(edgy),
                                  librosa.feature.zero_crossing_rate(edgy, frame_length=2048, hop_length=512))
    # frames of whole hops (summed hop by hop) and not (one cumulative sum), signals shorter than a frame
    rng = np.random.default_rng(1)
    for n, frame, hop in ((1, 2048, 512), (700, 2048, 512), (5_000, 2048, 2048), (9_999, 1000, 300), (4_321, 64, 16)):
        for z in (rng.standard_normal(n).astype(np.float32), rng.choice(edgy, n)):
            np.testing.assert_array_equal(spectral.zero_crossing_rate(z, frame_length=frame, hop_length=hop),
                                          librosa.feature.zero_crossing_rate(z, frame_length=frame, hop_length=hop))


def sine(hz: float, sr: int = FMA_SR, seconds: float = 5.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.mark.parametrize("sr", [22_050, 44_100])
def test_spectral_frequencies_assume_22050_hz_as_fma(sr):
    """features.py gives spectral_centroid / rolloff no sr: librosa takes 22,050 Hz, so at
    44.1 kHz a 1 kHz sine reads 500 Hz (FMA's columns mean that); at 22.05 kHz it is right."""
    features = pd.Series(extract(sine(1000.0, sr), FeatureConfig(sr=sr)), index=feature_columns())
    expected = 1000.0 * LIBROSA_DEFAULT_SR / sr
    assert features[("spectral_centroid", "median", "01")] == pytest.approx(expected, rel=0.01)
    assert features[("spectral_rolloff", "median", "01")] == pytest.approx(expected, rel=0.05)


def test_chroma_cqt_maps_36_bins_per_octave_as_fma():
    """features.py maps its 12-bins-per-octave CQT with librosa's default of 36 bins per
    octave: A4 (pitch class 9) lands in D# (3) in chroma_cqt and chroma_cens, while
    chroma_stft (from the STFT) still says A."""
    series = frame_series(sine(440.0), FeatureConfig(sr=FMA_SR))
    for family, pitch_class in (("chroma_cqt", 3), ("chroma_cens", 3), ("chroma_stft", 9)):
        chroma = series[OFFSETS[family]:OFFSETS[family] + 12]
        assert chroma.mean(axis=1).argmax() == pitch_class, family


def test_rmse_is_from_the_windowed_spectrum_as_fma():
    """features.py's rmse is rms(S=stft): a Hann-windowed frame's RMS, sqrt(3/8) of the
    waveform's (0.5 / sqrt(2) for this sine), not the waveform RMS."""
    features = pd.Series(extract(sine(1000.0), FeatureConfig(sr=FMA_SR)), index=feature_columns())
    assert features[("rmse", "median", "01")] == pytest.approx(0.5 / np.sqrt(2) * np.sqrt(3 / 8), rel=1e-3)


def test_windows_are_the_clip_statistics_of_each_slice(generated):
    config = FeatureConfig(sr=FMA_SR)
    series = frame_series(decode(generated[0], sr=FMA_SR), config)
    rows = segment_rows(series, SegmentConfig(), config)
    length, _ = SegmentConfig().frames(config)
    assert rows.shape == (series.shape[1] // length, N_FEATURES)
    for i, row in enumerate(rows):
        np.testing.assert_array_equal(row, summarise(series[:, i * length:(i + 1) * length]))


def test_summarise_equals_numpy_and_scipy_per_series():
    rng = np.random.default_rng(0)
    n = 157
    # rows of different shapes and scales: normal, skewed, heavy-tailed, constant-ish
    series = np.stack([rng.normal(i, 1 + i, n) if i % 3 == 0 else
                       rng.exponential(1 + i, n) if i % 3 == 1 else
                       rng.standard_t(3, n) * (i + 1) for i in range(74)])
    series[5] = 2.5 + 1e-3 * rng.standard_normal(n)
    series[6] = 1.0  # a constant row (a chroma bin pinned by a drone)
    got = pd.Series(summarise(series), index=feature_columns())
    assert got.dtype == np.float32 and got.shape == (N_FEATURES,)
    assert np.isfinite(got).all()
    functions = {"kurtosis": stats.kurtosis, "max": np.max, "mean": np.mean, "median": np.median,
                 "min": np.min, "skew": stats.skew, "std": np.std}
    # As features.py holds them: chroma_cqt and chroma_stft float32, frame-major (librosa's
    # layout), so numpy and scipy sum in float32 frame by frame; the rest at full precision.
    blocks = {family: series[OFFSETS[family]:OFFSETS[family] + size] for family, size in FEATURE_SIZES.items()}
    for family in ("chroma_cqt", "chroma_stft"):
        blocks[family] = np.asfortranarray(blocks[family].astype(np.float32))
    for (family, stat, number), value in got.items():
        if family == "mfcc_corr":  # the Pearson correlation of two MFCC series
            i, j = (OFFSETS["mfcc"] + int(k) - 1 for k in number.split("-"))
            assert value == pytest.approx(np.corrcoef(series[i], series[j])[0, 1], rel=1e-5, abs=1e-7)
            continue
        block, row = blocks[family], int(number) - 1
        if stat in ("skew", "kurtosis") and block[row].min() == block[row].max():
            expected = 0.0  # scipy: NaN; the project's one deliberate difference
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                expected = functions[stat](block, axis=1)[row]
        assert value == pytest.approx(expected, rel=1e-6, abs=1e-9), (family, stat, number)


def test_columns_are_fmas_then_the_mfcc_correlations():
    columns, fma, extra = feature_columns(), feature_columns()[:518], feature_columns()[518:]
    assert len(fma) == N_FMA_FEATURES == 518 == 74 * len(STATISTICS) and len(columns) == N_FEATURES == 708
    assert list(columns.names) == ["feature", "statistics", "number"]
    assert columns.is_unique and fma.is_monotonic_increasing  # FMA's sorted order
    assert list(extra) == [("mfcc_corr", "corr", f"{i:02d}-{j:02d}") for i in range(1, 21) for j in range(i + 1, 21)]
    columns = fma
    for name in [("mfcc", "mean", "01"), ("mfcc", "kurtosis", "20"), ("rmse", "max", "01"),
                 ("spectral_contrast", "std", "07"), ("tonnetz", "skew", "06"),
                 ("chroma_cens", "median", "12"), ("zcr", "min", "01")]:
        assert name in columns
    assert set(columns.get_level_values("feature")) == {
        "chroma_cens", "chroma_cqt", "chroma_stft", "mfcc", "rmse", "spectral_bandwidth",
        "spectral_centroid", "spectral_contrast", "spectral_rolloff", "tonnetz", "zcr"}
    assert set(columns.get_level_values("statistics")) == {
        "kurtosis", "max", "mean", "median", "min", "skew", "std"}
    assert ("mfcc", "mean", "21") not in columns and ("rms", "mean", "01") not in columns
    sizes = pd.Series(columns.get_level_values("feature")).value_counts() // 7
    assert sizes.to_dict() == FEATURE_SIZES


@settings(max_examples=30, deadline=None)
@given(arrays(np.float32, st.tuples(st.just(74), st.integers(10, 200)),
              elements=st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32)))
def test_summarise_orders_its_statistics(series):
    got = pd.Series(summarise(series), index=feature_columns())
    assert np.isfinite(got).all()  # constant rows included: their skew and kurtosis are 0
    for family, size in FEATURE_SIZES.items():
        table = got.loc[family].unstack("statistics")  # rows: series number
        assert len(table) == size
        assert (table["min"] <= table["median"]).all()
        assert (table["median"] <= table["max"]).all()
        # chroma_cqt and chroma_stft are summed frame by frame in float32, as FMA's code
        # does: their mean may stray from [min, max] by that rounding (n * eps32 * scale)
        slack = 200 * 1.2e-7 * table[["min", "max"]].abs().max(axis=1)
        assert (table["min"] - slack <= table["mean"]).all() and (table["mean"] <= table["max"] + slack).all()
        assert (table["std"] >= 0).all()
    assert got.loc["mfcc_corr"].between(-1.0, 1.0).all()


def test_windows_vote_per_track_in_chunks():
    """Windows inherit their track's label; a track's probabilities are its windows' mean, across chunks."""
    from sklearn.linear_model import LogisticRegression

    from fma_pipeline.core.learning import segments
    from fma_pipeline.core.audio.windows import segment_frame
    from fma_pipeline.core.learning.segments import track_labels, track_proba, vote

    rng = np.random.default_rng(0)
    rows = {tid: rng.normal(loc=(3.0 if tid % 2 else -3.0), size=(3 if tid != 5 else 1, N_FEATURES)) for tid in range(1, 9)}
    windows = segment_frame(rows)
    assert windows.shape == (22, N_FEATURES) and windows.dtypes.eq(np.float32).all()
    labels = pd.Series(["odd" if t % 2 else "even" for t in range(1, 9)], index=range(1, 9))
    model = LogisticRegression(max_iter=500).fit(windows, track_labels(windows, labels))
    assert list(vote(model, windows)) == list(labels)
    whole = track_proba(model, windows)
    assert list(whole.index) == list(range(1, 9)) and np.allclose(whole.sum(axis=1), 1.0)
    expected = pd.DataFrame(model.predict_proba(windows), index=windows.index).groupby(level=0).mean()
    np.testing.assert_allclose(whole.to_numpy(), expected.to_numpy())
    chunk, segments.PREDICT_CHUNK = segments.PREDICT_CHUNK, 4  # tracks split across chunks
    try:
        np.testing.assert_allclose(track_proba(model, windows).to_numpy(), expected.to_numpy())
    finally:
        segments.PREDICT_CHUNK = chunk
