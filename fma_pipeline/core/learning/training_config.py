"""What to train and how much the search may cost: :class:`TrainingConfig`, validated once.

Its defaults are documented with :func:`fma_pipeline.core.settings.documented` so that the
Dagster shell's ``TrainingConfig`` (``orchestration/config.py``) mirrors them instead of
repeating them.
"""

from __future__ import annotations

from dataclasses import dataclass

from fma_pipeline.core.learning.families import FAMILY_SETS
from fma_pipeline.core.learning.models import BRANCHES, DEFAULT_MODELS, zoo
from fma_pipeline.core.settings import documented


@dataclass(frozen=True)
class TrainingConfig:
    """What to train and how much the search may cost.

    ``tune_tracks``: the search's artist-grouped sample of training tracks (0 = all);
    ``fit_tracks``: the final fit's sample (0 = all); ``calibration_folds``: held-out folds
    that calibrate the champion's probabilities (0 = leave them as they are). Each field's
    documentation: ``settings.field_doc(TrainingConfig, name)``.

    Parameters
    ----------
    models : tuple of str
        Zoo entries to train (see ``models.zoo``).
    branches : tuple of str
        ``scaled`` and/or ``pca``: the Pipeline's branch after scaling.
    pca_variance : float
        Variance kept by the PCA branch.
    cv_folds : int
        Artist-grouped CV folds of the search.
    n_jobs : int
        Parallel search jobs (-1 = all cores).
    seed : int
        Seed of samples, folds and models.
    ensemble_size : int
        Soft-voting ensemble of the best N models by CV macro-F1; 0 = none.
    search : str
        ``grid``: each model's small grid; ``random``: ``search_iterations`` draws from its wider space.
    search_iterations : int
        Random search budget: candidates per model and branch.
    families : tuple of str
        Feature family sets the search may choose from.
    tune_tracks : int
        The search's sample of training tracks; 0 = all.
    fit_tracks : int
        The final fit's sample of training tracks; 0 = all.
    calibration_folds : int
        Held-out folds that calibrate the champion's probabilities; 0 = off.
    validation_tracks : int
        Smallest validation split that chooses the champion; smaller ones leave it to CV.

    Raises
    ------
    ValueError
        If ``search``, ``search_iterations``, ``families``, ``models``, a sample size or
        ``calibration_folds`` (1 is not allowed) is invalid.
    """

    models: tuple[str, ...] = documented(DEFAULT_MODELS, "Zoo entries to train (see models.zoo).")
    branches: tuple[str, ...] = documented(BRANCHES, "scaled and/or pca: the Pipeline's branch after scaling.")
    pca_variance: float = documented(0.95, "Variance kept by the PCA branch.")
    cv_folds: int = documented(3, "Artist-grouped CV folds of the search (a rare genre gets at least this "
                                  "many artists).")
    n_jobs: int = documented(-1, "Parallel search jobs (-1 = all cores).")
    seed: int = documented(0, "Seed of samples, folds and models.")
    ensemble_size: int = documented(3, "Soft-voting ensemble of the best N models by CV macro-F1; 0 = none.")
    search: str = documented("grid", "'grid': each model's small grid; 'random': search_iterations draws "
                                     "from its wider space.")
    search_iterations: int = documented(12, "Random search budget: candidates per model and branch.")
    families: tuple[str, ...] = documented(tuple(FAMILY_SETS), "Feature family sets the search may choose "
                                           "from: fma, fma_timbre, all, timbre (see README, Design).")
    tune_tracks: int = documented(5000, "The search runs on an artist-grouped sample of at most this many "
                                        "training tracks, then the best is refit on all; 0 = all.")
    fit_tracks: int = documented(0, "The final fit's sample of training tracks; 0 = all.")
    calibration_folds: int = documented(3, "Held-out folds that calibrate the champion's probabilities "
                                           "(temperature scaling); 0 = off.")
    validation_tracks: int = documented(1000, "The champion is chosen on the validation split (models refit on "
                                              "training rows) when it holds at least this many tracks; else by CV "
                                              "on the tuning sample.")

    def __post_init__(self) -> None:
        if self.search not in ("grid", "random"):
            raise ValueError(f"search must be 'grid' or 'random', not {self.search!r}")
        if self.search_iterations < 1:
            raise ValueError(f"search_iterations must be at least 1, not {self.search_iterations}")
        unknown = sorted(set(self.families) - set(FAMILY_SETS))
        if unknown or not self.families:
            raise ValueError(f"families must be a non-empty subset of {list(FAMILY_SETS)}, not {list(self.families)}")
        for name in ("tune_tracks", "fit_tracks", "calibration_folds", "validation_tracks"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, not {getattr(self, name)}")
        if self.calibration_folds == 1:
            raise ValueError("calibration_folds must be 0 (off) or at least 2")
        unknown = sorted(set(self.models) - set(zoo()))
        if unknown:
            hint = " ('svm' is the Nystroem RBF-kernel model)" if "svm" in unknown else ""
            raise ValueError(f"unknown models {unknown}; choose from {sorted(zoo())}{hint}")
