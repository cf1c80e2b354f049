"""Reading FMA's published features.csv at FMA-large size: time and peak memory.

    python bench/published.py [--rows 106574] [--data-dir DIR] [--seed 0]
    python bench/published.py --skip-generate --data-dir DIR

1. Generates a metadata-only data root (default: a new temporary folder, kept):
   ``fma_metadata/tracks.csv`` and ``genres.csv`` from ``bench/scale.py``'s generator of
   FMA-like data (fma_medium's genre proportions, artists, FMA's split), and
   ``fma_metadata/features.csv`` in FMA's exact format (three header rows, a ``track_id``
   row, ``'%.10e'`` values, rows sorted by track id) holding the generator's first 518
   columns, with a few rows left empty as FMA leaves the tracks whose extraction failed.
2. Runs, in a fresh child process, exactly what the ``published_features`` asset runs:
   :func:`fma_pipeline.core.fma.published.store_published` (streamed read, per-folder
   Parquet under ``pipeline/published_features/``), with the wall time, the child's CPU
   time and the peak memory of the whole process tree (sum of RSS over the child and its
   descendants, sampled every 0.2 s from /proc; ``bench/scale.py``'s ``run_measured``).
3. Prints those figures and PASS/MISS against the targets: <= 2 min, <= 2 GiB.

Wall times on a shared machine are inflated by other work; the CPU time is the child's own.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fma_pipeline.core.fma.metadata import write_genres_csv, write_tracks_csv  # noqa: E402
from fma_pipeline.core.fma.published import (FLOAT_FORMAT, FEATURES_CSV, fma_columns,  # noqa: E402
                                             write_features_csv)

FMA_LARGE_TRACKS = 106_574
#: FMA's features.csv has a handful of tracks whose extraction failed (empty rows).
EMPTY_ROWS = 6
TARGET_SECONDS, TARGET_BYTES = 120.0, 2 * 2**30
#: Rows generated and written at a time.
WRITE_CHUNK = 8192


def load_scale():
    """``bench/scale.py`` as a module (its generator of FMA-like tracks and features)."""
    if "bench_scale" in sys.modules:
        return sys.modules["bench_scale"]
    spec = importlib.util.spec_from_file_location("bench_scale", ROOT / "bench" / "scale.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def generate_metadata(data_dir: Path, n_tracks: int, seed: int = 0, empty_rows: int = EMPTY_ROWS,
                      log=print):
    """Write ``fma_metadata/`` (tracks.csv, genres.csv, features.csv) of ``n_tracks`` FMA-like
    tracks; returns ``(plan, features)``: the generator's plan and the 518 published columns
    (float32, the plan's track order), the empty rows NaN."""
    scale = load_scale()
    started = time.perf_counter()
    plan = scale.plan_tracks(n_tracks, seed)
    columns = scale.Columns.build(plan.latent, seed)
    meta = Path(data_dir) / "fma_metadata"
    write_genres_csv(scale.genres_table(plan), meta / "genres.csv")
    write_tracks_csv(plan.tracks, meta / "tracks.csv")
    rng = np.random.default_rng([seed, 9])
    features = np.empty((n_tracks, len(fma_columns())), dtype=np.float32)
    for start in range(0, n_tracks, WRITE_CHUNK):
        rows = slice(start, min(start + WRITE_CHUNK, n_tracks))
        features[rows] = columns.rows(plan.latent[rows], rng)[:, :len(fma_columns())]
    features[rng.choice(n_tracks, min(empty_rows, n_tracks), replace=False)] = np.nan
    write_features_csv_chunked(plan.tracks.index.to_numpy(), features, meta / FEATURES_CSV)
    log(f"  generated {n_tracks:,} tracks (tracks.csv, genres.csv, features.csv "
        f"{(meta / FEATURES_CSV).stat().st_size / 2**20:,.0f} MiB) in {time.perf_counter() - started:.0f} s")
    return plan, features


def write_features_csv_chunked(ids: np.ndarray, values: np.ndarray, path: Path) -> None:
    """FMA's format (the header of :func:`write_features_csv`, then its row format), appended in
    chunks so a FMA-large file is never one DataFrame of text."""
    order = np.argsort(ids, kind="stable")
    write_features_csv(pd.DataFrame(values[order[:1]], index=ids[order[:1]], columns=fma_columns()), path)
    with open(path, "a") as handle:
        for start in range(1, len(order), WRITE_CHUNK):
            rows = order[start:start + WRITE_CHUNK]
            pd.DataFrame(values[rows], index=ids[rows]).to_csv(handle, header=False, float_format=FLOAT_FORMAT)


def child(data_dir: Path) -> None:
    """What the published_features asset runs; prints one JSON line of figures."""
    from fma_pipeline.core.catalogue import DataRoot
    from fma_pipeline.core.fma.published import store_published

    root = DataRoot(data_dir)
    cpu = time.process_time()
    stored = store_published(root.metadata_dir / FEATURES_CSV, root)
    print(json.dumps({"rows": stored.rows, "missing": stored.missing, "folders": stored.folders,
                      "seconds": stored.seconds, "cpu_seconds": time.process_time() - cpu}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=FMA_LARGE_TRACKS)
    parser.add_argument("--data-dir", type=Path, help="data root (default: a new temporary folder, kept)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-generate", action="store_true", help="reuse the data in --data-dir")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return 0
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="fma-published-"))
    print(f"data root: {data_dir}")
    if not args.skip_generate:
        generate_metadata(data_dir, args.rows, args.seed)
    for stale in (data_dir / "pipeline").glob("published_features*"):  # measure a first read, not the cache
        if stale.is_dir():
            for f in stale.iterdir():
                f.unlink()
        else:
            stale.unlink()
    scale = load_scale()
    load = os.getloadavg()
    measured = scale.run_measured([sys.executable, __file__, "--child", str(data_dir)], dict(os.environ),
                                  data_dir / "bench-logs", "published_features", timeout=1800)
    if not measured.ok:
        print(f"FAILED:\n{measured.stderr_tail}")
        return 1
    figures = json.loads((data_dir / "bench-logs" / "published_features.stdout").read_text().splitlines()[-1])
    size = (data_dir / "fma_metadata" / FEATURES_CSV).stat().st_size
    print(f"features.csv: {size / 2**20:,.0f} MiB; {figures['rows']:,} rows stored, {figures['missing']} empty "
          f"rows recorded as errors, {figures['folders']} folders")
    print(f"read + store: wall {measured.seconds:.1f} s (store_published {figures['seconds']:.1f} s; "
          f"CPU {figures['cpu_seconds']:.1f} s), peak memory of the process tree "
          f"{measured.peak_bytes / 2**20:,.0f} MiB")
    print(f"load average {load[0]:.1f} at start (2 cores; other work inflates wall time)")
    ok_time, ok_mem = measured.seconds <= TARGET_SECONDS, measured.peak_bytes <= TARGET_BYTES
    print(f"{'PASS' if ok_time else 'MISS'} time <= {TARGET_SECONDS:.0f} s; "
          f"{'PASS' if ok_mem else 'MISS'} peak <= {TARGET_BYTES / 2**30:.0f} GiB")
    return 0 if ok_time and ok_mem else 1


if __name__ == "__main__":
    sys.exit(main())
