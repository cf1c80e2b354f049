"""Which feature families a model sees: a pipeline step whose choice cross-validation makes.

FMA's 518 features are 11 families. Seven describe timbre and energy (mfcc,
spectral_contrast, spectral_centroid, spectral_bandwidth, spectral_rolloff, rmse, zcr:
224 columns); four describe pitch classes (chroma_cens, chroma_cqt, chroma_stft, tonnetz:
294 columns), i.e. mostly the key and the chords of a track, which say little about its
genre. With few tracks per genre those 294 columns swamp every distance: on gtzan-mini
(``bench/gtzan.py``) an RBF SVM scores 0.63 on all 518 columns and 0.84 on the timbre
columns alone. Which set is better is a property of the data, so it is a hyper-parameter
(``families__families``) searched with the others, never a fixed decision.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from fma_pipeline.core.features import FEATURE_SIZES, N_FEATURES, feature_family, flat_feature_names

TIMBRE: tuple[str, ...] = ("mfcc", "spectral_contrast", "spectral_centroid", "spectral_bandwidth",
                           "spectral_rolloff", "rmse", "zcr")
#: Named family sets a search can choose between.
FAMILY_SETS: dict[str, tuple[str, ...]] = {"all": tuple(FEATURE_SIZES), "timbre": TIMBRE}


def family_mask(families: str) -> np.ndarray:
    """Boolean mask over the 518 columns (in :func:`flat_feature_names` order) of one family set."""
    if families not in FAMILY_SETS:
        raise ValueError(f"unknown family set {families!r}; choose from {sorted(FAMILY_SETS)}")
    return np.array([feature_family(n) in FAMILY_SETS[families] for n in flat_feature_names()])


def family_choices(columns: Sequence) -> list[str]:
    """The family sets a search can try on a matrix with these columns.

    Every set for FMA's 518 features, one clip per row or windows side by side
    (``w00.mfcc.mean.01`` …); only ``'all'`` for any other matrix, so the zoo still fits
    feature sets that are not FMA's.
    """
    names, n = flat_feature_names(), N_FEATURES
    stripped = tuple(re.sub(r"^w\d+\.", "", str(c)) for c in columns)
    is_fma = bool(stripped) and len(stripped) % n == 0 and all(
        stripped[i:i + n] == names for i in range(0, len(stripped), n))
    return list(FAMILY_SETS) if is_fma else ["all"]


class FeatureFamilies(TransformerMixin, BaseEstimator):
    """Keep the columns of one named family set (``'all'`` or ``'timbre'``) of the 518 features.

    ``'all'`` passes any input through unchanged. Any other set needs the 518 features in
    FMA's column order, as a DataFrame (its column names are checked) or an array (segment
    windows inside a ``SegmentVoter``). Keeping the step in the Pipeline means a logged
    model still takes all 518 columns, and permutation importance reports 0 for the
    families it never looks at.
    """

    def __init__(self, families: str = "all"):
        self.families = families

    def fit(self, X, y=None):
        mask = family_mask(self.families)  # validates the name first
        self.mask_ = None if self.families == "all" else mask
        self._check(X)
        self.n_features_in_ = X.shape[1]
        if isinstance(X, pd.DataFrame):
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def transform(self, X):
        self._check(X)
        return X if self.mask_ is None else np.asarray(X)[:, self.mask_]

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        if self.mask_ is None:
            names = getattr(self, "feature_names_in_", None)
            return np.asarray(names if names is not None else [f"x{i}" for i in range(self.n_features_in_)],
                              dtype=object)
        return np.array(flat_feature_names(), dtype=object)[self.mask_]

    def _check(self, X) -> None:
        if self.mask_ is None:
            return
        if X.shape[1] != N_FEATURES:
            raise ValueError(f"FeatureFamilies expects the {N_FEATURES} FMA features, got {X.shape[1]} columns")
        if isinstance(X, pd.DataFrame) and tuple(map(str, X.columns)) != flat_feature_names():
            raise ValueError("FeatureFamilies expects the FMA feature columns in their standard order "
                             "(fma_pipeline.core.features.flat_feature_names())")
