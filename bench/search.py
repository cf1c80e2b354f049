"""Accuracy kept: today's default search against the exhaustive one it replaced, side by side.

    python bench/search.py [--tracks 3000] [--rev 44ef088] [--data-dir D] [--skip-generate]

Makes FMA-like data with ``bench/scale.py`` (its generator: FMA medium's genre
proportions, artists, artist-filtered split, class structure as hard as FMA), then trains
``genre_classifiers``' default model zoo twice on the same feature matrix, each in its own
process, one after the other in this one run:

- **before**: the code at ``--rev`` (default 44ef088, the last version with the exhaustive
  search: every model's grid x 4 feature-family sets x 5 folds on every training track,
  ``SVC(probability=True)``, 400-tree forests), checked out in a temporary git worktree;
- **after**: this checkout's defaults (tuning on an artist-grouped sample of at most
  5,000 tracks, feature families chosen once per branch, the Nystroem RBF model, bounded
  forests, early-stopped MLP).

Prints each model's held-out test accuracy, balanced accuracy and macro-F1 before and
after, the champion of each (by cross-validated macro-F1) with its test macro-F1, the
majority baseline and test size, and wall time and peak memory of each process tree.
Target: the new champion's test macro-F1 within 1 point of the old one's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

OLD_REV = "44ef088"
COLUMNS = ["model", "branch", "families", "accuracy", "balanced_accuracy", "macro_f1", "cv_macro_f1"]


def child(code_root: str, data_dir: str, out: str) -> None:
    """In the subprocess: the code at ``code_root`` trains its default zoo; results as JSON."""
    import time
    import warnings

    # This venv's editable install would import this checkout whatever sys.path says:
    # drop its finder so the code at code_root is the one imported.
    sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
    sys.path.insert(0, code_root)
    warnings.simplefilter("ignore")
    import fma_pipeline
    from fma_pipeline.core.learning.comparison import champion, comparison_table
    from fma_pipeline.core.learning.training import train_all
    from fma_pipeline.core.learning.training_config import TrainingConfig
    from fma_pipeline.core.storage import read_parquet

    assert Path(fma_pipeline.__file__).is_relative_to(code_root), fma_pipeline.__file__
    # paths spelled here, not taken from core/catalogue.py: the compared commit predates the catalogue
    X = read_parquet(Path(data_dir) / "pipeline" / "feature_matrix.parquet")
    labels = read_parquet(Path(data_dir) / "pipeline" / "tracks.parquet").loc[X.index]
    started = time.perf_counter()
    models = train_all(X, labels, TrainingConfig())
    seconds = time.perf_counter() - started
    best = champion(models)
    table = comparison_table(models)
    Path(out).write_text(json.dumps({
        "seconds": seconds, "champion": best.key, "champion_test": best.test,
        "n_test": int((labels["split"].astype(str) == "test").sum()), "n_tracks": len(X),
        "table": table[[c for c in COLUMNS if c in table]].to_dict("records")}, default=str))


def run(code_root: Path, data_dir: Path, name: str):
    scale = _scale()
    out = data_dir / f"search-{name}.json"
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", str(code_root), "--data-dir", str(data_dir),
            "--out", str(out)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "PYTHONPATH": str(code_root)}
    measured = scale.run_measured(argv, env, data_dir / "bench-logs", f"search-{name}", timeout=6 * 3600)
    if not measured.ok:
        raise SystemExit(f"{name} failed:\n{measured.stderr_tail}")
    return json.loads(out.read_text()), measured


def _scale():
    """bench/scale.py (the generator and the process-tree meter), imported only in the parent:
    it imports this checkout's fma_pipeline, which the child must not."""
    sys.path.insert(0, str(ROOT / "bench"))
    import scale

    return scale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=3000)
    parser.add_argument("--rev", default=OLD_REV, help="git revision of the exhaustive search")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--skip-generate", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, str(args.data_dir), args.out)
        return 0
    scale = _scale()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="fma-search-"))
    print(f"data root {data_dir}; load average {scale.load_average()}", flush=True)
    if not args.skip_generate:
        scale.generate(data_dir, args.tracks)
    results = scale.run_assets(data_dir, ["tracks", "feature_matrix"], timeout=3600)
    if not all(m.ok for m in results):
        return 1
    worktree = Path(tempfile.mkdtemp(prefix="fma-old-"))
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), args.rev], check=True,
                   capture_output=True)
    try:
        old, old_cost = run(worktree, data_dir, "before")
        new, new_cost = run(ROOT, data_dir, "after")
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=False)
    print(f"\n{new['n_tracks']:,} tracks, test split {new['n_test']:,} tracks; load average {scale.load_average()}")
    merged = pd.DataFrame(old["table"]).merge(pd.DataFrame(new["table"]), on=["model", "branch"],
                                              how="outer", suffixes=("_before", "_after"))
    shown = ["model", "branch", "families_before", "families_after", "macro_f1_before", "macro_f1_after",
             "accuracy_before", "accuracy_after", "cv_macro_f1_before", "cv_macro_f1_after"]
    with pd.option_context("display.width", 200):
        print(merged[[c for c in shown if c in merged]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    for name, result, cost in (("before", old, old_cost), ("after", new, new_cost)):
        t = result["champion_test"]
        print(f"{name:>6}: champion {result['champion']:<28} test macro-F1 {t['macro_f1']:.3f}  accuracy "
              f"{t['accuracy']:.3f}  balanced {t['balanced_accuracy']:.3f}  majority baseline "
              f"{t['majority_baseline']:.3f}   training {result['seconds']:.0f} s, process tree "
              f"{cost.seconds:.0f} s, peak {scale.mib(cost.peak_bytes):.0f} MiB")
    drop = old["champion_test"]["macro_f1"] - new["champion_test"]["macro_f1"]
    print(f"speed-up {old['seconds'] / new['seconds']:.1f}x; champion macro-F1 change {-drop:+.3f} "
          f"(target: no more than 0.010 lower) -> {'PASS' if drop <= 0.010 else 'MISS'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
