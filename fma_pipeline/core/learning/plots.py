"""Figures for MLflow artifacts and the report (matplotlib, headless Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def confusion_png(confusion: pd.DataFrame, path: Path, title: str) -> Path:
    """Row-normalised confusion matrix with counts in the cells.

    Parameters
    ----------
    confusion : pandas.DataFrame
        Counts, rows true genre, columns predicted genre (see ``evaluation.confusion``).
    path : pathlib.Path
        The PNG to write.
    title : str
        The figure's title.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    counts = confusion.to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.nan_to_num(counts / counts.sum(axis=1, keepdims=True))
    size = 2.5 + 0.45 * len(confusion)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(confusion.columns)), confusion.columns, rotation=60, ha="right")
    ax.set_yticks(range(len(confusion.index)), confusion.index)
    for (i, j), value in np.ndenumerate(counts):
        if value:
            ax.text(j, i, str(value), ha="center", va="center",
                    color="white" if share[i, j] > 0.6 else "black", fontsize=8)
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of true genre")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def bar_png(values: pd.Series, path: Path, title: str, xlabel: str) -> Path:
    """Horizontal bar chart, largest on top (importances, explained variance ...).

    Parameters
    ----------
    values : pandas.Series
        Bar lengths; the index labels the bars.
    path : pathlib.Path
        The PNG to write.
    title : str
        The figure's title.
    xlabel : str
        The x axis label.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    values = values.sort_values()
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(values) + 1.5))
    ax.barh([str(i) for i in values.index], values.to_numpy(), color="#3b6ea8")
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
