"""The HTML report from a fake-but-realistic ``pipeline/`` folder, checked as text and in headless Chromium."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fma_pipeline.core.report import build_report, report_figures
from fma_pipeline.core.storage import write_parquet

GENRES = ["Electronic", "Experimental", "Folk", "Hip-Hop", "Rock"]
SECTIONS = ["balance", "pca", "models", "trust", "levels", "champion", "predictors", "clusters", "subgenres"]
FIGURES = {"fig-class-balance", "fig-pca", "fig-models", "fig-calibration", "fig-levels", "fig-confusion",
           "fig-key-families", "fig-key-features", "fig-cluster-sweep", "fig-contingency-kmeans-scaled", "fig-subgenres"}
CHROMIUM = Path("/usr/bin/chromium")


def fake_pipeline(data_dir: Path) -> Path:
    """Every table the report reads, small and shaped like the assets write them."""
    rng = np.random.default_rng(0)
    out = data_dir / "pipeline"
    n = 200
    tracks = pd.DataFrame({"genre": rng.choice(GENRES, n, p=[0.35, 0.2, 0.1, 0.15, 0.2]),
                           "split": rng.choice(["training", "validation", "test"], n, p=[0.8, 0.1, 0.1]),
                           "artist_id": rng.integers(1, 60, n)}, index=pd.Index(range(2, 2 + n), name="track_id"))
    write_parquet(tracks, out / "tracks.parquet")
    write_parquet(pd.DataFrame({"source": "extracted", "folder": "000"}, index=tracks.index),
                  out / "feature_sources.parquet")
    ratios = np.sort(rng.dirichlet(np.ones(60)))[::-1][:45]
    write_parquet(pd.DataFrame({"explained_variance_ratio": ratios},
                               index=[f"pc{i:03d}" for i in range(1, 46)]), out / "pca_explained_variance.parquet")
    models = [(m, b) for m in ("random_forest", "svm", "knn", "logistic_regression") for b in ("scaled", "pca")]
    scores = rng.uniform(0.35, 0.6, (len(models), 3))
    write_parquet(pd.DataFrame({
        "model": [m for m, _ in models], "branch": [b for _, b in models], "accuracy": scores[:, 0],
        "balanced_accuracy": scores[:, 1], "macro_f1": scores[:, 2], "majority_baseline": 0.31,
        "cv_macro_f1": scores[:, 2] - 0.02, "cv_macro_f1_std": 0.03, "fit_seconds": rng.uniform(1, 30, len(models)),
        "predict_seconds": rng.uniform(0.01, 1, len(models)), "ece": rng.uniform(0.02, 0.2, len(models)),
        "brier": rng.uniform(0.5, 0.8, len(models)), "log_loss": rng.uniform(1, 2, len(models)),
        "novel_rate": [0.03] + [np.nan] * (len(models) - 1), "n_test": 42.0}).sort_values(
            "cv_macro_f1", ascending=False, ignore_index=True),
        out / "classifier_comparison.parquet")
    write_parquet(pd.DataFrame({"level": ["clip", "segment"], "model": ["svm", "logistic_regression"],
                                "branch": "scaled", "families": "timbre", "cv_macro_f1": [0.5, 0.45],
                                "accuracy": [0.6, 0.55], "balanced_accuracy": [0.5, 0.5], "macro_f1": [0.48, 0.44],
                                "majority_baseline": 0.31, "n_test": 42.0}), out / "level_comparison.parquet")
    confusion = pd.DataFrame(rng.integers(0, 5, (5, 5)) + np.diag([12, 6, 3, 8, 7]),
                             index=pd.Index(GENRES, name="true"), columns=pd.Index(GENRES, name="predicted"))
    write_parquet(confusion, out / "champion_confusion.parquet")
    write_parquet(pd.DataFrame({"genre": GENRES, "precision": rng.uniform(0.3, 0.8, 5),
                                "recall": rng.uniform(0.3, 0.8, 5), "f1-score": rng.uniform(0.3, 0.8, 5),
                                "support": confusion.sum(axis=1).to_numpy().astype(float)}),
                  out / "champion_per_genre.parquet")
    families = ["mfcc", "chroma_cqt", "spectral_contrast", "tonnetz", "zcr", "rmse"]
    write_parquet(pd.DataFrame({"family": families, "importance": np.linspace(0.12, 0.0, 6),
                                "std": 0.01}), out / "key_predictor_families.parquet")
    features = [f"mfcc.mean.{i:02d}" for i in range(1, 9)] + [f"chroma_cqt.std.{i:02d}" for i in range(1, 5)]
    write_parquet(pd.DataFrame({"feature": features, "importance": np.linspace(0.03, 0.001, 12), "std": 0.0,
                                "family": [f.split(".")[0] for f in features]}), out / "key_predictors.parquet")
    rows = [{"method": "kmeans", "branch": b, "k": k} for b in ("scaled", "pca") for k in range(2, 11)]
    rows += [{"method": m, "branch": b, "k": 5} for m in ("gmm", "agglomerative") for b in ("scaled", "pca")]
    clusters = pd.DataFrame(rows)
    for metric in ("ari", "nmi", "homogeneity", "completeness", "v_measure", "purity", "silhouette"):
        clusters[metric] = rng.uniform(0.02, 0.4, len(clusters))
    write_parquet(clusters, out / "cluster_scores.parquet")
    table = pd.crosstab(pd.Series(rng.integers(0, 5, n), name="cluster"), tracks["genre"].reset_index(drop=True))
    counts = table.copy()
    table["size"] = counts.sum(axis=1)
    table["dominant"] = counts.idxmax(axis=1)
    table["dominant_share"] = counts.max(axis=1) / table["size"]
    (out / "cluster_contingency").mkdir(exist_ok=True)
    write_parquet(table, out / "cluster_contingency" / "kmeans_scaled.parquet")
    write_parquet(pd.DataFrame({
        "parent": ["Electronic", "Rock", "(flat)", "(hierarchical)"], "classes": [4, 3, 7, 7],
        "n_train": [120, 90, 210, 210], "n_test": [20, 15, 35, 35], "accuracy": [0.5, 0.6, 0.4, 0.42],
        "balanced_accuracy": [0.45, 0.55, 0.35, 0.37], "macro_f1": [0.44, 0.52, 0.33, 0.36],
        "majority_baseline": [0.35, 0.4, 0.2, 0.2], "model": ["svm", "logistic_regression", "svm", "svm"],
        "cv_macro_f1": [0.42, 0.5, 0.3, 0.31]}), out / "subgenre_scores.parquet")
    return out


class _Images(HTMLParser):
    """Collects every ``<img>``'s attributes and every ``src``/``href`` value."""

    def __init__(self) -> None:
        super().__init__()
        self.images: dict[str, dict[str, str]] = {}
        self.urls: list[str] = []
        self.body: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images[values.get("id", "")] = values
        if tag == "body":
            self.body = values
        self.urls += [values[k] for k in ("src", "href") if k in values]


def parse(page: str) -> _Images:
    parser = _Images()
    parser.feed(page)
    return parser


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    data = tmp_path_factory.mktemp("report-data")
    fake_pipeline(data)
    return build_report(data)


def test_every_section_and_figure_is_embedded(report):
    assert report.name == "report.html" and report.parent.name == "pipeline"
    page = report.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    assert "Not materialised" not in page and 'class="problem"' not in page
    found = parse(page)
    assert set(found.images) == FIGURES
    for fig_id, image in found.images.items():
        assert image["alt"], fig_id
        assert image["src"].startswith("data:image/png;base64,"), fig_id
        assert base64.b64decode(image["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n", fig_id
    assert all(url.startswith(("data:", "#")) for url in found.urls), "the report must be self-contained"
    assert not re.search(r"https?://", page)
    assert page.count('<table class="dataframe data">') == 10
    assert "<td>42</td>" in page and "42.000" not in page  # counts print as whole numbers (support, n_test)
    assert "2.000" not in page.split('id="champion"')[1].split("</section>")[0]
    assert "random_forest" in page and "mfcc.mean.01" in page and "(hierarchical)" in page


def test_missing_inputs_are_named_not_fatal(tmp_path):
    empty = build_report(tmp_path, tmp_path / "out" / "empty.html").read_text(encoding="utf-8")
    assert not parse(empty).images
    assert empty.count("Not materialised yet") == 12  # one note per missing input file
    assert "materialise <code>genre_clusters</code>" in empty

    out = fake_pipeline(tmp_path / "partial")
    for name in ("cluster_scores.parquet", "cluster_contingency/kmeans_scaled.parquet", "subgenre_scores.parquet"):
        (out / name).unlink()
    write_parquet(pd.DataFrame({"feature": ["x"]}), out / "key_predictors.parquet")  # malformed: no importance
    page = build_report(tmp_path / "partial").read_text(encoding="utf-8")
    assert set(parse(page).images) == FIGURES - {"fig-cluster-sweep", "fig-contingency-kmeans-scaled",
                                                 "fig-subgenres", "fig-key-features"}
    assert "Not materialised yet: <code>cluster_scores.parquet</code>" in page
    assert "Not materialised yet: <code>subgenre_scores.parquet</code>" in page
    assert "Figure fig-key-features could not be drawn: KeyError" in page


def test_report_figures_writes_the_same_pngs(tmp_path):
    fake_pipeline(tmp_path)
    figures = report_figures(tmp_path)
    assert set(figures) == FIGURES
    for fig_id, path in figures.items():
        assert path == tmp_path / "pipeline" / "report_figures" / f"{fig_id}.png"
        assert path.read_bytes()[:4] == b"\x89PNG"
    assert not list((tmp_path / "pipeline" / "report_figures").glob(".tmp-*"))


_PROBE = """<script>
window.addEventListener("load", () => {
  for (const img of document.images) {
    img.dataset.naturalWidth = img.naturalWidth;
    img.dataset.naturalHeight = img.naturalHeight;
  }
  document.body.dataset.checked = "yes";
});
</script></body>"""


def _chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", "--virtual-time-budget=5000", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} not installed (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(report, tmp_path):
    started = time.monotonic()
    probe = tmp_path / "probe.html"  # the report plus a script that records how each image decoded
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", _PROBE), encoding="utf-8")
    dom = parse(_chromium(tmp_path / "profile", "--dump-dom", probe.as_uri()).stdout)
    assert dom.body.get("data-checked") == "yes", "the load event never fired"
    assert set(dom.images) == FIGURES
    for fig_id, image in dom.images.items():
        assert int(image["data-natural-width"]) > 100 and int(image["data-natural-height"]) > 100, fig_id

    shot = tmp_path / "report.png"
    _chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,3000", report.as_uri())
    assert shot.read_bytes()[:4] == b"\x89PNG" and shot.stat().st_size > 20_000
    shutil.rmtree(tmp_path / "profile", ignore_errors=True)
    assert time.monotonic() - started < 60
