"""The learning core directly (no Dagster): family selection, the search budget, tuning on a
sample, calibration, window-level training and progress."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fma_pipeline.core.audio.features import N_FEATURES, flat_feature_names
from fma_pipeline.core.learning.families import FAMILY_SETS, FeatureFamilies, family_choices, family_mask
from fma_pipeline.core.learning import evaluation
from fma_pipeline.core.learning.calibration import calibrate
from fma_pipeline.core.learning.comparison import champion, comparison_table
from fma_pipeline.core.learning.problem import MIN_SCORED_TRACKS, sample_tracks, search_folds, training_data
from fma_pipeline.core.learning.search import train_one
from fma_pipeline.core.learning.training import train_all
from fma_pipeline.core.learning.training_config import TrainingConfig

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
                                                 ("tune_tracks", -1, "tune_tracks must be 0 or more"),
                                                 ("calibration_folds", 1, "calibration_folds must be 0"),
                                                 ("models", ("svc",), "unknown models"),
                                                 ("families", ("rhythm",), "families must be a non-empty subset"),
                                                 ("families", (), "families must be a non-empty subset")])
def test_training_config_rejects_bad_values(field, value, message):
    with pytest.raises(ValueError, match=message):
        TrainingConfig(**{field: value})


def test_tuning_sample_takes_whole_artists_and_keeps_the_genre_mix():
    X, labels = synthetic(n_per_genre=80)
    picked = sample_tracks(labels, 60, seed=0)
    assert 40 <= len(picked) <= 80  # one fold of ceil(240 / 60) = 4
    inside = labels["artist_id"].isin(labels.loc[picked, "artist_id"])
    assert set(labels.index[inside]) == set(picked)  # no artist is split by the sample
    share = labels.loc[picked, "genre"].value_counts(normalize=True)
    assert share.between(0.25, 0.42).all() and len(share) == 3
    assert list(sample_tracks(labels, 60, seed=0)) == list(picked)  # deterministic
    assert sample_tracks(labels, 0).equals(labels.index) and sample_tracks(labels, 10_000).equals(labels.index)
    rare = labels[(labels["genre"] != "g2") | (labels["artist_id"] < 88)]  # g2: 8 artists
    few = sample_tracks(rare, 60, seed=0)
    assert rare.loc[few].query("genre == 'g2'")["artist_id"].nunique() < 4
    more = sample_tracks(rare, 60, seed=0, min_artists=5)  # a rare genre gets enough artists for 5 folds
    assert rare.loc[more].query("genre == 'g2'")["artist_id"].nunique() == 5 and set(few) < set(more)
    model = train_one("lda", "scaled", X, labels, TrainingConfig(n_jobs=1, cv_folds=3, tune_tracks=60))
    assert model.extra["n_tune"] < model.extra["n_train"] == 180  # tuned on a sample, refit on all training tracks
    assert model.test["accuracy"] > model.test["majority_baseline"] + 0.3


def test_a_small_tuning_sample_repeats_its_folds_with_fresh_shuffles():
    """56 tuning tracks: 3-fold CV scores a candidate on 56 held-out predictions, so the folds are
    repeated (new shuffles) until at least MIN_SCORED_TRACKS are scored; from 150 tracks, once."""
    X, labels = synthetic(n_per_genre=24, genres=3)
    data = training_data(X, labels, TrainingConfig(cv_folds=3))
    n = len(data.tune_ids)
    assert data.cv_repeats == int(np.ceil(MIN_SCORED_TRACKS / n)) > 1
    assert len(data.folds) == 3 * data.cv_repeats and data.sizes()["cv_folds"] == 3
    held_out = [frozenset(test) for _, test in data.folds]
    assert len(set(held_out)) == len(held_out)  # each repeat is a new shuffle
    for r in range(data.cv_repeats):  # each repeat holds every tuning row out exactly once
        assert sorted(np.concatenate([t for _, t in data.folds[3 * r:3 * r + 3]])) == list(range(n))
    artists = data.labels.loc[data.tune_ids, "artist_id"].to_numpy()
    for train, test in data.folds:  # an artist never on both sides
        assert not set(artists[train]) & set(artists[test])
    y, groups = pd.Series(np.repeat(["a", "b"], 100)), pd.Series(np.arange(200))
    folds, repeats = search_folds(y, groups, 3, 0, n_tracks=200)
    assert repeats == 1 and len(folds) == 3


def test_the_champion_is_chosen_on_the_validation_split_and_refit_on_training_plus_validation():
    """With a validation split large enough, models are fitted on training rows, ranked on validation
    rows nothing has seen (not by CV on the tuning sample), and the champion refit on both before test."""
    X, labels = synthetic(n_per_genre=60, seed=5)
    validation = (labels["split"] == "training") & (labels["artist_id"] % 5 == 1)  # whole artists
    labels.loc[validation, "split"] = "validation"
    config = TrainingConfig(models=("lda", "knn", "logistic_regression"), branches=("scaled",), n_jobs=1,
                            cv_folds=3, ensemble_size=2, validation_tracks=20, tune_tracks=60)
    data = training_data(X, labels, config)
    assert data.chooses_on_validation and len(data.validation_ids) == validation.sum()
    assert not set(data.tune_ids) & set(data.validation_ids)  # the search never sees validation rows
    assert set(data.select_ids) == set(labels.index[labels["split"] == "training"])
    lines: list[str] = []
    models = train_all(X, labels, config, progress=lines.append)
    assert all(0 <= m.validation_macro_f1 <= 1 for m in models)
    assert {m.extra["n_train"] for m in models} == {len(data.select_ids)}  # fitted on training rows only
    best = champion(models)
    assert best.validation_macro_f1 == max(m.validation_macro_f1 for m in models)
    cv_best = max(models, key=lambda m: m.cv_macro_f1)
    assert best is cv_best or best.cv_macro_f1 < cv_best.cv_macro_f1  # validation decides, not CV
    table = comparison_table(models)
    assert table.loc[0, "model"] == best.model and "validation_macro_f1" in table
    assert any("validation macro-F1" in line for line in lines)
    served = calibrate(best, X, labels, TrainingConfig(**{**config.__dict__, "calibration_folds": 0}))
    assert served.extra["n_train"] == len(data.fit_ids) > len(data.select_ids)  # refit on training + validation
    assert served.extra["selection_test"] == best.test and served.pipeline is not best.pipeline
    small = training_data(X, labels, TrainingConfig(validation_tracks=10_000))
    assert not small.chooses_on_validation and small.select_ids.equals(small.fit_ids)
    assert np.isnan(train_one("lda", "scaled", X, labels, TrainingConfig(n_jobs=1, cv_folds=3)).validation_macro_f1)


def test_families_are_chosen_once_per_branch_by_the_judge():
    X, labels = synthetic()
    lines: list[str] = []
    config = TrainingConfig(models=("lda", "knn"), branches=("scaled",), n_jobs=1, cv_folds=3, ensemble_size=0)
    models = train_all(X, labels, config, progress=lines.append)
    assert {m.best_params["families"] for m in models} == {models[0].best_params["families"]}
    assert models[0].best_params["families"] in {"all", "timbre"}  # the signal is in mfcc_corr
    assert [m.extra["candidates"] for m in models] == [2, 3]  # own grids only: not x 4 family sets
    assert {m.extra["families_chosen_by"] for m in models} == {"logistic_regression"}
    assert any("chosen by logistic_regression" in line for line in lines)
    done = [line for line in lines if " done: CV macro-F1" in line]
    assert len(done) == 2 and all("elapsed" in line and "left" in line for line in done)


def test_calibration_keeps_predictions_and_fixes_overconfidence():
    X, labels = synthetic(n_per_genre=60, seed=3)
    X = X + np.random.default_rng(1).normal(scale=2.0, size=X.shape)  # harder: 1-NN will be wrong and sure
    config = TrainingConfig(models=("knn",), branches=("scaled",), n_jobs=1, cv_folds=3, families=("timbre",),
                            ensemble_size=0)
    raw = train_all(X, labels, config)[0]
    raw.pipeline.set_params(model__n_neighbors=1)
    raw.pipeline.fit(*_fit_rows(X, labels))
    raw.test = {**raw.test, **_test_scores(raw.pipeline, X, labels)}
    calibrated = calibrate(raw, X, labels, config)
    test = labels.index[labels["split"] == "test"]
    predicted = raw.pipeline.predict(X.loc[test])
    np.testing.assert_array_equal(predicted, calibrated.pipeline.predict(X.loc[test]))
    assert calibrated.test["accuracy"] == (predicted == labels.loc[test, "genre"]).mean() < 0.95
    assert calibrated.test["ece"] < raw.test["ece"] and calibrated.test["log_loss"] < raw.test["log_loss"]
    assert calibrated.extra["uncalibrated"]["ece"] == raw.test["ece"]
    assert calibrated.pipeline.predict_proba(X.loc[test]).max(axis=1).mean() < 0.99  # no longer 0/1


def _fit_rows(X, labels):
    train = labels.index[labels["split"] != "test"]
    return X.loc[train], labels.loc[train, "genre"]


def _test_scores(model, X, labels) -> dict:
    test = labels.index[labels["split"] == "test"]
    proba = pd.DataFrame(model.predict_proba(X.loc[test]), index=test, columns=model.classes_)
    return evaluation.calibration(labels.loc[test, "genre"], proba)


def test_calibration_scores_by_hand():
    proba = pd.DataFrame([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.5, 0.5]], columns=["a", "b"])
    scores = evaluation.calibration(pd.Series(["a", "b", "b", "a"]), proba)
    # bins: 0.9 right, 0.8 wrong, 0.7 right, 0.5 right (argmax takes the first on a tie)
    assert scores["ece"] == pytest.approx((0.1 + 0.8 + 0.3 + 0.5) / 4)
    assert scores["brier"] == pytest.approx((0.02 + 1.28 + 0.18 + 0.5) / 4)
    assert scores["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.2, 0.7, 0.5])))


def windows(X: pd.DataFrame, per_track: int = 3, noise: float = 0.5, seed: int = 0) -> pd.DataFrame:
    """Each track's row plus window noise, ``per_track`` windows indexed (track_id, segment)."""
    rng = np.random.default_rng(seed)
    rows = np.repeat(X.to_numpy(np.float32), per_track, axis=0)
    rows += rng.normal(scale=noise, size=rows.shape).astype(np.float32)
    index = pd.MultiIndex.from_product([X.index, range(per_track)], names=["track_id", "segment"])
    return pd.DataFrame(rows, index=index, columns=X.columns)


def test_window_rows_train_on_windows_and_score_per_track():
    X, labels = synthetic()
    W = windows(X)
    data = training_data(W, labels, TrainingConfig(cv_folds=3))
    tracks = data.X_tune.index.get_level_values("track_id")  # the folds index the tuning rows
    assert len(data.X_tune) == 3 * len(data.tune_ids)
    for fit_rows, held_out in data.folds:  # a track's windows, and an artist's, never on both sides
        assert not set(tracks[fit_rows]) & set(tracks[held_out])
        artists = labels["artist_id"]
        assert not set(artists.loc[tracks[fit_rows]]) & set(artists.loc[tracks[held_out]])
    model = train_one("logistic_regression", "scaled", W, labels, TrainingConfig(n_jobs=1, cv_folds=3))
    assert model.extra["n_test"] == (labels["split"] == "test").sum()  # tracks, not windows
    assert model.confusion.to_numpy().sum() == model.extra["n_test"]
    assert model.test["accuracy"] > model.test["majority_baseline"] + 0.3
    assert model.pipeline.named_steps["model"].n_features_in_ in (414, 708)  # fit on 708-column window rows


def test_the_default_zoo_trains_end_to_end_and_the_champion_is_calibrated():
    X, labels = synthetic(n_per_genre=30)
    models = train_all(X, labels, TrainingConfig(n_jobs=1, cv_folds=3, branches=("scaled",)))
    assert [m.model for m in models] == ["svm", "knn", "logistic_regression", "lda", "mlp",
                                         "soft_voting"]
    best = calibrate(champion(models), X, labels, TrainingConfig(cv_folds=3))
    assert best.extra["calibration"].startswith("temperature") and 0 <= best.test["ece"] <= 1
    proba = best.pipeline.predict_proba(X.head(5))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
