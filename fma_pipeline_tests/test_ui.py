"""The Dagster UI, seen: ``fma-pipeline ui`` serves it; headless Chromium renders the asset graph
and the partitions of ``track_features``. Slow: ``pytest -m slow fma_pipeline_tests/test_ui.py``.

Screenshots go to the test's temp dir; the asset graph is also copied to ``docs/dagster-asset-graph.png``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from fma_pipeline.orchestration.backfill import graphql
from fma_pipeline_tests.dagster_dev import fma_pipeline, serve_ui

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--virtual-time-budget=15000", "--window-size=1600,1000"]


def chromium(tmp: Path, url: str, *, screenshot: Path | None = None) -> str:
    """Render ``url`` in a fresh profile; write a screenshot or return the DOM."""
    profile = Path(os.path.join(tmp, f"profile-{time.monotonic_ns()}"))
    action = [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    out = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *action, url],
                         capture_output=True, text=True, timeout=120)
    shutil.rmtree(profile, ignore_errors=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


@pytest.fixture(scope="module")
def ui(tiny_sample, tmp_path_factory):
    """A data root with three folders extracted, served by ``fma-pipeline ui`` (dagster dev)."""
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed (apt-get install chromium)")
    base = tmp_path_factory.mktemp("ui")
    root = base / "data"
    shutil.copytree(tiny_sample, root)
    for folder in (root / "fma_small").iterdir():
        if folder.name not in {"000", "003", "012"}:
            shutil.rmtree(folder)
    fma_pipeline(root, "backfill", "--failed", timeout=300)
    with serve_ui(root, base / "dagster-dev.log") as url:
        yield url, base


def test_server_info_and_assets_are_served(ui):
    import json
    import urllib.request

    url, _ = ui
    with urllib.request.urlopen(url + "/server_info", timeout=10) as response:
        info = json.load(response)
    assert info["dagster_version"].startswith("1.13")
    data = graphql(url, "{ assetNodes { assetKey { path } } }")
    keys = {"/".join(n["assetKey"]["path"]) for n in data["assetNodes"]}
    assert {"track_features", "feature_matrix", "genre_classifiers", "classifier_metrics"} <= keys
    partitions = graphql(url, """{ assetNodeOrError(assetKey: {path: ["track_features"]}) {
        ... on AssetNode { partitionKeysByDimension { partitionKeys } } } }""")
    assert len(partitions["assetNodeOrError"]["partitionKeysByDimension"][0]["partitionKeys"]) == 156


def test_screenshots_of_the_asset_graph_and_partitions(ui):
    url, base = ui
    shots = base / "screenshots"
    shots.mkdir(exist_ok=True)
    dom = chromium(base, url + "/assets")
    assert "track_features" in dom and "feature_matrix" in dom
    graph, partitions = shots / "asset-graph.png", shots / "track-features-partitions.png"
    groups = sorted({n["groupName"] for n in graphql(url, "{ assetNodes { groupName } }")["assetNodes"]})
    # the global lineage collapses groups; ?expanded= opens them (group ids "global@global:<group>")
    expanded = quote(",".join(f"global@global:{g}" for g in groups), safe=",@:")
    chromium(base, f"{url}/asset-groups?expanded={expanded}", screenshot=graph)
    chromium(base, url + "/assets/track_features?view=partitions", screenshot=partitions)
    for png in (graph, partitions):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000, png
    docs = REPO / "docs"
    docs.mkdir(exist_ok=True)
    shutil.copy(graph, docs / "dagster-asset-graph.png")
    shutil.copy(partitions, docs / "dagster-track-features-partitions.png")
    print(f"screenshots: {graph} {partitions}")
