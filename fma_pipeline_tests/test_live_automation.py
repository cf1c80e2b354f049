"""No click: while ``fma-pipeline ui`` (``dagster dev``) runs, an MP3 dropped into a folder is
re-extracted by ``new_tracks_sensor`` and the downstream assets are refreshed by the
``downstream_automation`` sensor. Slow (~4 min): ``pytest -m slow fma_pipeline_tests/test_live_automation.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest

from fma_pipeline.orchestration.backfill import graphql
from fma_pipeline_tests.dagster_dev import fma_pipeline, serve_ui

pytestmark = pytest.mark.slow

#: Large enough that the default configuration (min 5 tracks per genre) trains.
SAMPLE = dict(tracks_per_genre=6, tracks_per_artist=2, seconds=6.0, sr=22_050, mixed_root_tracks=2)
RUNS = """query($tag: String!) { runsOrError(filter: {tags: [{key: "fma/trigger", value: $tag}]}) {
    ... on Runs { results { runId status tags { key value } } } } }"""
LATEST = """query($path: [String!]!) { assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode { assetMaterializations(limit: 1) { timestamp runId
        metadataEntries { label ... on IntMetadataEntry { intValue } } } } } }"""


def latest(url: str, asset: str) -> dict | None:
    """The newest materialisation of ``asset``: timestamp (s), run id, integer metadata."""
    found = graphql(url, LATEST, {"path": [asset]})["assetNodeOrError"]["assetMaterializations"]
    if not found:
        return None
    m = found[0]
    return {"timestamp": float(m["timestamp"]) / 1000, "run": m["runId"],
            **{e["label"]: e.get("intValue") for e in m["metadataEntries"] if "intValue" in e}}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A sample with every asset materialised, one clip held back, served by dagster dev."""
    base = tmp_path_factory.mktemp("live")
    root = base / "data"
    script = ("import sys; from pathlib import Path; from fma_pipeline.core.sample.dataset import SampleSpec, generate_sample; "
              f"generate_sample(Path(sys.argv[1]), SampleSpec(**{SAMPLE!r}))")
    subprocess.run([sys.executable, "-c", script, str(root)], check=True, timeout=300)
    held = sorted((root / "fma_small" / "003").glob("*.mp3"))[-1]
    aside = base / held.name
    shutil.move(held, aside)
    fma_pipeline(root, "materialise", timeout=900)
    with serve_ui(root, base / "dagster-dev.log") as url:
        yield url, root, held, aside, base


def test_a_new_mp3_is_extracted_and_the_downstream_assets_refresh_with_no_click(live):
    url, root, held, aside, base = live
    before = {a: latest(url, a) for a in ("feature_matrix", "genre_classifiers")}
    assert all(before.values()), before
    time.sleep(1)
    dropped = time.time()
    shutil.copy(aside, held)  # a new file: the folder's fingerprint changes
    deadline = dropped + 480
    extracted = refreshed = None
    while time.time() < deadline and not refreshed:
        time.sleep(5)
        runs = graphql(url, RUNS, {"tag": "new_tracks_sensor"})["runsOrError"]["results"]
        assert not [r for r in runs if r["status"] == "FAILURE"], runs
        done = [r for r in runs if r["status"] == "SUCCESS"]
        if done:
            extracted = {t["key"]: t["value"] for t in done[0]["tags"]}
            after = {a: latest(url, a) for a in before}
            if all(after[a]["timestamp"] > dropped for a in after):
                refreshed = after
    log = (base / "dagster-dev.log").read_text(errors="replace")[-3000:]
    assert extracted, f"no sensor run for the new file in {time.time() - dropped:.0f} s\n{log}"
    assert extracted["dagster/partition"] == "003"
    assert len(runs) == 1, "exactly one folder was requested, once"
    assert refreshed, f"downstream assets not refreshed in {time.time() - dropped:.0f} s\n{log}"
    assert refreshed["feature_matrix"]["dagster/row_count"] == before["feature_matrix"]["dagster/row_count"] + 1
    assert refreshed["feature_matrix"]["run"] != extracted.get("dagster/run_id")
    print(f"new file -> extracted and downstream refreshed in {time.time() - dropped:.0f} s")
