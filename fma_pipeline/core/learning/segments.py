"""Segment-level learning: learn from short windows of each clip, vote per track.

The windows and their 708 features come from :mod:`fma_pipeline.core.audio.windows`
(extraction stores them as ``segment_features``). A track's genre is the argmax of its
windows' mean class probabilities (soft voting). Windows of one track always stay on one
side of every split, since folds are grouped by artist or by track.
"""

from __future__ import annotations

import pandas as pd


def track_labels(segments: pd.DataFrame, labels: pd.Series) -> pd.Series:
    """Each window's label: its track's label.

    Parameters
    ----------
    segments : pandas.DataFrame
        A window table indexed by ``(track_id, segment)``.
    labels : pandas.Series
        Label of each track, indexed by track id.

    Returns
    -------
    pandas.Series
        Indexed like ``segments``.
    """
    return labels.reindex(segments.index.get_level_values("track_id")).set_axis(segments.index)


def track_ids_of(X: pd.DataFrame) -> pd.Index:
    """Each row's track id: the index of a clip table, level 0 of a window table.

    Parameters
    ----------
    X : pandas.DataFrame
        A clip table (index ``track_id``) or a window table (index ``(track_id, segment)``).

    Returns
    -------
    pandas.Index
        One track id per row of ``X``.
    """
    return X.index.get_level_values(0) if isinstance(X.index, pd.MultiIndex) else X.index


def track_proba(model, X: pd.DataFrame) -> pd.DataFrame:
    """Class probabilities per track: a clip row's own, or the mean over a track's windows (soft vote).

    Window tables are predicted in chunks of :data:`PREDICT_CHUNK` rows, so scoring
    100,000 test windows never holds more than one chunk's probabilities at a time.

    Parameters
    ----------
    model : estimator
        A fitted classifier with ``predict_proba`` and ``classes_``.
    X : pandas.DataFrame
        A clip table or a window table.

    Returns
    -------
    pandas.DataFrame
        One row per track, one column per class of ``model``.
    """
    if not isinstance(X.index, pd.MultiIndex):
        return pd.DataFrame(model.predict_proba(X), index=X.index, columns=model.classes_)
    sums, counts = [], []
    for start in range(0, len(X), PREDICT_CHUNK):
        chunk = X.iloc[start:start + PREDICT_CHUNK]
        proba = pd.DataFrame(model.predict_proba(chunk), index=chunk.index.get_level_values(0), columns=model.classes_)
        sums.append(proba.groupby(level=0).sum())
        counts.append(proba.groupby(level=0).size())
    total = pd.concat(sums).groupby(level=0).sum()
    return total.div(pd.concat(counts).groupby(level=0).sum(), axis=0).rename_axis("track_id")


#: Window rows predicted at a time by :func:`track_proba`.
PREDICT_CHUNK = 50_000


def vote(model, segments: pd.DataFrame) -> pd.Series:
    """Per-track prediction: argmax of the mean window probabilities.

    Parameters
    ----------
    model : estimator
        A fitted classifier with ``predict_proba`` and ``classes_``.
    segments : pandas.DataFrame
        A window table indexed by ``(track_id, segment)``.

    Returns
    -------
    pandas.Series
        Predicted class of each track, indexed by track id.
    """
    return track_proba(model, segments).idxmax(axis=1)
