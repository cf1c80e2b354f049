"""bench/scale.py's generator writes FMA-size data in exactly the pipeline's layout (tiny size here)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fma_pipeline.core.audio.extraction import FILE_COLUMNS, empty_errors, empty_features
from fma_pipeline.core.audio.definition import DEFINITION_ATTR
from fma_pipeline.core.audio.features import FeatureConfig, flat_feature_names
from fma_pipeline.core.learning.selection import LabelConfig, select_tracks
from fma_pipeline.core.fma.metadata import check_genre_ids, read_genres, read_tracks
from fma_pipeline.core.storage import read_parquet
from fma_pipeline.core.fma.subgenres import derive_subgenres

BENCH = Path(__file__).resolve().parents[1] / "bench" / "scale.py"
N_TRACKS, FOLDERS = 400, 8  # a folder's Parquet costs ~0.3 s to write whatever its size: few folders


@pytest.fixture(scope="module")
def scale():
    spec = importlib.util.spec_from_file_location("bench_scale", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generated(scale, tmp_path_factory):
    root = tmp_path_factory.mktemp("scale")
    plan, clip = scale.generate(root, N_TRACKS, seed=3, folders=FOLDERS, log=lambda *_: None)
    return root, plan, clip


def test_tracks_csv_is_fma_format_with_fma_proportions_and_artist_split(scale, generated):
    root, plan, _ = generated
    tracks = read_tracks(root / "fma_metadata" / "tracks.csv")
    check_genre_ids(tracks, read_genres(root / "fma_metadata" / "genres.csv"), "tracks.csv")
    assert len(tracks) == N_TRACKS and tracks.index.is_unique
    counts = tracks[("track", "genre_top")].value_counts()
    assert counts.to_dict() == {g: n for g, n in scale.scaled_counts(N_TRACKS).items() if n}
    for genre, n in scale.FMA_MEDIUM_GENRES.items():  # FMA medium's shares, to rounding
        assert abs(counts.get(genre, 0) / N_TRACKS - n / 25_000) < 1.5 / N_TRACKS
    sides = tracks[("set", "split")].groupby(tracks[("artist", "id")], observed=True).nunique()
    assert (sides == 1).all()
    share = tracks[("set", "split")].value_counts(normalize=True)
    assert 0.7 < share["training"] < 0.9 and 0.04 < share["test"] < 0.18
    assert 40 < tracks[("artist", "id")].nunique() < 140  # ~1 artist per 5 tracks
    assert set(tracks[("set", "subset")]) == {"medium"}
    for top, ids, all_ids in zip(tracks[("track", "genre_top")], tracks[("track", "genres")],
                                 tracks[("track", "genres_all")]):
        assert set(ids) <= set(all_ids) and plan.tree.ids_by_title()[top] in all_ids


def test_feature_parquets_have_the_extraction_layout(scale, generated):
    root, plan, clip = generated
    template = empty_features()
    folders = sorted(p.stem for p in (root / "pipeline" / "track_features").glob("*.parquet"))
    assert folders == sorted({f"{t // 1000:03d}" for t in plan.tracks.index})
    assert all(f < f"{FOLDERS:03d}" for f in folders)
    seen = []
    for key in folders:
        features = read_parquet(root / "pipeline" / "track_features" / f"{key}.parquet")
        assert list(features.columns) == list(template.columns)
        assert features.columns.names == template.columns.names
        assert features.dtypes.equals(template.dtypes)
        assert features.index.name == "track_id" and features.index.dtype == np.int64
        assert (features.index // 1000 == int(key)).all()
        assert features.attrs[DEFINITION_ATTR] == FeatureConfig().definition  # feature_matrix refuses none
        values = features.drop(columns=list(FILE_COLUMNS)).to_numpy(np.float64)
        assert np.isfinite(values).all()
        assert list(features[FILE_COLUMNS[0]]) == [f"{t:06d}.mp3" for t in features.index]
        errors = read_parquet(root / "pipeline" / "track_feature_errors" / f"{key}.parquet")
        assert errors.empty and list(errors.columns) == list(empty_errors().columns)
        assert errors.dtypes.equals(empty_errors().dtypes)

        segments = read_parquet(root / "pipeline" / "segment_features" / f"{key}.parquet")
        assert segments.index.names == ["track_id", "segment"]
        assert segments.attrs[DEFINITION_ATTR] == FeatureConfig().definition
        assert list(segments.columns) == list(flat_feature_names())
        assert (segments.dtypes == np.float32).all() and np.isfinite(segments.to_numpy()).all()
        per_track = segments.groupby(level="track_id").size()
        assert per_track.index.equals(features.index)
        assert per_track.to_numpy().tolist() == plan.windows[plan.tracks.index.isin(features.index)].tolist()
        assert (per_track <= scale.WINDOWS).all()
        seen.append(features)
    # Windows scatter around their clip: noisier than clips, but nearer their own clip than another's.
    clips = pd.concat(seen).drop(columns=list(FILE_COLUMNS)).to_numpy(np.float64)
    windows = pd.concat(read_parquet(p) for p in sorted((root / "pipeline" / "segment_features").glob("*.parquet")))
    centre, spread = clips.mean(axis=0), clips.std(axis=0)
    z_clips = (clips - centre) / spread
    z_windows = (windows.to_numpy(np.float64) - centre) / spread
    assert z_windows.std(axis=0).mean() > 1.1
    owner = pd.concat(seen).index.get_indexer(windows.index.get_level_values("track_id"))
    own = np.linalg.norm(z_windows - z_clips[owner], axis=1)
    other = np.linalg.norm(z_windows - z_clips[(owner + 1) % len(z_clips)], axis=1)
    assert (own < other).mean() > 0.8
    assert sum(len(f) for f in seen) == N_TRACKS
    assert (plan.windows == scale.WINDOWS).mean() > 0.95


def test_blocking_asset_checks_pass(generated):
    from fma_pipeline.core.catalogue import DataRoot
    from fma_pipeline.orchestration.checks import non_finite_rows, stored_folders, wrong_widths

    root = DataRoot(generated[0])
    assert non_finite_rows(stored_folders(root)) == {}
    assert wrong_widths(stored_folders(root)) == {}


def test_default_plan_spreads_over_fma_folders_with_subgenres_and_fma_like_difficulty(scale):
    plan = scale.plan_tracks(5000, seed=1)
    folders = plan.tracks.index // 1000
    assert folders.min() <= 2 and folders.max() >= 153 and folders.nunique() > 140
    assert plan.tracks[("artist", "id")].nunique() == pytest.approx(1000, rel=0.15)
    selected = select_tracks(plan.tracks, plan.tree.ids_by_title(), LabelConfig())
    assert selected["genre"].nunique() == 12
    labels = derive_subgenres(selected, plan.tree)
    per_parent = labels.dropna(subset=["subgenre"]).groupby("genre")["subgenre"].nunique()
    assert per_parent.get("Rock", 0) >= 2 and per_parent.get("Electronic", 0) >= 2
    # Class structure, not separable noise: LDA well above the majority class, well below perfect.
    clip = scale.Columns.build(plan.latent, 1).rows(plan.latent, np.random.default_rng(0))
    accuracy, _, _ = scale.lda_accuracy(plan, clip)
    majority = (selected["genre"] == "Rock").mean()
    assert majority + 0.1 < accuracy < 0.8, accuracy
    assert pd.Series(plan.windows).isin(range(1, scale.WINDOWS + 1)).all()
