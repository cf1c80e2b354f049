"""The model zoo: scikit-learn Pipelines for the scaled and the PCA branch, with search spaces.

Every model is a full :class:`~sklearn.pipeline.Pipeline` from the 708 raw features to
a genre (``families`` → ``scale`` → [``pca``] → ``model``), so the logged model needs
nothing else to predict, and cross-validation refits the scaler and PCA inside each fold
(no leakage). Every search also chooses the feature families
(:mod:`~fma_pipeline.core.learning.families`: FMA's 518, all 708, or their timbre columns).

Each model has a small ``grid`` (exhaustive search, the default) and a wider ``space``
(randomised search: lists are sampled uniformly, scipy distributions drawn from) for
``TrainingConfig(search="random", search_iterations=N)``, where N is the budget: the
number of candidates tried per model and branch, whatever the space's size.
Class imbalance is handled with class weights where the estimator supports them
(``class_weight='balanced'``); kNN and the MLP have none and are trained as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scipy.stats import loguniform, randint
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from fma_pipeline.core.learning.families import FAMILY_SETS, FeatureFamilies

BRANCHES: tuple[str, ...] = ("scaled", "pca")
#: How each model copes with class imbalance (recorded with every run).
IMBALANCE: dict[str, str] = {
    "random_forest": "class_weight=balanced_subsample",
    "svm": "class_weight=balanced",
    "knn": "none (distance-weighted votes)",
    "logistic_regression": "class_weight=balanced",
    "hist_gradient_boosting": "class_weight=balanced",
    "mlp": "none",
    "lda": "none (class priors from the training data)",
}


@dataclass(frozen=True)
class ModelSpec:
    """One zoo entry: an estimator factory, its grid and its random-search space (keys without the step prefix)."""

    name: str
    build: Any
    grid: dict[str, list] = field(default_factory=dict)
    space: dict[str, Any] = field(default_factory=dict)


def zoo(seed: int = 0) -> dict[str, ModelSpec]:
    """All models, each with a small grid chosen for FMA-scale data on a CPU."""
    return {
        "random_forest": ModelSpec("random_forest", lambda: RandomForestClassifier(
            n_estimators=400, class_weight="balanced_subsample", n_jobs=1, random_state=seed),
            {"max_features": ["sqrt", 0.05], "min_samples_leaf": [1, 3]},
            {"max_features": ["sqrt", "log2", 0.05, 0.1, 0.2], "min_samples_leaf": randint(1, 6)}),
        "svm": ModelSpec("svm", lambda: SVC(kernel="rbf", probability=True, class_weight="balanced",
                                            random_state=seed),
                         {"C": [1.0, 4.0, 16.0], "gamma": ["scale"]},
                         {"C": loguniform(0.3, 100.0), "gamma": ["scale"]}),
        "knn": ModelSpec("knn", lambda: KNeighborsClassifier(weights="distance"),
                         {"n_neighbors": [5, 10, 20]},
                         {"n_neighbors": list(range(3, 31)), "weights": ["distance", "uniform"]}),
        "logistic_regression": ModelSpec("logistic_regression", lambda: LogisticRegression(
            class_weight="balanced", max_iter=3000, random_state=seed),
            {"C": [0.01, 0.1, 1.0]},
            {"C": loguniform(1e-3, 10.0)}),
        "hist_gradient_boosting": ModelSpec("hist_gradient_boosting", lambda: HistGradientBoostingClassifier(
            class_weight="balanced", max_iter=150, learning_rate=0.1, early_stopping=False,
            random_state=seed), {"max_leaf_nodes": [15], "l2_regularization": [0.0, 1.0]},
            {"max_leaf_nodes": randint(7, 64), "l2_regularization": loguniform(1e-3, 10.0),
             "learning_rate": loguniform(0.03, 0.3)}),
        # Shrinkage LDA: with a handful of tracks per genre, a shrunk shared covariance is a
        # strong, cheap linear model (bench/gtzan.py).
        "lda": ModelSpec("lda", lambda: LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
                         {"shrinkage": ["auto", 0.5]},
                         {"shrinkage": ["auto", 0.1, 0.3, 0.5, 0.7, 0.9]}),
        "mlp": ModelSpec("mlp", lambda: MLPClassifier(
            hidden_layer_sizes=(256,), max_iter=400, early_stopping=False, random_state=seed),
            {"alpha": [1e-3, 1e-1]},
            {"alpha": loguniform(1e-4, 1.0), "hidden_layer_sizes": [(128,), (256,), (256, 128)]}),
    }


#: Models trained by default: the three the original project compared, plus three that
#: often beat them on these features. Histogram gradient boosting is one config key away
#: (it costs more than all the others together on a CPU).
DEFAULT_MODELS: tuple[str, ...] = ("random_forest", "svm", "knn", "logistic_regression", "lda", "mlp")
#: Segment-level defaults: every window is a training row (10 per 30 s clip). Random forest
#: scored best on windows in bench/gtzan.py among the models that stay cheap on many rows
#: (gradient boosting scored a little higher at 70x the cost); LDA and logistic regression
#: are fast and give the soft-voting ensemble members that differ from the forest.
SEGMENT_MODELS: tuple[str, ...] = ("random_forest", "logistic_regression", "lda")
#: Segment-level family sets: offered all four on gtzan-mini's windows, every model chose
#: a timbre set in 9 or 10 of 10 outer folds (bench/gtzan.py), and the two sets with the
#: pitch-class columns double the cost of the most expensive search in the pipeline.
SEGMENT_FAMILIES: tuple[str, ...] = ("fma_timbre", "timbre")


def make_pipeline(model: Any, branch: str, pca_variance: float = 0.95, seed: int = 0) -> Pipeline:
    """``families`` → ``scale`` → (``pca`` when ``branch == 'pca'``) → ``model``."""
    if branch not in BRANCHES:
        raise ValueError(f"unknown branch {branch!r}; expected one of {BRANCHES}")
    steps: list[tuple[str, Any]] = [("families", FeatureFamilies()), ("scale", StandardScaler())]
    if branch == "pca":
        steps.append(("pca", PCA(n_components=pca_variance, svd_solver="full", random_state=seed)))
    steps.append(("model", model))
    return Pipeline(steps)


def search_params(spec: ModelSpec, search: str = "grid", families: list[str] | None = None) -> dict[str, Any]:
    """The spec's grid (``search='grid'``) or random-search space, with the Pipeline step
    prefix (``model__C``), plus the family sets (default: all of them; see
    :func:`~fma_pipeline.core.learning.families.family_choices`)."""
    params = spec.space if search == "random" else spec.grid
    return {"families__families": families or list(FAMILY_SETS), **{f"model__{k}": v for k, v in params.items()}}
