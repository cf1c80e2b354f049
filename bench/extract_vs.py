"""CPU time per clip of this tree's extraction against another revision's, side by side in one process.

    python bench/extract_vs.py [--base main] [--audio DIR | --clips 8] [--repeats 3]

Both run ``extract_file`` (hash + decode + the 708 features + the 3 s windows' statistics,
what a worker does per file) on the same clips, alternating which goes first clip by clip,
timed with ``time.thread_time``: load from other processes hits both alike, which is what
makes a before/after figure on a shared machine mean something. ``--base``'s
``fma_pipeline/core/audio`` is exported with ``git archive`` into a temporary package whose
imports are renamed to it (the rest of ``fma_pipeline`` is this tree's). Prints each
side's median CPU ms per clip, the median of the per-clip ratios, and how far the values
moved: per feature family, the worst column's median relative difference of the clip rows
(as ``bench/extract.py`` reports against features.py), and whether all rows are identical.
Clips: ``--audio DIR``'s MP3s, or ``--clips`` generated like ``bench/extract.py``'s.
The first pass builds each side's CQT filter plans as the clips meet them (one per rate
and tuning), as a short run does; later passes find them built.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fma_pipeline.core.audio.workers import single_threaded_env  # imports no numpy

single_threaded_env()  # one core per side, as the extraction workers

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
AUDIO = "fma_pipeline/core/audio"


def export_base(rev: str, folder: Path) -> str:
    """``rev``'s audio package as the top-level package ``base_audio`` in ``folder``; returns its name."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, AUDIO], check=True, capture_output=True).stdout
    subprocess.run(["tar", "x", "-C", str(folder)], input=archive, check=True)
    package = folder / "base_audio"
    (folder / AUDIO).rename(package)
    for module in package.glob("*.py"):
        text = module.read_text()
        text = text.replace("from fma_pipeline.core.audio import", "from base_audio import")
        module.write_text(text.replace("fma_pipeline.core.audio.", "base_audio."))
    sys.path.insert(0, str(folder))
    return "base_audio"


def runner(package: str):
    worker = importlib.import_module(f"{package}.file_worker")
    features = importlib.import_module(f"{package}.features")
    decode = importlib.import_module(f"{package}.decode")
    windows = importlib.import_module(f"{package}.windows")
    config, limits, segments = features.FeatureConfig(), decode.AudioLimits(), windows.SegmentConfig()
    return lambda path: worker.extract_file(str(path), config, limits, segments)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="main", help="git revision to compare with (default main)")
    parser.add_argument("--audio", type=Path, help="folder of MP3s (default: generate --clips)")
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    import pandas as pd

    from fma_pipeline.core.audio.features import feature_columns
    from fma_pipeline_tests.reference_features import family_differences

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if args.audio:
            paths = sorted(p for p in args.audio.iterdir() if p.suffix.lower() == ".mp3")
        else:
            sys.path.insert(0, str(REPO / "bench"))
            from extract import generate_clips

            paths = generate_clips(tmp / "clips", range(args.clips), 30.0)
        runs = {args.base: runner(export_base(args.base, tmp)), "this tree": runner("fma_pipeline.core.audio")}
        for run in runs.values():  # imports, numba, the first plan: not timed
            run(paths[0])
        cpu = {name: [] for name in runs}
        rows = {name: [] for name in runs}
        for repeat in range(args.repeats):
            for i, path in enumerate(paths):
                for name in (list(runs) if (repeat + i) % 2 == 0 else list(runs)[::-1]):
                    started = time.thread_time()
                    ok, values, reason, *_ = runs[name](path)
                    cpu[name].append(time.thread_time() - started)
                    if not ok:
                        sys.exit(f"{path.name}: {name}: {reason}")
                    if repeat == 0:
                        rows[name].append(values)
    print(f"{len(paths)} clips x {args.repeats} passes, extract_file, CPU time (thread_time), alternating")
    for name, times in cpu.items():
        print(f"  {name:12s} {1000 * statistics.median(times):7.1f} ms/clip (median; min {1000 * min(times):.1f})")
    ratios = [b / a for a, b in zip(*cpu.values())]
    print(f"  ratio this/{args.base}: median {statistics.median(ratios):.3f} per clip pair")
    base, this = (np.concatenate(r).astype(np.float64) for r in rows.values())
    print(f"  all rows (clips and windows) identical: {np.array_equal(base, this)}")
    clip_rows = [pd.DataFrame(np.stack([r[0] for r in rs]).astype(np.float64), columns=feature_columns())
                 for rs in rows.values()]
    table = family_differences(clip_rows[1], clip_rows[0])
    print("  clip rows, per family: worst column's median relative difference (largest single)")
    for family, row in table.iterrows():
        print(f"    {family:20s} {row['worst_median']:.2e}  ({row['max']:.2e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
