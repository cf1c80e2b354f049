"""Which feature families a model sees: a pipeline step whose choice cross-validation makes.

The 708 features are 12 families. Seven of FMA's describe timbre and energy (mfcc,
spectral_contrast, spectral_centroid, spectral_bandwidth, spectral_rolloff, rmse, zcr:
224 columns) and so does the one we add, mfcc_corr (190 columns, how the MFCC bands move
together); four describe pitch classes (chroma_cens, chroma_cqt, chroma_stft, tonnetz:
294 columns), i.e. mostly the key and the chords of a track, which say little about its
genre. With few tracks per genre those 294 columns swamp every distance: on gtzan-mini
(``bench/gtzan.py``) an RBF SVM scores 0.63 on FMA's 518 columns and 0.84 on its 224
timbre columns. Which set is better is a property of the data, so it is a hyper-parameter
(``families__families``) searched with the others, never a fixed decision. Four sets:

- ``fma``: FMA's 518 features, as published;   - ``fma_timbre``: FMA's 224 timbre columns;
- ``all``: all 708;                            - ``timbre``: the 224 plus mfcc_corr (414).

They are tried in that order, and a tie goes to the earlier set (FMA's own features).
A matrix of FMA's 518 columns only (rows from FMA's published ``features.csv``, which has no
``mfcc_corr``) offers the two sets within them, ``fma`` and ``fma_timbre``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from fma_pipeline.core.audio.features import (FEATURE_SIZES, MFCC_CORR, N_FEATURES, N_FMA_FEATURES, feature_family,
                                              flat_feature_names)

FMA_TIMBRE: tuple[str, ...] = ("mfcc", "spectral_contrast", "spectral_centroid", "spectral_bandwidth",
                               "spectral_rolloff", "rmse", "zcr")
#: Named family sets a search can choose between, in the order it tries them.
FAMILY_SETS: dict[str, tuple[str, ...]] = {
    "fma": tuple(FEATURE_SIZES), "fma_timbre": FMA_TIMBRE,
    "all": (*FEATURE_SIZES, MFCC_CORR), "timbre": (*FMA_TIMBRE, MFCC_CORR),
}


def family_mask(families: str) -> np.ndarray:
    """Boolean mask over the 708 columns (in :func:`flat_feature_names` order) of one family set.

    Parameters
    ----------
    families : str
        A key of :data:`FAMILY_SETS`.

    Returns
    -------
    numpy.ndarray
        Boolean, one entry per feature column.

    Raises
    ------
    ValueError
        If ``families`` is not a key of :data:`FAMILY_SETS`.
    """
    if families not in FAMILY_SETS:
        raise ValueError(f"unknown family set {families!r}; choose from {sorted(FAMILY_SETS)}")
    return np.array([feature_family(n) in FAMILY_SETS[families] for n in flat_feature_names()])


def family_choices(columns: Sequence) -> list[str]:
    """The family sets a search can try on a matrix with these columns.

    Every set for the 708 features, one clip per row or windows side by side
    (``w00.mfcc.mean.01`` …); the sets within FMA's 518 for a matrix of those only (FMA's
    published rows); only ``'all'`` for any other matrix, so the zoo still fits feature sets
    that are not ours.

    Parameters
    ----------
    columns : Sequence
        The matrix's column names.

    Returns
    -------
    list of str
        Keys of :data:`FAMILY_SETS`, in the order a search tries them.

    Examples
    --------
    >>> family_choices(["a", "b"])
    ['all']
    >>> family_choices(flat_feature_names())
    ['fma', 'fma_timbre', 'all', 'timbre']
    >>> family_choices(flat_feature_names()[:518])
    ['fma', 'fma_timbre']
    """
    names, n = flat_feature_names(), N_FEATURES
    stripped = tuple(re.sub(r"^w\d+\.", "", str(c)) for c in columns)
    if stripped == names[:N_FMA_FEATURES]:
        return [name for name, families in FAMILY_SETS.items() if MFCC_CORR not in families]
    is_fma = bool(stripped) and len(stripped) % n == 0 and all(
        stripped[i:i + n] == names for i in range(0, len(stripped), n))
    return list(FAMILY_SETS) if is_fma else ["all"]


class FeatureFamilies(TransformerMixin, BaseEstimator):
    """Keep the columns of one named family set (see :data:`FAMILY_SETS`) of the 708 features.

    ``'all'`` passes any input through unchanged. Any other set needs the 708 features (or, for a
    set without ``mfcc_corr``, FMA's 518 alone: published rows) in their column order, as a
    DataFrame (its column names are checked) or an array (segment windows inside a
    ``SegmentVoter``). Keeping the step in the Pipeline means a logged
    model still takes all 708 columns, and permutation importance reports 0 for the
    families it never looks at.

    Parameters
    ----------
    families : str, default 'all'
        A key of :data:`FAMILY_SETS`.

    Attributes
    ----------
    mask_ : numpy.ndarray or None
        Columns kept; None for ``'all'``.
    n_features_in_ : int
        Columns seen by :meth:`fit`.
    feature_names_in_ : numpy.ndarray
        Column names seen by :meth:`fit` (DataFrame input only).
    """

    def __init__(self, families: str = "all"):
        self.families = families

    def fit(self, X, y=None):
        """Check the family set and the input's columns; nothing is learnt.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_rows, n_features)
            The features (the 708 in standard order unless the set is ``'all'``).
        y : ignored

        Returns
        -------
        FeatureFamilies
            This transformer, fitted.

        Raises
        ------
        ValueError
            If the family set is unknown, or ``X`` is not the 708 features in standard order
            (set other than ``'all'``).
        """
        mask = family_mask(self.families)  # validates the name first
        if self.families != "all" and X.shape[1] == N_FMA_FEATURES:  # FMA's published 518 columns only
            if mask[N_FMA_FEATURES:].any():
                raise ValueError(f"family set {self.families!r} needs {MFCC_CORR}, which FMA's 518 columns lack")
            mask = mask[:N_FMA_FEATURES]
        self.mask_ = None if self.families == "all" else mask
        self._check(X)
        self.n_features_in_ = X.shape[1]
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X):
        """The columns of the chosen family set (``X`` itself for ``'all'``).

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_rows, n_features)
            The features, as given to :meth:`fit`.

        Returns
        -------
        pandas.DataFrame or numpy.ndarray
            ``X`` unchanged for ``'all'``, else an array of the kept columns.

        Raises
        ------
        ValueError
            If ``X`` is not the 708 features in standard order (set other than ``'all'``).
        """
        self._check(X)
        return X if self.mask_ is None else np.asarray(X)[:, self.mask_]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Names of the columns :meth:`transform` returns.

        Parameters
        ----------
        input_features : ignored
            Present for scikit-learn's API.

        Returns
        -------
        numpy.ndarray
            Object array of column names (``x0``, ``x1`` … when fitted on an unnamed array with ``'all'``).
        """
        if self.mask_ is None:
            names = getattr(self, "feature_names_in_", None)
            return np.asarray(names if names is not None else [f"x{i}" for i in range(self.n_features_in_)],
                              dtype=object)
        return np.array(flat_feature_names()[:len(self.mask_)], dtype=object)[self.mask_]

    def _check(self, X) -> None:
        if self.mask_ is None:
            return
        width = len(self.mask_)  # the 708 features, or FMA's 518 (published rows)
        if X.shape[1] != width:
            raise ValueError(f"FeatureFamilies expects the {width} features, got {X.shape[1]} columns")
        if isinstance(X, pd.DataFrame) and tuple(map(str, X.columns)) != flat_feature_names()[:width]:
            raise ValueError("FeatureFamilies expects the feature columns in their standard order "
                             "(fma_pipeline.core.audio.features.flat_feature_names())")
