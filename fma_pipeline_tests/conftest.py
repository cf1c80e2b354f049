"""Shared fixtures: the real data beside the checkout, a tiny generated sample, data roots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
GENRES_CSV = SHARED_DATA / "fma_metadata" / "genres.csv"
GTZAN = SHARED_DATA / "gtzan-mini"

#: A small sample: every feature of the real one, a fraction of the size.
TINY = dict(tracks_per_genre=4, tracks_per_artist=2, seconds=6.0, sr=22_050, mixed_root_tracks=2)


def need(path: Path) -> Path:
    """Skip (with the reason) when real shared data is not beside the checkout."""
    if not path.exists():
        pytest.skip(f"real data not found at {path} (../shared/data is absent on a fresh clone)")
    return path


@pytest.fixture(scope="session")
def real_genres_csv() -> Path:
    return need(GENRES_CSV)


@pytest.fixture(scope="session")
def gtzan_dir() -> Path:
    return need(GTZAN)


@pytest.fixture(scope="session")
def tiny_sample(tmp_path_factory) -> Path:
    """A generated FMA-format data root, made once per test session (read-only for tests)."""
    from fma_pipeline.core.sample.dataset import SampleSpec, generate_sample

    root = tmp_path_factory.mktemp("tiny-sample")
    generate_sample(root, SampleSpec(**TINY))
    return root


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No test reads the developer's DAGSTER_HOME or FMA_DATA_DIR, or writes to the cwd."""
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.setenv("FMA_DATA_DIR", str(tmp_path / "data"))
    # numba JIT cache shared across sessions (gitignored), so workers start warm after the first run
    monkeypatch.setenv("NUMBA_CACHE_DIR", os.environ.get(
        "NUMBA_CACHE_DIR", str(Path(__file__).resolve().parents[1] / ".pytest_cache" / "numba")))
    monkeypatch.chdir(tmp_path)

