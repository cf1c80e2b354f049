"""Real-music evaluation: every model on gtzan-mini, clip-level vs segment-level.

    python bench/gtzan.py [--audio ../shared/data/gtzan-mini] [--folds 5] [--repeats 2]
                          [--search grid|random] [--iterations 12]

Brings the clips into the pipeline (``import --layout filename-prefix`` into a temporary
data root), computes each clip's frame series once, then prints every model's repeated
stratified cross-validated accuracy and macro-F1 (mean ± std over outer folds), with
hyper-parameters chosen by an inner CV inside each outer training fold (nested CV:
no figure is tuned on the fold that scores it). Each outer training fold is trained by
the pipeline's own ``train_all`` with its defaults (``--search random``: its spaces,
``--iterations`` draws), including the feature families, chosen once per fold by logistic
regression's search; which family sets each model used over the outer folds is printed.
Segment-level models learn from 3 s windows and vote per track. The champion (best
mean macro-F1) is marked.
With 7 clips per genre, a single split would be noise; the spread is part of the answer.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import RepeatedStratifiedKFold

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fma_pipeline.core.audio.definition import decode_for  # noqa: E402
from fma_pipeline.core.audio.features import FeatureConfig, flat_feature_names, frame_series, summarise  # noqa: E402
from fma_pipeline.core.fma.importer import import_collection  # noqa: E402
from fma_pipeline.core.learning.families import FAMILY_SETS  # noqa: E402
from fma_pipeline.core.learning.models import SEGMENT_FAMILIES  # noqa: E402
from fma_pipeline.core.audio.windows import SegmentConfig, segment_frame, segment_rows  # noqa: E402
from fma_pipeline.core.learning.training import train_all  # noqa: E402
from fma_pipeline.core.learning.training_config import TrainingConfig  # noqa: E402
from fma_pipeline.core.fma.metadata import read_tracks  # noqa: E402
from fma_pipeline.core.catalogue import DataRoot  # noqa: E402


def load(audio: Path, root: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """Import, then clip features, window features and labels from one pass per clip."""
    report = import_collection(audio, root, "filename-prefix")
    print(f"imported {report.imported} clips into {root} ({len(report.skipped)} skipped)")
    tracks = read_tracks(DataRoot(root).tracks_csv)
    labels = tracks[("track", "genre_top")].astype(str)
    config = FeatureConfig()
    clips, windows = {}, {}
    started = time.perf_counter()
    for tid in tracks.index:
        path = next((root / "fma_large" / f"{tid // 1000:03d}").glob(f"{tid:06d}.*"))
        y, at_rate = decode_for(path, config)  # the file's own rate, as extraction
        series = frame_series(y, at_rate)
        clips[tid] = summarise(series)
        windows[tid] = segment_rows(series, SegmentConfig(), at_rate)
    print(f"features: {len(clips)} clips, {sum(map(len, windows.values()))} windows "
          f"in {time.perf_counter() - started:.1f} s")
    X = pd.DataFrame.from_dict(clips, orient="index", columns=list(flat_feature_names()))
    return X, segment_frame(windows), labels


SEARCH = {"kind": "grid", "iterations": 12}


def evaluate(models: list[str], X: pd.DataFrame, S: pd.DataFrame, y: pd.Series, outer, segments: bool) -> dict:
    """Every model's outer-fold scores, trained by the pipeline's own ``train_all`` on each outer training fold.

    The outer fold's test clips are the ``test`` split; ``train_all`` tunes on the rest with
    its own inner CV (3 folds, grouped by track: gtzan-mini has no artist ids) and the
    pipeline's defaults per level — feature families chosen once by logistic regression's
    search, each model's own grid, soft voting of the best three by inner CV.
    """
    zoo_models = tuple(m for m in models if m != "soft_voting")
    config = TrainingConfig(models=zoo_models, branches=("scaled",), cv_folds=3, search=SEARCH["kind"],
                            search_iterations=SEARCH["iterations"], ensemble_size=3 if "soft_voting" in models else 0,
                            families=SEGMENT_FAMILIES if segments else tuple(FAMILY_SETS), calibration_folds=0)
    scores: dict[str, dict[str, list]] = {m: {"acc": [], "f1": [], "families": []} for m in models}
    for train, test in outer.split(X, y):
        labels = pd.DataFrame({"genre": y, "artist_id": y.index, "split": "training"}, index=y.index)
        labels.iloc[test, labels.columns.get_loc("split")] = "test"
        for trained in train_all(S if segments else X, labels, config):
            if trained.model in scores:
                scores[trained.model]["acc"].append(trained.test["accuracy"])
                scores[trained.model]["f1"].append(trained.test["macro_f1"])
                scores[trained.model]["families"].append(trained.best_params.get("families", "members"))
    return {m: {"acc": np.mean(s["acc"]), "acc_std": np.std(s["acc"]), "f1": np.mean(s["f1"]),
                "f1_std": np.std(s["f1"]),
                "families": " ".join(f"{k}:{n}" for k, n in Counter(s["families"]).most_common())}
            for m, s in scores.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--audio", default=str(ROOT.parent / "shared" / "data" / "gtzan-mini"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--models", nargs="*", default=["random_forest", "svm", "knn", "logistic_regression",
                                                       "lda", "hist_gradient_boosting", "mlp", "soft_voting"])
    parser.add_argument("--levels", nargs="*", default=["clip", "segment"])
    parser.add_argument("--search", choices=["grid", "random"], default="grid")
    parser.add_argument("--iterations", type=int, default=12, help="random search budget per model")
    args = parser.parse_args()
    SEARCH.update(kind=args.search, iterations=args.iterations)
    audio = Path(args.audio)
    if not audio.is_dir():
        print(f"skipped: no audio folder at {audio} (../shared/data is absent on a fresh clone)")
        return 0
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        X, S, y = load(audio, Path(tmp))
    print(f"{len(X)} tracks, {y.nunique()} genres; {args.repeats}x{args.folds}-fold stratified CV, "
          f"nested 3-fold {args.search} search\n")
    outer = RepeatedStratifiedKFold(n_splits=args.folds, n_repeats=args.repeats, random_state=0)
    rows = []
    for level in args.levels:
        started = time.perf_counter()
        results = evaluate(args.models, X, S, y, outer, level == "segment")
        seconds = time.perf_counter() - started
        for name, r in results.items():
            rows.append({"model": name, "level": level, **r, "seconds": seconds})
            print(f"  {name:24s} {level:8s} acc {r['acc']:.3f} ± {r['acc_std']:.3f}   "
                  f"macro-F1 {r['f1']:.3f} ± {r['f1_std']:.3f}   families {r['families']}", flush=True)
        print(f"  ({level} level: {seconds:.0f} s)", flush=True)
    table = pd.DataFrame(rows).drop(columns="families").sort_values("f1", ascending=False, ignore_index=True)
    table["champion"] = ["<- champion" if i == 0 else "" for i in range(len(table))]
    print("\n" + table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    best = table.iloc[0]
    for level in args.levels:
        sub = table[table["level"] == level]
        print(f"best {level}-level: {sub.iloc[0]['model']} acc {sub.iloc[0]['acc']:.3f}")
    print(f"\ntarget: champion CV accuracy >= 0.85 -> {best['acc']:.3f} "
          f"{'PASS' if best['acc'] >= 0.85 else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
