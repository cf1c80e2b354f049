"""Train and evaluate the model zoo on one feature matrix, at any size from 70 to 100,000+ tracks.

Protocol (what makes the numbers trustworthy):
- hyper-parameters are chosen by cross-validation on training + validation rows only,
  folds grouped by artist and stratified by genre (``StratifiedGroupKFold``), scored by
  macro-F1; exhaustively over each model's small grid (``search="grid"``, the default) or
  over ``search_iterations`` candidates drawn from its wider space (``search="random"``);
- the champion is chosen at full size on FMA's ``validation`` split when it is large
  enough (at least ``validation_tracks`` tracks): every model is refit on the ``training``
  rows alone and ranked by macro-F1 on ``validation``, which no search, sample or fit has
  seen; the champion is then refit on training + validation (:func:`calibrate`). A model's
  cross-validated score on the tuning sample ranks it as it does on that sample: at FMA
  medium size (25,000 tracks) it chose a soft-voting ensemble scoring 0.432 test macro-F1
  while an MLP refit on all rows scored 0.475 (docs/model-selection.md). With a smaller
  validation split (the built-in sample, small imported collections) the champion is the
  model with the best *cross-validated* macro-F1, refit on training + validation;
- the champion's probabilities are calibrated on held-out folds (:func:`calibrate`), and
  each model is scored once on the test split, which never picks anything.

What keeps the cost bounded at FMA size (``bench/scale.py``):
- **tuning on a sample**: the search runs on an artist-grouped, genre-stratified sample of
  at most ``tune_tracks`` training tracks, then the chosen candidate is refit once on all
  training tracks (at most ``fit_tracks``). On FMA-like data, tuning on 5,000 tracks chose
  what tuning on all of them chose, at a fraction of the cost (FIELD-NOTES); below
  ``tune_tracks`` nothing changes;
- **feature families chosen once per branch**: the family sets are searched together with
  the hyper-parameters of one judge model (logistic regression: linear, cheap, and hurt by
  irrelevant columns the way distance-based models are); every other model then searches
  only its own grid on the judge's choice, instead of multiplying every grid by the sets.

Both levels share the code. A clip-level matrix has one row per track (index
``track_id``); a segment-level matrix has one row per window (index ``(track_id,
segment)``, see :mod:`~fma_pipeline.core.learning.segments`): models are fit on windows,
and every score — CV and test — is taken per track on the soft vote of its windows, with
all windows of a track (and of an artist) on one side of every split.

Where each part lives (this module only puts them in order):

- :mod:`~fma_pipeline.core.learning.training_config` — :class:`TrainingConfig`;
- :mod:`~fma_pipeline.core.learning.problem` — FMA's split, samples and folds
  (:class:`TrainingProblem`, :func:`training_data`);
- :mod:`~fma_pipeline.core.learning.search` — each branch's family and hyper-parameter search;
- :mod:`~fma_pipeline.core.learning.scoring` — per-track scorers, validation and test scores;
- :mod:`~fma_pipeline.core.learning.ensemble` — the soft-voting ensemble;
- :mod:`~fma_pipeline.core.learning.calibration` — the champion refit and calibrated;
- :mod:`~fma_pipeline.core.learning.comparison` — ranking, the champion, comparison tables;
- :mod:`fma_pipeline.core.progress` — the progress lines.
"""

from __future__ import annotations

import pandas as pd

from fma_pipeline.core.learning.ensemble import ensemble_members, train_ensemble
from fma_pipeline.core.learning.problem import training_data
from fma_pipeline.core.learning.search import FAMILY_JUDGE, candidate_count, train_branch
from fma_pipeline.core.learning.trained_model import TrainedModel
from fma_pipeline.core.learning.training_config import TrainingConfig
from fma_pipeline.core.progress import Progress, Reporter


def train_all(X: pd.DataFrame, labels: pd.DataFrame, config: TrainingConfig = TrainingConfig(),
              progress: Progress | None = None, what: str = "training") -> list[TrainedModel]:
    """Every configured model on every configured branch, plus the soft-voting ensemble.

    ``progress`` receives one line per step (families chosen, each model done with its
    scores, elapsed time and an estimate of what is left).

    Parameters
    ----------
    X : pandas.DataFrame
        A clip table or a window table.
    labels : pandas.DataFrame
        Tracks with ``genre``, ``split`` and ``artist_id``.
    config : TrainingConfig, default TrainingConfig()
        Models, branches, search and samples.
    progress : Progress or None, default None
        Receives the progress lines.
    what : str, default 'training'
        Prefix of the progress lines.

    Returns
    -------
    list of TrainedModel
        Branch by branch, then the ensemble when ``ensemble_size`` allows one.
    """
    data = training_data(X, labels, config)
    per_branch = sum(candidate_count(m, data, data.families[:1]) for m in config.models)
    if len(data.families) > 1 and len(config.models) > 1:
        per_branch += candidate_count(FAMILY_JUDGE, data, data.families)
    report = Reporter(progress, per_branch * len(config.branches), what)
    chosen = (f"champion chosen on {len(data.validation_ids):,} validation tracks (models refit on "
              f"{len(data.select_ids):,} training tracks)" if data.chooses_on_validation else
              f"champion chosen by CV (validation split under {config.validation_tracks:,} tracks)")
    sizes = data.sizes()
    repeats = f" x {sizes['cv_repeats']} repeats" if sizes["cv_repeats"] > 1 else ""
    report.say(f"{len(config.models)} models x {len(config.branches)} branches; tuning on {len(data.tune_ids):,} of "
               f"{len(data.select_ids):,} training tracks ({len(data.X_tune):,} rows, "
               f"{sizes['cv_folds']} artist-grouped folds{repeats}), {config.search} search, "
               f"families from {data.families}; {chosen}")
    models = [m for b in config.branches for m in train_branch(config.models, b, data, report)]
    members = ensemble_members(models, config.ensemble_size) if config.ensemble_size >= 2 else []
    if len(members) >= 2:
        models.append(train_ensemble(members, data, report))
    return models
