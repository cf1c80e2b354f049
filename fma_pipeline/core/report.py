"""One self-contained HTML report of the pipeline's results, readable from disk or an email.

Built only from the Parquet outputs under ``<data_dir>/pipeline/`` (found through the
catalogue, ``core/catalogue.py``), so it needs neither
Dagster nor MLflow running. Figures are PNGs embedded as base64 data URIs and the CSS is
inline: the file has no external URL and opens anywhere. Each section reads what exists
and says "not materialised yet" for what does not, so the report can be built after any
partial run — clustering and sub-genre outputs in particular are optional.
"""

from __future__ import annotations

import base64
import html
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fma_pipeline.core.catalogue import (CATALOGUE, CHAMPION_CONFUSION, CHAMPION_PER_GENRE, CLASSIFIER_COMPARISON,
                                         CLUSTER_CONTINGENCY, CLUSTER_MAPS, CLUSTER_SCORES, FEATURE_SOURCES,
                                         KEY_PREDICTOR_FAMILIES, KEY_PREDICTORS, LEVEL_COMPARISON,
                                         PCA_EXPLAINED_VARIANCE, REPORT, SOURCE_COMPARISON, SOURCE_OUTLIERS,
                                         SUBGENRE_SCORES, TRACKS, DataRoot)
from fma_pipeline.core.learning.clustering import sweep_png
from fma_pipeline.core.learning.models import PCA_VARIANCE
from fma_pipeline.core.learning.plots import bar_png, confusion_png, plt
from fma_pipeline.core.storage import atomic_path, read_parquet

#: Which asset writes each stored file, so a missing section says what to materialise.
PRODUCERS: dict[str, str] = {s.name: s.asset for s in CATALOGUE if s.asset}
SPLITS = ["training", "validation", "test"]
SCORES = ["accuracy", "balanced_accuracy", "macro_f1"]
CONTINGENCY_EXTRA = {"size", "dominant", "dominant_share"}


@dataclass
class Figure:
    """A PNG the report embeds: ``draw(path)`` writes it; ``id`` is the ``<img>`` id.

    Parameters
    ----------
    id : str
        The ``<img>`` id and the PNG's file stem.
    alt : str
        The image's alternative text.
    draw : Callable[[pathlib.Path], object]
        Writes the PNG to the path it is given.
    """

    id: str
    alt: str
    draw: Callable[[Path], object]


@dataclass
class Section:
    """A titled part of the report: HTML snippets and figures in reading order.

    Parameters
    ----------
    id : str
        The section's anchor.
    title : str
        Its heading.
    blocks : list of (str or Figure)
        HTML snippets and figures, in reading order.
    """

    id: str
    title: str
    blocks: list[str | Figure] = field(default_factory=list)

    @property
    def figures(self) -> list[Figure]:
        """The section's figures, in reading order.

        Returns
        -------
        list of Figure
        """
        return [b for b in self.blocks if isinstance(b, Figure)]


def build_report(data_dir: Path, out: Path | None = None) -> Path:
    """Write the report (default ``<data_dir>/pipeline/report.html``) atomically; return its path.

    Parameters
    ----------
    data_dir : pathlib.Path
        The data root.
    out : pathlib.Path or None, default None
        Where to write the report; None = the catalogue's ``report.html``.

    Returns
    -------
    pathlib.Path
        The report written.
    """
    root = DataRoot(Path(data_dir))
    pipeline = root.pipeline_dir
    out = Path(out) if out is not None else root.path(REPORT)
    sections = _sections(pipeline)
    with tempfile.TemporaryDirectory() as folder:
        drawn = _draw(sections, Path(folder))
        page = _page(Path(data_dir), sections, drawn)
    with atomic_path(out) as tmp:
        tmp.write_text(page, encoding="utf-8")
        os.chmod(tmp, 0o644)  # mkstemp makes 0600, but a report is meant to be shared
    return out


def report_figures(data_dir: Path, out_dir: Path | None = None) -> dict[str, Path]:
    """Write every figure the report would hold as ``<id>.png`` (default ``pipeline/report_figures/``).

    For logging as MLflow artifacts; figures whose inputs are missing are left out.

    Parameters
    ----------
    data_dir : pathlib.Path
        The data root.
    out_dir : pathlib.Path or None, default None
        Folder of the PNGs; None = ``<data_dir>/pipeline/report_figures``.

    Returns
    -------
    dict of str to pathlib.Path
        Figure id -> PNG written.
    """
    pipeline = DataRoot(Path(data_dir)).pipeline_dir
    out_dir = Path(out_dir) if out_dir is not None else pipeline / "report_figures"
    out_dir.mkdir(parents=True, exist_ok=True)
    return {k: v for k, v in _draw(_sections(pipeline), out_dir).items() if isinstance(v, Path)}


def _draw(sections: list[Section], folder: Path) -> dict[str, Path | str]:
    """Draw each figure into ``folder``; a figure that fails gives its error text instead."""
    drawn: dict[str, Path | str] = {}
    for figure in (f for s in sections for f in s.figures):
        target = folder / f"{figure.id}.png"
        try:
            with atomic_path(target) as tmp:
                figure.draw(tmp)
            drawn[figure.id] = target
        except Exception as error:  # noqa: BLE001 (one bad input must not sink the whole report)
            plt.close("all")
            drawn[figure.id] = f"{error.__class__.__name__}: {error}"
    return drawn


# --- sections -------------------------------------------------------------------------------


def _sections(pipeline: Path) -> list[Section]:
    builders = [("balance", "Class balance", _balance),
                ("sources", "Feature sources: extracted and FMA's published features", _sources),
                ("pca", "PCA explained variance", _pca),
                ("models", "Model comparison", _models),
                ("trust", "Calibration and answers the model cannot judge", _trust),
                ("levels", "Clip- vs segment-level", _levels),
                ("champion", "Champion: confusion and per-genre scores", _champion),
                ("predictors", "Key predictors", _predictors), ("clusters", "Clusters against genres", _clusters),
                ("subgenres", "Sub-genres", _subgenres)]
    sections = []
    for key, title, build in builders:
        section = Section(key, title)
        try:
            build(pipeline, section)
        except Exception as error:  # noqa: BLE001 (a malformed input is reported in its own section)
            section.blocks.append(f'<p class="problem">Could not read this section\'s inputs: '
                                  f"{html.escape(f'{error.__class__.__name__}: {error}')}</p>")
        sections.append(section)
    return sections


def _read(pipeline: Path, name: str, section: Section) -> pd.DataFrame | None:
    """The table, or None after adding a "not materialised yet" note to ``section``."""
    path = pipeline / name
    if path.exists():
        return read_parquet(path)
    producer = f" (materialise <code>{PRODUCERS[name]}</code>)" if name in PRODUCERS else ""
    section.blocks.append(f'<p class="missing">Not materialised yet: <code>{name}</code> is missing{producer}.</p>')
    return None


def _balance(pipeline: Path, section: Section) -> None:
    tracks = _read(pipeline, TRACKS.name, section)
    if tracks is None:
        return
    counts = pd.crosstab(tracks["genre"].astype(str), tracks["split"].astype(str))
    counts = counts[[s for s in SPLITS if s in counts] + [s for s in counts if s not in SPLITS]].rename_axis(
        index="genre", columns=None)
    counts["total"] = counts.sum(axis=1)
    counts = counts.sort_values("total", ascending=False)
    section.blocks += [f"<p>{len(tracks)} tracks, {len(counts)} genres, "
                       f"{tracks['artist_id'].nunique() if 'artist_id' in tracks else '?'} artists.</p>",
                       Figure("fig-class-balance", "Tracks per genre and FMA split (stacked bars)",
                              lambda p: _stacked_png(counts.drop(columns="total"), p)),
                       _table(counts)]


def _sources(pipeline: Path, section: Section) -> None:
    """Where each row of the feature matrix came from, and how far the two sources are apart."""
    from fma_pipeline.core.fma.published import SourceComparison, comparison_advice

    sources = _read(pipeline, FEATURE_SOURCES.name, section)
    if sources is None:
        return
    counts = sources.groupby("source").size().rename("tracks").to_frame()
    section.blocks += [f"<p>{len(sources)} tracks in the feature matrix by source: "
                       + ", ".join(f"{n} {html.escape(str(s))}" for s, n in counts["tracks"].items())
                       + ". Published rows are FMA's <code>features.csv</code> (computed on full-length tracks with "
                       "librosa 0.5); a matrix holding any published row uses FMA's 518 columns.</p>"]
    if not (pipeline / SOURCE_COMPARISON.name).exists():
        return
    comparison = SourceComparison(read_parquet(pipeline / SOURCE_COMPARISON.name),
                                  read_parquet(pipeline / SOURCE_OUTLIERS.name))
    section.blocks.append(f"<p>{html.escape(comparison_advice(comparison))}</p>")
    if len(comparison.families):
        section.blocks += ["<p>Relative difference |extracted &minus; published| / max(|extracted|, |published|), "
                           "per track the median over a family's columns; per family its median and quartiles over "
                           "the tracks that have both rows, and how many are beyond the fence (median + max(5 robust "
                           "standard deviations, 0.05)).</p>",
                           _table(comparison.families, index=False)]
    if len(comparison.outliers):
        section.blocks += ["<p>Tracks far outside (a wrong file or another recording under the track's id?):</p>",
                           _table(comparison.outliers.head(40), index=False)]


def _pca(pipeline: Path, section: Section) -> None:
    explained = _read(pipeline, PCA_EXPLAINED_VARIANCE.name, section)
    if explained is None:
        return
    ratios = explained["explained_variance_ratio"].astype(float)
    section.blocks += [f"<p>{len(ratios)} principal components keep {ratios.sum():.1%} of the variance of the "
                       "scaled features (fit on training rows).</p>",
                       Figure("fig-pca", "Cumulative explained variance against the number of principal components",
                              lambda p: _cumulative_png(ratios, p))]


def _models(pipeline: Path, section: Section) -> None:
    table = _read(pipeline, CLASSIFIER_COMPARISON.name, section)
    if table is None:
        return
    best = table.loc[table["cv_macro_f1"].idxmax()]
    section.blocks += [
        f"<p>Champion by cross-validated macro-F1: <b>{html.escape(str(best['model']))}</b> on the "
        f"{html.escape(str(best['branch']))} branch — test accuracy {best['accuracy']:.3f}, macro-F1 "
        f"{best['macro_f1']:.3f}, against a majority-class baseline of {best['majority_baseline']:.3f}.</p>",
        Figure("fig-models", "Test accuracy, balanced accuracy and macro-F1 per model, with the majority baseline",
               lambda p: _grouped_png(table, table["model"] + " / " + table["branch"], p,
                                      "Held-out scores per model")),
        _table(table, index=False)]


def _trust(pipeline: Path, section: Section) -> None:
    """Calibration of each model's probabilities and the champion's novelty-guard rate."""
    table = _read(pipeline, CLASSIFIER_COMPARISON.name, section)
    if table is None:
        return
    shown = [c for c in ("model", "branch", "ece", "brier", "log_loss", "novel_rate", "n_test") if c in table]
    if "ece" not in table:
        section.blocks.append('<p class="missing">This comparison predates calibration scores: '
                              "materialise <code>genre_classifiers</code> again.</p>")
        return
    section.blocks += [
        "<p>Expected calibration error (ECE, 15 bins; 0 = a predicted 70 % is right 70 % of the time), Brier "
        "score and log-loss on the held-out test split. The champion's probabilities are temperature-scaled on "
        "held-out training folds; <code>novel_rate</code> is the share of held-out test tracks its novelty "
        "guard marks <code>unsure</code> (set for a 2 % false-alarm rate on held-out training rows): "
        "real music like the training music should rarely be flagged, speech, tones and noise always.</p>",
        Figure("fig-calibration", "Expected calibration error per model on the test split",
               lambda p: bar_png(table.set_index(table["model"] + " / " + table["branch"])["ece"], p,
                                 "Expected calibration error (lower is better)", "ECE")),
        _table(table[shown], index=False)]


def _levels(pipeline: Path, section: Section) -> None:
    """The best clip-level and segment-level models side by side (winner by training CV)."""
    table = _read(pipeline, LEVEL_COMPARISON.name, section)
    if table is None:
        return
    section.blocks += [
        "<p>The best model of each level by cross-validated macro-F1 on training data (the winner first); the "
        "test columns are for reading, not for choosing.</p>",
        Figure("fig-levels", "Held-out scores of the best clip-level and segment-level models",
               lambda p: _grouped_png(table, table["level"] + ": " + table["model"], p, "Clip- vs segment-level")),
        _table(table, index=False)]


def _champion(pipeline: Path, section: Section) -> None:
    confusion = _read(pipeline, CHAMPION_CONFUSION.name, section)
    if confusion is not None:
        section.blocks.append(Figure("fig-confusion", "Confusion matrix of the champion on the test split",
                                     lambda p: confusion_png(confusion, p, "Champion on the test split")))
    per_genre = _read(pipeline, CHAMPION_PER_GENRE.name, section)
    if per_genre is not None:
        section.blocks.append(_table(per_genre, index=False))


def _predictors(pipeline: Path, section: Section) -> None:
    families = _read(pipeline, KEY_PREDICTOR_FAMILIES.name, section)
    if families is not None:
        section.blocks += [Figure("fig-key-families", "Permutation importance (macro-F1 drop) per feature family",
                                  lambda p: bar_png(families.set_index("family")["importance"], p,
                                                    "Key predictor families", "macro-F1 drop when shuffled")),
                           _table(families, index=False)]
    top = _read(pipeline, KEY_PREDICTORS.name, section)
    if top is not None:
        section.blocks += [Figure("fig-key-features", "Permutation importance of the top individual features",
                                  lambda p: bar_png(top.set_index("feature")["importance"], p,
                                                    "Key individual features", "macro-F1 drop when shuffled")),
                           _table(top, index=False)]


def _clusters(pipeline: Path, section: Section) -> None:
    scores = _read(pipeline, CLUSTER_SCORES.name, section)
    if scores is not None:
        if (scores["method"] == "kmeans").any():
            section.blocks.append(Figure("fig-cluster-sweep", "Agreement of k-means clusters with genres against k",
                                         lambda p: sweep_png(scores, p, metrics=("ari", "nmi", "v_measure",
                                                                                 "purity"))))
        section.blocks.append(_table(scores, index=False))
    for path in sorted((pipeline / CLUSTER_CONTINGENCY.name).glob("*.parquet")):
        name = path.stem
        table = read_parquet(path)
        counts = table[[c for c in table.columns if c not in CONTINGENCY_EXTRA]].select_dtypes("number")
        section.blocks += [f"<h3>{html.escape(name)}</h3>",
                           Figure(f"fig-contingency-{_slug(name)}", f"Cluster by genre counts, {name}",
                                  lambda p, c=counts, n=name: _heatmap_png(c, p, f"Clusters × genres: {n}"))]
        if CONTINGENCY_EXTRA <= set(table.columns):
            section.blocks.append(_table(table[["size", "dominant", "dominant_share"]]))
    for path in sorted((pipeline / CLUSTER_MAPS.name).glob("*.png")):
        section.blocks.append(Figure(f"fig-cluster-map-{_slug(path.stem)}", f"Cluster map {path.stem}",
                                     lambda p, src=path: shutil.copyfile(src, p)))


def _subgenres(pipeline: Path, section: Section) -> None:
    table = _read(pipeline, SUBGENRE_SCORES.name, section)
    if table is None:
        return
    if table.empty:
        section.blocks.append('<p class="missing">No top-level genre has two sub-genres with enough tracks '
                              "and artists: the sub-genre table is empty.</p>")
        return
    section.blocks += [Figure("fig-subgenres", "Sub-genre classifier scores per parent genre, with baselines",
                              lambda p: _grouped_png(table, table["parent"].astype(str), p,
                                                     "Sub-genre classifiers (test split)")),
                       _table(table, index=False)]


# --- figures and HTML ---------------------------------------------------------------------


def _stacked_png(counts: pd.DataFrame, path: Path) -> None:
    """Horizontal stacked bars: one bar per genre, one colour per split."""
    counts = counts.iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(counts) + 1.8))
    left = np.zeros(len(counts))
    for split in counts.columns:
        ax.barh(counts.index, counts[split], left=left, label=split)
        left += counts[split].to_numpy()
    ax.set_xlabel("tracks")
    ax.set_title("Tracks per genre and split")
    _legend_outside(ax)
    _save(fig, path)


def _cumulative_png(ratios: pd.Series, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.plot(np.arange(1, len(ratios) + 1), ratios.cumsum().to_numpy(), marker=".", color="#3b6ea8")
    ax.axhline(PCA_VARIANCE, color="grey", linestyle="--", linewidth=1, label=f"{PCA_VARIANCE * 100:g} %")
    ax.set_xlabel("principal components")
    ax.set_ylabel("cumulative explained variance")
    ax.set_ylim(0, 1.02)
    ax.legend(frameon=False, loc="lower right")
    _save(fig, path)


def _grouped_png(table: pd.DataFrame, labels: pd.Series, path: Path, title: str) -> None:
    """Accuracy, balanced accuracy and macro-F1 side by side per row; the majority baseline as a black bar."""
    metrics = [m for m in SCORES if m in table]
    x, width = np.arange(len(table)), 0.8 / len(metrics)
    fig, ax = plt.subplots(figsize=(max(7, 0.9 * len(table) + 2), 4.5))
    for i, metric in enumerate(metrics):
        ax.bar(x + (i - (len(metrics) - 1) / 2) * width, table[metric].astype(float), width, label=metric)
    if "majority_baseline" in table:
        ax.hlines(table["majority_baseline"].astype(float), x - 0.45, x + 0.45, colors="black",
                  linewidth=2, label="majority baseline")
    ax.set_xticks(x, labels.tolist(), rotation=40, ha="right")
    ax.set_ylim(0, 1)
    ax.set_title(title)
    _legend_outside(ax)
    _save(fig, path)


def _heatmap_png(counts: pd.DataFrame, path: Path, title: str) -> None:
    """Cluster × genre counts, shaded by each cluster's share of its tracks."""
    values = counts.to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.nan_to_num(values / values.sum(axis=1, keepdims=True))
    fig, ax = plt.subplots(figsize=(1.5 + 0.5 * counts.shape[1], 1.5 + 0.4 * counts.shape[0]))
    image = ax.imshow(share, cmap="Oranges", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(counts.shape[1]), [str(c) for c in counts.columns], rotation=60, ha="right")
    ax.set_yticks(range(counts.shape[0]), [str(i) for i in counts.index])
    for (i, j), value in np.ndenumerate(values):
        if value:
            ax.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize=7,
                    color="white" if share[i, j] > 0.6 else "black")
    ax.set_xlabel("genre")
    ax.set_ylabel("cluster")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of cluster")
    _save(fig, path)


def _legend_outside(ax) -> None:
    """The legend right of the plot, where it cannot cover a bar."""
    ax.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100, format="png", bbox_inches="tight")  # keeps a legend placed outside the axes
    plt.close(fig)


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def _table(frame: pd.DataFrame, index: bool = True) -> str:
    """An HTML table: scores with three decimals, counts (support, n_test, …) as whole numbers."""
    counts = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])
              and frame[c].notna().any() and (frame[c].dropna() % 1 == 0).all()
              and not any(word in str(c) for word in ("accuracy", "f1", "baseline", "ece", "brier", "rate"))]
    frame = frame.astype({c: "Int64" for c in counts})
    table = frame.to_html(index=index, border=0, classes="data", float_format=lambda v: f"{v:.3f}", na_rep="–")
    return f'<div class="scroll">{table}</div>'


def _page(data_dir: Path, sections: list[Section], drawn: dict[str, Path | str]) -> str:
    parts = []
    for section in sections:
        body = []
        for block in section.blocks:
            if isinstance(block, str):
                body.append(block)
            elif isinstance(drawn.get(block.id), Path):
                data = base64.b64encode(drawn[block.id].read_bytes()).decode("ascii")
                alt = html.escape(block.alt)
                body.append(f'<figure><img id="{block.id}" alt="{alt}" src="data:image/png;base64,{data}">'
                            f"<figcaption>{alt}</figcaption></figure>")
            else:
                body.append(f'<p class="problem">Figure {block.id} could not be drawn: '
                            f"{html.escape(str(drawn.get(block.id)))}</p>")
        parts.append(f'<section id="{section.id}"><h2>{html.escape(section.title)}</h2>{"".join(body)}</section>')
    toc = "".join(f'<li><a href="#{s.id}">{html.escape(s.title)}</a></li>' for s in sections)
    stamp = time.strftime("%Y-%m-%d %H:%M")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>fma-pipeline report</title>'
            f"<style>{_CSS}</style></head><body><h1>Can music genre be assigned automatically?</h1>"
            f'<p class="meta">fma-pipeline report, {stamp}, data root <code>{html.escape(str(data_dir))}</code></p>'
            f"<nav><ol>{toc}</ol></nav>{''.join(parts)}</body></html>\n")


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:2px solid #3b6ea8;padding-bottom:.2em;margin-top:2em}
.meta{color:#666}.missing{color:#8a6d00;background:#fff8dc;padding:.5em}
.problem{color:#a00;background:#fee;padding:.5em}
.scroll{overflow-x:auto}table.data{border-collapse:collapse;font-size:.85em;margin:1em 0}
table.data th,table.data td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
table.data tr:nth-child(even){background:#f5f7fa}
figure{margin:1em 0}figure img{max-width:100%;height:auto}figcaption{color:#666;font-size:.85em}
"""
