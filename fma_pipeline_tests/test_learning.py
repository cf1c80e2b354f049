"""The learning core directly (no Dagster): family selection and the search budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from fma_pipeline.core.features import N_FEATURES, flat_feature_names
from fma_pipeline.core.learning.families import FAMILY_SETS, FeatureFamilies, family_choices, family_mask
from fma_pipeline.core.learning.segments import SegmentVoter
from fma_pipeline.core.learning.training import TrainingConfig, train_one

NAMES = list(flat_feature_names())
TIMBRE = family_mask("timbre")
MFCC_CORR = TIMBRE & ~family_mask("fma")  # the columns FMA does not have


def synthetic(n_per_genre: int = 24, genres: int = 3, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Genres separable only on the MFCC-correlation columns (60 shifted per genre), noise elsewhere."""
    rng = np.random.default_rng(seed)
    y = np.repeat([f"g{i}" for i in range(genres)], n_per_genre)
    X = rng.normal(size=(len(y), len(NAMES)))
    signal = np.flatnonzero(MFCC_CORR)
    for i in range(genres):
        X[np.ix_(y == f"g{i}", signal[60 * i:60 * i + 60])] += 0.7
    ids = pd.Index(np.arange(len(y)) + 1, name="track_id")
    labels = pd.DataFrame({"genre": y, "artist_id": np.arange(len(y)) // 2,
                           "split": np.where(np.arange(len(y)) % 4 == 0, "test", "training")}, index=ids)
    return pd.DataFrame(X, index=ids, columns=NAMES), labels


@pytest.mark.parametrize("families, width", [("fma", 518), ("fma_timbre", 224), ("timbre", 414)])
def test_family_sets_keep_their_columns_in_order(families, width):
    X, _ = synthetic(n_per_genre=2)
    step = FeatureFamilies(families).fit(X)
    out = step.transform(X)
    assert out.shape == (len(X), width)
    kept = list(step.get_feature_names_out())
    np.testing.assert_array_equal(out, X[kept].to_numpy())
    if families == "fma":
        assert kept == NAMES[:518]  # FMA's published columns, nothing of ours
    else:
        assert kept[0] == "mfcc.kurtosis.01" and not any(n.startswith(("chroma", "tonnetz")) for n in kept)
        assert any(n.startswith("mfcc_corr.") for n in kept) == (families == "timbre")


def test_all_passes_the_708_columns_through():
    X, _ = synthetic(n_per_genre=2)
    assert FeatureFamilies("all").fit(X).transform(X).shape == (len(X), N_FEATURES) == (len(X), 708)


def test_family_step_rejects_other_inputs_by_name():
    X, _ = synthetic(n_per_genre=2)
    with pytest.raises(ValueError, match="708 features, got 707"):
        FeatureFamilies("timbre").fit(X.iloc[:, 1:])
    with pytest.raises(ValueError, match="standard order"):
        FeatureFamilies("timbre").fit(X[NAMES[::-1]])
    with pytest.raises(ValueError, match="unknown family set 'rhythm'"):
        FeatureFamilies("rhythm").fit(X)
    other = X.iloc[:, :8]  # not FMA's features: 'all' passes them through, and it is the only choice
    assert FeatureFamilies().fit(other).transform(other) is other
    assert family_choices(other.columns) == ["all"]
    assert family_choices(X.columns) == list(FAMILY_SETS) == ["fma", "fma_timbre", "all", "timbre"]
    windows = [f"w{w:02d}.{n}" for w in range(2) for n in NAMES]  # a segment matrix
    assert family_choices(windows) == list(FAMILY_SETS) and family_choices(windows[1:]) == ["all"]


def test_family_step_works_on_window_arrays_inside_a_segment_voter():
    X, labels = synthetic(n_per_genre=6)
    wide = pd.concat([X, X.add_prefix("w01.")], axis=1)  # two identical windows per track
    voter = SegmentVoter(Pipeline([("families", FeatureFamilies("timbre")),
                                   ("model", LogisticRegression(max_iter=500))]))
    voter.fit(wide, labels["genre"])
    assert voter.estimator_.named_steps["model"].n_features_in_ == 414
    assert (voter.predict(wide) == labels["genre"].to_numpy()).mean() > 0.9


def test_grid_search_chooses_the_families_and_records_them():
    X, labels = synthetic()
    model = train_one("svm", "scaled", X, labels, TrainingConfig(n_jobs=1, cv_folds=3))
    # FMA's own columns carry no signal here: the search must take a set with mfcc_corr
    assert model.best_params["families"] in {"all", "timbre"}
    assert model.extra["search"] == "grid" and model.extra["candidates"] == 12  # 4 family sets x 3 C
    assert model.summary()["families"] == model.best_params["families"]
    assert model.test["accuracy"] > model.test["majority_baseline"] + 0.3


def test_random_search_tries_exactly_its_budget():
    X, labels = synthetic()
    config = TrainingConfig(n_jobs=1, cv_folds=3, search="random", search_iterations=5)
    model = train_one("logistic_regression", "pca", X, labels, config)
    assert model.extra["search"] == "random" and model.extra["candidates"] == 5
    assert set(model.best_params) == {"families", "C"} and 1e-3 <= model.best_params["C"] <= 10.0
    assert isinstance(model.best_params["C"], float)  # plain floats: MLflow params and JSON take them
    assert model.test["accuracy"] > model.test["majority_baseline"]


def test_the_search_tries_only_the_family_sets_it_is_given():
    X, labels = synthetic()
    config = TrainingConfig(n_jobs=1, cv_folds=3, families=("fma", "fma_timbre"))
    model = train_one("svm", "scaled", X, labels, config)
    assert model.extra["candidates"] == 6 and model.best_params["families"] in {"fma", "fma_timbre"}
    other = X.iloc[:, :8]  # not our features: 'all' is the only set, whatever was asked
    assert train_one("svm", "scaled", other, labels, config).best_params["families"] == "all"


@pytest.mark.parametrize("field,value,message", [("search", "bayes", "search must be 'grid' or 'random'"),
                                                 ("search_iterations", 0, "at least 1"),
                                                 ("level", "frame", "level must be"),
                                                 ("families", ("rhythm",), "families must be a non-empty subset"),
                                                 ("families", (), "families must be a non-empty subset")])
def test_training_config_rejects_bad_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**{field: value})
