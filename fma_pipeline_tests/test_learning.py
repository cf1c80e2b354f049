"""The learning core directly (no Dagster): family selection and the search budget."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from fma_pipeline.core.features import flat_feature_names
from fma_pipeline.core.learning.families import FeatureFamilies, family_choices, family_mask
from fma_pipeline.core.learning.segments import SegmentVoter
from fma_pipeline.core.learning.training import TrainingConfig, train_one

NAMES = list(flat_feature_names())
TIMBRE = family_mask("timbre")


def synthetic(n_per_genre: int = 24, genres: int = 3, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Genres separable on a few timbre columns, with loud noise on every pitch-class column."""
    rng = np.random.default_rng(seed)
    y = np.repeat([f"g{i}" for i in range(genres)], n_per_genre)
    X = rng.normal(size=(len(y), len(NAMES)))
    X[:, ~TIMBRE] *= 3.0
    signal = np.flatnonzero(TIMBRE)[:6]
    for i in range(genres):
        X[np.ix_(y == f"g{i}", signal[2 * i:2 * i + 2])] += 2.0
    ids = pd.Index(np.arange(len(y)) + 1, name="track_id")
    labels = pd.DataFrame({"genre": y, "artist_id": np.arange(len(y)) // 2,
                           "split": np.where(np.arange(len(y)) % 4 == 0, "test", "training")}, index=ids)
    return pd.DataFrame(X, index=ids, columns=NAMES), labels


def test_timbre_set_keeps_the_224_timbre_columns_in_order():
    X, _ = synthetic(n_per_genre=2)
    step = FeatureFamilies("timbre").fit(X)
    out = step.transform(X)
    assert out.shape == (len(X), 224)
    kept = step.get_feature_names_out()
    assert kept[0] == "mfcc.kurtosis.01" and not any(n.startswith(("chroma", "tonnetz")) for n in kept)
    np.testing.assert_array_equal(out, X[list(kept)].to_numpy())
    assert FeatureFamilies("all").fit(X).transform(X).shape == (len(X), 518)


def test_family_step_rejects_other_inputs_by_name():
    X, _ = synthetic(n_per_genre=2)
    with pytest.raises(ValueError, match="518 FMA features, got 517"):
        FeatureFamilies("timbre").fit(X.iloc[:, 1:])
    with pytest.raises(ValueError, match="standard order"):
        FeatureFamilies("timbre").fit(X[NAMES[::-1]])
    with pytest.raises(ValueError, match="unknown family set 'rhythm'"):
        FeatureFamilies("rhythm").fit(X)
    other = X.iloc[:, :8]  # not FMA's features: 'all' passes them through, and it is the only choice
    assert FeatureFamilies().fit(other).transform(other) is other
    assert family_choices(other.columns) == ["all"]
    assert family_choices(X.columns) == ["all", "timbre"]
    windows = [f"w{w:02d}.{n}" for w in range(2) for n in NAMES]  # a segment matrix
    assert family_choices(windows) == ["all", "timbre"] and family_choices(windows[1:]) == ["all"]


def test_family_step_works_on_window_arrays_inside_a_segment_voter():
    X, labels = synthetic(n_per_genre=6)
    wide = pd.concat([X, X.add_prefix("w01.")], axis=1)  # two identical windows per track
    voter = SegmentVoter(Pipeline([("families", FeatureFamilies("timbre")),
                                   ("model", LogisticRegression(max_iter=500))]))
    voter.fit(wide, labels["genre"])
    assert voter.estimator_.named_steps["model"].n_features_in_ == 224
    assert (voter.predict(wide) == labels["genre"].to_numpy()).mean() > 0.9


def test_grid_search_chooses_the_families_and_records_them():
    X, labels = synthetic()
    model = train_one("svm", "scaled", X, labels, TrainingConfig(n_jobs=1, cv_folds=3))
    assert model.best_params["families"] == "timbre"  # the chroma noise drowns the RBF distances
    assert model.extra["search"] == "grid" and model.extra["candidates"] == 6  # 2 family sets x 3 C
    assert model.summary()["families"] == "timbre"
    assert model.test["accuracy"] > model.test["majority_baseline"] + 0.3


def test_random_search_tries_exactly_its_budget():
    X, labels = synthetic()
    config = TrainingConfig(n_jobs=1, cv_folds=3, search="random", search_iterations=5)
    model = train_one("logistic_regression", "pca", X, labels, config)
    assert model.extra["search"] == "random" and model.extra["candidates"] == 5
    assert set(model.best_params) == {"families", "C"} and 1e-3 <= model.best_params["C"] <= 10.0
    assert isinstance(model.best_params["C"], float)  # plain floats: MLflow params and JSON take them
    assert model.test["accuracy"] > model.test["majority_baseline"]


@pytest.mark.parametrize("field,value,message", [("search", "bayes", "search must be 'grid' or 'random'"),
                                                 ("search_iterations", 0, "at least 1"),
                                                 ("level", "frame", "level must be")])
def test_training_config_rejects_bad_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**{field: value})
