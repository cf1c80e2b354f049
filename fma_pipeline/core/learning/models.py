"""The model zoo: scikit-learn Pipelines for the scaled and the PCA branch, with search spaces.

Every model is a full :class:`~sklearn.pipeline.Pipeline` from the 708 raw features to
a genre (``families`` → ``scale`` → [``pca``] → ``model``), so the logged model needs
nothing else to predict, and cross-validation refits the scaler and PCA inside each fold
(no leakage). Which feature families a model sees
(:mod:`~fma_pipeline.core.learning.families`: FMA's 518, all 708, or their timbre
columns) is a searched hyper-parameter too.

Each model has a small ``grid`` (exhaustive search, the default) and a wider ``space``
(randomised search: lists are sampled uniformly, scipy distributions drawn from) for
``TrainingConfig(search="random", search_iterations=N)``, where N is the budget: the
number of candidates tried per model and branch, whatever the space's size.

Every default is chosen so one fit grows about linearly with rows and the fitted model's
size does not grow with them (FMA medium: 25,000 tracks; large: 106,574; measured on a
2-core machine, see FIELD-NOTES and ``bench/scale.py``):

- ``svm`` is an RBF-kernel machine approximated with :class:`~sklearn.kernel_approximation.Nystroem`
  (:data:`NYSTROEM_COMPONENTS` landmarks) and a linear classifier with the logistic loss.
  scikit-learn's ``SVC(probability=True)`` fits in ~n^1.6 time (one 16,900-row fold did
  not finish in 600 s; 93-96 % of rows became support vectors), fits five more models for
  Platt scaling, and its ``probability`` option is deprecated in 1.9. The approximation
  scored as well as a real RBF SVC on FMA-like data, with probabilities that need little
  calibration.
- ``random_forest`` grows each tree on at most :data:`FOREST_MAX_SAMPLES` bootstrap rows
  with leaves of 3+ tracks, so its pickle is bounded (~100 MB) instead of ~0.7 GB at
  medium size.
- ``mlp`` stops early on a 10 % validation slice and weights classes (balanced), which
  fitted in seconds and scored best on FMA-like data.

Class imbalance is handled with class weights where the estimator supports them
(``class_weight='balanced'``, balanced sample weights for the MLP); kNN has none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scipy.stats import loguniform, randint
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from fma_pipeline.core.learning.families import FAMILY_SETS, FeatureFamilies

BRANCHES: tuple[str, ...] = ("scaled", "pca")
#: Landmarks of the ``svm`` model's kernel approximation (fewer when a fold has fewer rows).
NYSTROEM_COMPONENTS = 1000
#: Share of the variance the PCA branch keeps (the ``pca_features`` asset and every pca-branch model).
PCA_VARIANCE = 0.95
#: Bootstrap rows per random-forest tree: bounds fit time and model size at any data size.
FOREST_MAX_SAMPLES = 5000
#: How each model copes with class imbalance (recorded with every run).
IMBALANCE: dict[str, str] = {
    "random_forest": "class_weight=balanced_subsample",
    "svm": "class_weight=balanced",
    "knn": "none (distance-weighted votes)",
    "logistic_regression": "class_weight=balanced",
    "hist_gradient_boosting": "class_weight=balanced",
    "mlp": "balanced sample weights",
    "lda": "none (class priors from the training data)",
}


class BalancedMLPClassifier(MLPClassifier):
    """An :class:`~sklearn.neural_network.MLPClassifier` that weights classes as ``class_weight='balanced'`` would.

    The MLP has no such parameter; its ``fit`` takes ``sample_weight``, which a Pipeline
    inside a grid search cannot route without global metadata-routing settings.

    Parameters
    ----------
    **kwargs
        Those of :class:`~sklearn.neural_network.MLPClassifier`, unchanged.
    """

    def fit(self, X, y, sample_weight=None):
        """Fit with balanced sample weights unless ``sample_weight`` is given.

        Early stopping holds out a stratified slice; below ~20 rows per class it is too noisy to
        stop on (and needs a row of every class), so small data trains without it, for this fit only.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Training rows.
        y : array-like of shape (n_rows,)
            Their classes.
        sample_weight : array-like of shape (n_rows,), optional
            Row weights; default: balanced over the classes of ``y``.

        Returns
        -------
        BalancedMLPClassifier
            This classifier, fitted.
        """
        if sample_weight is None:
            sample_weight = compute_sample_weight("balanced", y)
        # Early stopping holds out a stratified slice; below ~20 rows per class it is too
        # noisy to stop on (and needs a row of every class): small data trains without it,
        # for this fit only.
        early = self.early_stopping
        if early and self.validation_fraction * len(X) < 20 * len(set(y)):
            self.early_stopping = False
        try:
            return super().fit(X, y, sample_weight=sample_weight)
        finally:
            self.early_stopping = early


def nystroem_classifier() -> Pipeline:
    """RBF-kernel classifier: Nystroem features, then a class-weighted logistic regression.

    :class:`~sklearn.kernel_approximation.Nystroem` uses ``gamma=None``: 1 / columns, like
    SVC's ``'scale'`` on standardised data. Its parameters are ``kernel__…`` and ``linear__…``;
    on fewer rows than landmarks Nystroem uses every row (and warns).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``kernel`` (:data:`NYSTROEM_COMPONENTS` landmarks) and ``linear``; unfitted.
    """
    return Pipeline([("kernel", Nystroem(kernel="rbf", n_components=NYSTROEM_COMPONENTS, random_state=0)),
                     ("linear", LogisticRegression(C=1.0, class_weight="balanced", max_iter=1000))])


@dataclass(frozen=True)
class ModelSpec:
    """One zoo entry: an estimator factory, its grid and its random-search space (keys without the step prefix).

    Parameters
    ----------
    name : str
        The zoo key (``svm``, ``knn`` …).
    build : Any
        Callable taking no arguments that returns a fresh, unfitted estimator.
    grid : dict of str to list
        Exhaustive-search grid.
    space : dict of str to Any
        Random-search space: lists are sampled uniformly, scipy distributions drawn from.
    """

    name: str
    build: Any
    grid: dict[str, list] = field(default_factory=dict)
    space: dict[str, Any] = field(default_factory=dict)


def zoo(seed: int = 0) -> dict[str, ModelSpec]:
    """All models, each with a small grid chosen for FMA-scale data on a CPU.

    Parameters
    ----------
    seed : int, default 0
        ``random_state`` of the seeded estimators.

    Returns
    -------
    dict of str to ModelSpec
        Zoo key -> its spec.
    """
    return {
        "random_forest": ModelSpec("random_forest", lambda: BoundedForest(
            n_estimators=200, min_samples_leaf=3, class_weight="balanced_subsample", n_jobs=1, random_state=seed),
            {"max_features": ["sqrt", 0.05]},
            {"max_features": ["sqrt", "log2", 0.05, 0.1, 0.2], "min_samples_leaf": randint(1, 8)}),
        "svm": ModelSpec("svm", nystroem_classifier,
                         {"linear__C": [0.1, 1.0, 10.0]},
                         {"linear__C": loguniform(0.03, 100.0), "kernel__gamma": loguniform(3e-4, 1e-2)}),
        "knn": ModelSpec("knn", lambda: KNeighborsClassifier(weights="distance"),
                         {"n_neighbors": [5, 10, 20]},
                         {"n_neighbors": list(range(3, 31)), "weights": ["distance", "uniform"]}),
        "logistic_regression": ModelSpec("logistic_regression", lambda: LogisticRegression(
            class_weight="balanced", max_iter=3000, random_state=seed),
            {"C": [0.01, 0.1, 1.0]},
            {"C": loguniform(1e-3, 10.0)}),
        "hist_gradient_boosting": ModelSpec("hist_gradient_boosting", lambda: HistGradientBoostingClassifier(
            class_weight="balanced", max_iter=150, learning_rate=0.1, max_bins=63, early_stopping=False,
            random_state=seed), {"max_leaf_nodes": [15], "l2_regularization": [0.0, 1.0]},
            {"max_leaf_nodes": randint(7, 64), "l2_regularization": loguniform(1e-3, 10.0),
             "learning_rate": loguniform(0.03, 0.3)}),
        # Shrinkage LDA: with a handful of tracks per genre, a shrunk shared covariance is a
        # strong, cheap linear model (bench/gtzan.py).
        "lda": ModelSpec("lda", lambda: LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
                         {"shrinkage": ["auto", 0.5]},
                         {"shrinkage": ["auto", 0.1, 0.3, 0.5, 0.7, 0.9]}),
        "mlp": ModelSpec("mlp", lambda: BalancedMLPClassifier(
            hidden_layer_sizes=(256,), max_iter=300, early_stopping=True, n_iter_no_change=10,
            random_state=seed),
            {"alpha": [1e-3, 1e-1]},
            {"alpha": loguniform(1e-4, 1.0), "hidden_layer_sizes": [(128,), (256,), (256, 128)]}),
    }


class BoundedForest(RandomForestClassifier):
    """A random forest whose trees each see at most :data:`FOREST_MAX_SAMPLES` bootstrap rows.

    Applies when ``max_samples`` is None (a fraction is set for the fit and restored after),
    so fit time and model size stop growing with the data; small data is unchanged.

    Parameters
    ----------
    **kwargs
        Those of :class:`~sklearn.ensemble.RandomForestClassifier`, unchanged.
    """

    def fit(self, X, y, sample_weight=None):
        """Fit the forest, each tree on at most :data:`FOREST_MAX_SAMPLES` bootstrap rows.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features)
            Training rows.
        y : array-like of shape (n_rows,)
            Their classes.
        sample_weight : array-like of shape (n_rows,), optional
            Row weights.

        Returns
        -------
        BoundedForest
            This forest, fitted; ``max_samples`` is as it was before the call.
        """
        requested = self.max_samples
        if requested is None and len(X) > FOREST_MAX_SAMPLES:
            self.max_samples = FOREST_MAX_SAMPLES / len(X)
        try:
            return super().fit(X, y, sample_weight=sample_weight)
        finally:
            self.max_samples = requested


#: Models trained by default: two the original project compared (SVM, kNN), plus three that
#: often beat them on these features. The random forest and histogram gradient boosting are
#: one config key away: at FMA medium size the bounded forest scored macro-F1 0.156 against
#: logistic regression's 0.353 (below the majority baseline's accuracy), and a forest on all
#: rows cost 309 s and 567 MB per fit; boosting costs more than all the others together on a
#: CPU (docs/model-selection.md).
DEFAULT_MODELS: tuple[str, ...] = ("svm", "knn", "logistic_regression", "lda", "mlp")
#: Segment-level defaults: every window is a training row (10 per 30 s clip). Random forest
#: scored best on windows in bench/gtzan.py among the models that stay cheap on many rows
#: (gradient boosting scored a little higher at 70x the cost); LDA and logistic regression
#: are fast and give the soft-voting ensemble members that differ from the forest.
SEGMENT_MODELS: tuple[str, ...] = ("random_forest", "logistic_regression", "lda")
#: Segment-level family sets: offered all four on gtzan-mini's windows, every model chose
#: a timbre set in 9 or 10 of 10 outer folds (bench/gtzan.py), and the two sets with the
#: pitch-class columns double the cost of the most expensive search in the pipeline.
SEGMENT_FAMILIES: tuple[str, ...] = ("fma_timbre", "timbre")


def make_pipeline(model: Any, branch: str, pca_variance: float = PCA_VARIANCE, seed: int = 0) -> Pipeline:
    """``families`` → ``scale`` → (``pca`` when ``branch == 'pca'``) → ``model``.

    Parameters
    ----------
    model : Any
        The unfitted estimator of the last step.
    branch : str
        One of :data:`BRANCHES`.
    pca_variance : float, default PCA_VARIANCE
        Variance the PCA step keeps.
    seed : int, default 0
        ``random_state`` of the PCA step.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Unfitted.

    Raises
    ------
    ValueError
        If ``branch`` is not one of :data:`BRANCHES`.
    """
    if branch not in BRANCHES:
        raise ValueError(f"unknown branch {branch!r}; expected one of {BRANCHES}")
    steps: list[tuple[str, Any]] = [("families", FeatureFamilies()), ("scale", StandardScaler())]
    if branch == "pca":
        steps.append(("pca", PCA(n_components=pca_variance, svd_solver="full", random_state=seed)))
    steps.append(("model", model))
    return Pipeline(steps)


def search_params(spec: ModelSpec, search: str = "grid", families: list[str] | None = None) -> dict[str, Any]:
    """The spec's grid (``search='grid'``) or random-search space, with the Pipeline step prefix.

    Keys get the step prefix (``model__C``), plus the family sets (default: all of them; see
    :func:`~fma_pipeline.core.learning.families.family_choices`).

    Parameters
    ----------
    spec : ModelSpec
        The zoo entry.
    search : str, default 'grid'
        ``grid`` or ``random``.
    families : list of str or None, default None
        Family sets to offer; None = every key of :data:`FAMILY_SETS`.

    Returns
    -------
    dict of str to Any
        Parameter grid or distributions for the Pipeline of :func:`make_pipeline`.

    Examples
    --------
    >>> search_params(zoo()["knn"], families=["timbre"])
    {'families__families': ['timbre'], 'model__n_neighbors': [5, 10, 20]}
    """
    params = spec.space if search == "random" else spec.grid
    return {"families__families": families or list(FAMILY_SETS), **{f"model__{k}": v for k, v in params.items()}}
