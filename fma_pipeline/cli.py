"""The ``fma-pipeline`` command: demo, materialise and the UIs over one data root.

Every sub-command takes ``--data-dir`` (default ``$FMA_DATA_DIR`` or ``./data``) and sets
``FMA_DATA_DIR`` and ``DAGSTER_HOME`` from it, so the CLI, ``dagster dev`` and the
MLflow UI all see the same runs.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path


def _data_dir(args: argparse.Namespace) -> Path:
    data_dir = Path(args.data_dir or os.environ.get("FMA_DATA_DIR", "data")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["FMA_DATA_DIR"] = str(data_dir)
    from fma_pipeline.orchestration.instance import dagster_home

    dagster_home(data_dir)
    return data_dir


def _progress(total: int, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="clip", disable=quiet, file=sys.stderr)


def materialise(data_dir: Path, *, partitions: list[str] | None = None, downstream: bool = True,
                run_config: dict | None = None) -> None:
    """Extract features for ``partitions`` (default: all folders) in one run, then the rest."""
    import dagster as dg

    from fma_pipeline.core.fma import FOLDERS
    from fma_pipeline.definitions import all_assets, all_checks, resources
    from fma_pipeline.orchestration.assets.features import track_features

    instance = dg.DagsterInstance.get()
    keys = partitions or list(FOLDERS)
    for start in range(0, len(keys), 40):  # the asset's backfill policy: 40 folders per run
        chunk = keys[start:start + 40]
        dg.materialize([track_features, *all_checks_for(all_checks, "track_features")], instance=instance,
                       resources=resources(), tags={"dagster/asset_partition_range_start": chunk[0],
                                                    "dagster/asset_partition_range_end": chunk[-1]})
    if downstream:
        selection = dg.AssetSelection.all() - dg.AssetSelection.assets(track_features)
        dg.materialize([*all_assets, *all_checks], selection=selection, instance=instance,
                       resources=resources(), run_config=run_config)


def all_checks_for(checks, asset: str) -> list:
    return [c for c in checks if any(k.asset_key.to_user_string() == asset for k in c.check_keys)]


def results_table(data_dir: Path) -> str:
    """The model comparison as a plain-text table."""
    import pandas as pd

    from fma_pipeline.core.storage import read_parquet

    table = read_parquet(data_dir / "pipeline" / "classifier_comparison.parquet")
    shown = table[["model", "branch", "accuracy", "balanced_accuracy", "macro_f1",
                   "majority_baseline", "cv_macro_f1"]]
    with pd.option_context("display.width", 160):
        return shown.to_string(index=False, float_format=lambda v: f"{v:.3f}")


def ui_commands(data_dir: Path) -> str:
    q = shlex.quote(str(data_dir))
    return (f"  Dagster UI: fma-pipeline --data-dir {q} ui        (http://127.0.0.1:3000)\n"
            f"  MLflow UI:  fma-pipeline --data-dir {q} mlflow-ui (http://127.0.0.1:5000)")


def cmd_demo(args: argparse.Namespace) -> int:
    from fma_pipeline.core.sample import SampleSpec, generate_sample, plan_tracks, sample_exists

    data_dir = _data_dir(args)
    if not sample_exists(data_dir):
        spec = SampleSpec(tracks_per_genre=args.tracks_per_genre)
        with _progress(len(plan_tracks(spec)), "rendering sample clips", args.quiet) as bar:
            generate_sample(data_dir, spec, progress=bar.update)
    materialise(data_dir)
    print("\nGenre classifiers (held-out test split; champion = best cross-validated macro-F1):")
    print(results_table(data_dir))
    print(f"\nData root: {data_dir}\nOpen the UIs on this data:\n{ui_commands(data_dir)}")
    return 0


def cmd_materialise(args: argparse.Namespace) -> int:
    from fma_pipeline.core.fma import FOLDERS

    data_dir = _data_dir(args)
    partitions = None
    if args.partitions:
        start, _, end = args.partitions.partition("-")
        end = end or start
        partitions = [f for f in FOLDERS if start <= f <= end]
    materialise(data_dir, partitions=partitions, downstream=not args.features_only)
    print(results_table(data_dir) if not args.features_only else "features extracted")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    workspace = Path(__file__).resolve().parent / "workspace.yaml"
    argv = ["dagster", "dev", "-w", str(workspace), "--host", args.host, "--port", str(args.port)]
    print(f"DAGSTER_HOME={os.environ['DAGSTER_HOME']} FMA_DATA_DIR={data_dir}\n$ {' '.join(argv)}", flush=True)
    os.execvp(argv[0], argv)


def cmd_mlflow_ui(args: argparse.Namespace) -> int:
    from fma_pipeline.core.tracking import MlflowStore

    store = MlflowStore.under(_data_dir(args))
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    argv = ["mlflow", "ui", "--backend-store-uri", store.tracking_uri,
            "--default-artifact-root", store.artifact_root.as_uri(),
            "--host", args.host, "--port", str(args.port)]
    print(f"$ {' '.join(argv)}", flush=True)
    os.execvp(argv[0], argv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fma-pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="data root (default: $FMA_DATA_DIR or ./data)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="make the sample dataset if missing, run every asset, print results")
    demo.add_argument("--tracks-per-genre", type=int, default=20)
    demo.set_defaults(func=cmd_demo)
    mat = sub.add_parser("materialise", aliases=["materialize"], help="extract features and train")
    mat.add_argument("--partitions", help="folder range such as 000-020 (default: all 156)")
    mat.add_argument("--features-only", action="store_true", help="stop after track_features")
    mat.set_defaults(func=cmd_materialise)
    for name, func, port in (("ui", cmd_ui, 3000), ("mlflow-ui", cmd_mlflow_ui, 5000)):
        ui = sub.add_parser(name, help=f"serve the {'Dagster' if name == 'ui' else 'MLflow'} UI on this data root")
        ui.add_argument("--host", default="127.0.0.1")
        ui.add_argument("--port", type=int, default=port)
        ui.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
