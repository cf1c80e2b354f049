"""The ``fma-pipeline`` command: demo, materialise and the UIs over one data root.

Every sub-command takes ``--data-dir`` (default ``$FMA_DATA_DIR`` or ``./data``). The root
is passed explicitly to the resources of the runs the CLI executes and to ``dagster dev``'s
environment, and ``DAGSTER_HOME`` is set from it, so the CLI, ``dagster dev`` and the MLflow
UI all see the same runs; ``$FMA_DATA_DIR`` is only read, as the user's way in.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path


def _data_dir(args: argparse.Namespace) -> Path:
    from fma_pipeline.core.catalogue import DATA_DIR_ENV, default_data_dir

    data_dir = Path(args.data_dir).resolve() if args.data_dir else default_data_dir()
    given = "--data-dir" if args.data_dir else f"${DATA_DIR_ENV} or the default ./data"
    if data_dir.exists() and not data_dir.is_dir():
        raise SystemExit(f"fma-pipeline {args.command}: the data root {data_dir} ({given}) is a file, not a folder")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SystemExit(f"fma-pipeline {args.command}: cannot make the data root {data_dir} ({given}): "
                         f"{exc.strerror or exc}") from None
    if not os.access(data_dir, os.W_OK):
        raise SystemExit(f"fma-pipeline {args.command}: the data root {data_dir} is read-only: every command "
                         "records its runs there (Dagster's run storage, MLflow's store); make it writable "
                         "or copy it somewhere writable")
    from fma_pipeline.orchestration.instance import dagster_home

    dagster_home(data_dir)
    return data_dir


def _progress(total: int | None, desc: str, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="clip", disable=quiet, file=sys.stderr)


#: Dagster's console logger at INFO prints a line per event; the CLI shows warnings and up.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
#: Known, harmless library warnings kept out of the CLI's output (here and in joblib workers):
#: SVC(probability=True) is deprecated in scikit-learn 1.9 (removed in 1.11, pinned below it);
#: the MLP stopping at max_iter; MLflow reminding that pickled models run code (see README).
QUIET_WARNINGS = "ignore::FutureWarning,ignore::UserWarning"  # ConvergenceWarning is a UserWarning


def _resources(data_dir: Path, progress: bool) -> dict[str, object]:
    """The resources of the runs the CLI executes, bound to ``data_dir`` (not to the environment)."""
    from fma_pipeline.definitions import resources
    from fma_pipeline.orchestration.progress import Console
    from fma_pipeline.orchestration.resources import FmaData

    return resources(FmaData(data_dir=str(data_dir)), console=Console(progress=progress))


def materialise(data_dir: Path, *, partitions: list[str] | None = None, downstream: bool = True,
                run_config: dict | None = None, progress: bool = True) -> None:
    """Extract features for ``partitions`` (default: all folders) of data root ``data_dir`` in
    chunked runs, then the rest (with progress on stderr unless ``progress`` is False)."""
    import dagster as dg

    from fma_pipeline.core.fma.layout import FOLDERS
    from fma_pipeline.definitions import all_assets, all_checks
    from fma_pipeline.orchestration.assets.features import folder_features
    from fma_pipeline.orchestration.backfill import materialise_features
    from fma_pipeline.orchestration.instance import fail_dead_runs, process_tags

    instance = dg.DagsterInstance.get()
    with_console = _resources(data_dir, progress)
    fail_dead_runs(instance)  # runs left unfinished by a killed fma-pipeline
    materialise_features(instance, partitions or list(FOLDERS), with_console, QUIET_LOGS, raise_on_error=True)
    if downstream:
        selection = dg.AssetSelection.all() - dg.AssetSelection.assets(folder_features)
        dg.materialize([*all_assets, *all_checks], selection=selection, instance=instance, tags=process_tags(),
                       resources=with_console, run_config={**QUIET_LOGS, **(run_config or {})})


#: (title, stored table (see core/catalogue.py), whose ``columns`` are shown) of the tables the demo prints.
RESULT_TABLES = (
    ("Genre classifiers (held-out test split of n_test tracks; champion first = best validation macro-F1, else "
     "cross-validated; "
     "ece = expected calibration error, the champion's after calibration)", "CLASSIFIER_COMPARISON"),
    ("Clip- vs segment-level (best of each by cross-validated macro-F1; winner first)", "LEVEL_COMPARISON"),
    ("Unsupervised clusters against the true genres", "CLUSTER_SCORES"),
    ("Sub-genre classifiers (held-out test split)", "SUBGENRE_SCORES"),
)
#: Scores measured on fewer held-out tracks than this are flagged as unreliable.
FEW_TEST_TRACKS = 10
#: The demo's sample has ~6 tracks per sub-genre; real FMA keeps the default of 20.
DEMO_RUN_CONFIG = {"ops": {"subgenre_labels": {"config": {"min_tracks": 5}}}}


def results_table(data_dir: Path, which: int = 0) -> str:
    """One of :data:`RESULT_TABLES` as plain text (clusters: k = number of genres only)."""
    import pandas as pd

    from fma_pipeline.core import catalogue
    from fma_pipeline.core.storage import read_parquet

    title, name = RESULT_TABLES[which]
    root = catalogue.DataRoot(data_dir)
    stored = getattr(catalogue, name)
    path = root.path(stored)
    if not path.exists():
        return f"{title}: not materialised"
    table = read_parquet(path)
    if name == "CLUSTER_SCORES" and len(table):
        genres = read_parquet(root.path(catalogue.TRACKS))["genre"].nunique()
        table = table[table["k"] == genres]
    if table.empty:
        return f"{title}: none (see the asset's metadata for why)"
    if "n_test" in table:  # a score on a handful of test tracks is noise, however high
        table = table.assign(note=[f"only {n} test tracks: unreliable" if n < FEW_TEST_TRACKS else ""
                                   for n in table["n_test"].astype(int)])
    with pd.option_context("display.width", 160):
        shown = table[[c for c in stored.columns if c in table]]  # tables from older versions lack new columns
        return f"{title}:\n" + shown.to_string(index=False, float_format=lambda v: f"{v:.3f}")


def tool(name: str) -> str:
    """The command ``name`` installed beside the interpreter running this CLI (``.venv/bin``),
    so ``.venv/bin/fma-pipeline ui`` works without an activated venv; else from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise SystemExit(f"fma-pipeline: {name} is not installed beside {sys.executable} nor on PATH "
                         "(pip install -e . installs it)")
    return found


def ui_commands(data_dir: Path) -> str:
    q = shlex.quote(str(data_dir))
    cli = shlex.quote(tool("fma-pipeline")) if shutil.which("fma-pipeline") is None else "fma-pipeline"
    return (f"  Dagster UI: {cli} --data-dir {q} ui        (http://127.0.0.1:3000)\n"
            f"  MLflow UI:  {cli} --data-dir {q} mlflow-ui (http://127.0.0.1:5000)")


def cmd_demo(args: argparse.Namespace) -> int:
    from fma_pipeline.core.sample.dataset import SampleSpec, generate_sample, plan_tracks, sample_exists

    data_dir = _data_dir(args)
    if not sample_exists(data_dir):
        spec = SampleSpec(tracks_per_genre=args.tracks_per_genre)
        with _progress(len(plan_tracks(spec)), "rendering sample clips", args.quiet) as bar:
            generate_sample(data_dir, spec, progress=bar.update)
    materialise(data_dir, run_config=DEMO_RUN_CONFIG, progress=not args.quiet)
    for which in range(len(RESULT_TABLES)):
        print("\n" + results_table(data_dir, which))
    print(f"\nData root: {data_dir}\nOpen the UIs on this data:\n{ui_commands(data_dir)}")
    link = champion_run_url(data_dir)
    if link:
        print(f"  The champion's MLflow run (with the MLflow UI started): {link}")
    return 0


def champion_run_url(data_dir: Path, base: str = "http://127.0.0.1:5000") -> str | None:
    """The MLflow UI address of the registered champion's run, or None before training."""
    from fma_pipeline.core.catalogue import GENRE_CLASSIFIER_RUNS, DataRoot

    root = DataRoot(data_dir)
    if not root.path(GENRE_CLASSIFIER_RUNS).is_file():
        return None
    import json

    runs = json.loads(root.path(GENRE_CLASSIFIER_RUNS).read_text())
    experiment_id = root.mlflow_store().activate()
    return f"{base}/#/experiments/{experiment_id}/runs/{runs['runs'][runs['champion']]}"


def _partitions(args: argparse.Namespace) -> list[str]:
    from fma_pipeline.orchestration.backfill import parse_partitions

    try:
        return parse_partitions(args.partitions)
    except ValueError as exc:
        raise SystemExit(f"fma-pipeline {args.command}: --partitions {args.partitions}: {exc}") from None


def cmd_materialise(args: argparse.Namespace) -> int:
    partitions = _partitions(args)  # before anything is written
    data_dir = _data_dir(args)
    run_config = None
    if args.config:
        import yaml

        run_config = yaml.safe_load(Path(args.config).read_text()) or {}
    materialise(data_dir, partitions=partitions, downstream=not args.features_only, run_config=run_config,
                progress=not args.quiet)
    print(results_table(data_dir) if not args.features_only else "features extracted")
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    data_dir = _data_dir(args)
    from fma_pipeline.core.catalogue import DATA_DIR_ENV
    from fma_pipeline.orchestration.instance import write_workspace

    workspace = write_workspace(Path(os.environ["DAGSTER_HOME"]))
    argv = [tool("dagster"), "dev", "-w", str(workspace), "--host", args.host, "--port", str(args.port)]
    print(f"DAGSTER_HOME={os.environ['DAGSTER_HOME']} FMA_DATA_DIR={data_dir}\n$ {' '.join(argv)}", flush=True)
    os.execvpe(argv[0], argv, {**os.environ, DATA_DIR_ENV: str(data_dir)})  # dagster dev's way in


def cmd_mlflow_ui(args: argparse.Namespace) -> int:
    from fma_pipeline.core.catalogue import DataRoot

    store = DataRoot(_data_dir(args)).mlflow_store()
    os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
    argv = [tool("mlflow"), "ui", "--backend-store-uri", store.tracking_uri,
            "--default-artifact-root", store.artifact_root.as_uri(),
            "--host", args.host, "--port", str(args.port)]
    print(f"$ {' '.join(argv)}", flush=True)
    os.execvp(argv[0], argv)


def cmd_import(args: argparse.Namespace) -> int:
    from fma_pipeline.core.fma.importer import import_collection

    data_dir = _data_dir(args)
    with _progress(None, "importing", args.quiet) as bar:
        report = import_collection(Path(args.source), data_dir, args.layout, to_mp3=args.to_mp3,
                                   progress=bar.update, log=lambda line: print(line, file=sys.stderr))
    if report.finished or report.undone:
        print(f"finished an import that was killed: {report.finished} file(s) committed, "
              f"{report.undone} partial file(s) removed")
    print(f"imported {report.imported} file(s), {report.already} already imported, "
          f"{len(report.skipped)} skipped")
    for label, title in sorted(report.genres.items()):
        print(f"  {label} -> {title}")
    for path, reason in report.skipped:
        print(f"  skipped {path}: {reason}", file=sys.stderr)
    return 0


def load_model(data_dir: Path, model: str | None, trust: bool = False):
    """``(pipeline, metadata)``: the registered champion, or the MLflow model at ``model``.

    ``model`` is an MLflow model folder or a ``models:/`` / ``runs:/`` URI of the data
    root's store (:func:`~fma_pipeline.core.tracking.locate_model`). The files are
    pickles, which run code when loaded: a model any of whose files really lies outside
    the data root's MLflow artifacts (a symlink resolved) is refused unless ``trust``
    (``--trust-model``); a model that fails to load, or loads as no classifier, is one
    line, not a traceback.
    """
    import mlflow

    from fma_pipeline.core.catalogue import DataRoot
    from fma_pipeline.core.tracking import ModelLocationError, ModelNotInStore, load_champion, locate_model

    store = DataRoot(data_dir).mlflow_store()
    try:
        if model is None:
            try:
                pipeline, metadata = load_champion(store)
            except (mlflow.exceptions.MlflowException, ModelNotInStore) as exc:
                raise SystemExit(f"fma-pipeline: no champion model in {store.tracking_uri} "
                                 f"(train first: fma-pipeline materialise); {str(exc).splitlines()[0]}")
        else:
            location = locate_model(store, model, trust=trust)
            try:
                info = mlflow.models.get_model_info(location)
                pipeline, metadata = mlflow.sklearn.load_model(location), dict(info.metadata or {})
            except Exception as exc:  # noqa: BLE001 - any failure to unpickle is one line for the user
                raise SystemExit(f"fma-pipeline: cannot load the model {model}: {type(exc).__name__}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else ''}") from None
    except ModelLocationError as exc:
        raise SystemExit(f"fma-pipeline: {exc}") from None
    if not (hasattr(pipeline, "predict_proba") and hasattr(pipeline, "classes_")):
        raise SystemExit(f"fma-pipeline: {model or 'the champion'} is not a fitted classifier "
                         f"(it loaded as {type(pipeline).__name__}, with no predict_proba/classes_)")
    return pipeline, metadata


def _tag(args: argparse.Namespace, paths: list[Path]):
    from fma_pipeline.core.audio.definition import DefinitionMismatch
    from fma_pipeline.core.audio.tagging import TagSettings, tag_files

    data_dir = _data_dir(args)
    model, metadata = load_model(data_dir, args.model, trust=args.trust_model)
    try:  # a model of another feature definition would get features that mean something else
        settings = TagSettings.from_model_metadata(metadata, min_seconds=args.min_seconds,
                                                   name=_model_name(data_dir, args.model))
    except DefinitionMismatch as exc:
        raise SystemExit(f"fma-pipeline {args.command}: {exc}") from None
    with _progress(len(paths), "tagging", args.quiet or len(paths) < 2) as bar:
        return tag_files(model, paths, settings, top_k=args.top_k, workers=args.workers,
                         progress=bar.update)


def _model_name(data_dir: Path, model: str | None) -> str:
    """How messages name the model: ``model fma-genre-classifier v3`` for the champion."""
    if model is not None:
        return f"model {model}"
    import mlflow

    from fma_pipeline.core.catalogue import DataRoot
    from fma_pipeline.core.tracking import CHAMPION_ALIAS, REGISTERED_MODEL

    DataRoot(data_dir).mlflow_store().activate()
    try:
        version = mlflow.MlflowClient().get_model_version_by_alias(REGISTERED_MODEL, CHAMPION_ALIAS).version
    except mlflow.exceptions.MlflowException:
        return f"model {REGISTERED_MODEL}@{CHAMPION_ALIAS}"
    return f"model {REGISTERED_MODEL} v{version}"


def cmd_predict(args: argparse.Namespace) -> int:
    import json

    table = _tag(args, [Path(p) for p in args.files])
    if args.json:
        print(json.dumps(table.to_dict("records"), indent=2, default=str))
    else:
        for row in table.to_dict("records"):
            if row["status"] == "ok":
                top = ", ".join(f"{g} {p:.0%}" for g, p in row["top"])
                print(f"{row['path']}: {row['genre']}  ({top})")
            else:  # unsure: no genre, the reason says why; error: not usable audio
                hint = f"; to tag the audio files in a folder: fma-pipeline tag {shlex.quote(row['path'])} " \
                       "--out tags.csv" if Path(row["path"]).is_dir() else ""
                print(f"{row['path']}: {row['status']}: {row['reason']}{hint}")
    return 0 if table["status"].isin(["ok", "unsure"]).all() else 1


def cmd_tag(args: argparse.Namespace) -> int:
    from fma_pipeline.core.fma.layout import AUDIO_EXTENSIONS
    from fma_pipeline.core.storage import atomic_path

    folder = Path(args.folder)
    if not folder.is_dir():
        raise SystemExit(f"fma-pipeline: not a folder: {folder}")
    paths = sorted(p for p in folder.rglob("*") if not p.name.startswith(".")
                   and (p.is_symlink() or p.is_file()))
    if not args.all_files:
        paths = [p for p in paths if p.suffix.lower() in AUDIO_EXTENSIONS]
    table = _tag(args, paths)
    table["top"] = table["top"].map(lambda t: "; ".join(f"{g}:{p}" for g, p in t) if isinstance(t, list) else "")
    out = Path(args.out)
    with atomic_path(out) as tmp:
        if out.suffix == ".csv":
            table.to_csv(tmp, index=False)
        else:
            table.to_parquet(tmp, index=False)
    counts = table["status"].value_counts()
    print(f"tagged {counts.get('ok', 0)} of {len(table)} file(s) -> {out}; {counts.get('unsure', 0)} unsure "
          f"(unlike the training music), {counts.get('error', 0)} not usable; the reason is in 'reason'")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from fma_pipeline.core.fma.download import DEFAULT_BASE_URL, DownloadError, download_fma, parse_checksums

    data_dir = _data_dir(args)
    checksums = parse_checksums(Path(args.checksums).read_text()) if args.checksums else None
    try:
        report = download_fma(data_dir, None if args.metadata_only else args.subset,
                              metadata_only=args.metadata_only, base_url=args.base_url or DEFAULT_BASE_URL,
                              checksums=checksums, progress=not args.quiet, timeout=args.timeout,
                              keep_archives=not args.delete_archives)
    except DownloadError as exc:
        print(f"fma-pipeline download: {exc}", file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from fma_pipeline.core.catalogue import DataRoot
    from fma_pipeline.core.report import build_report, report_figures

    data_dir = _data_dir(args)
    out = build_report(data_dir, Path(args.out) if args.out else None)
    figures = report_figures(data_dir)
    if figures and DataRoot(data_dir).has_mlflow_store():
        import mlflow

        DataRoot(data_dir).mlflow_store().activate()
        with mlflow.start_run(run_name="report"):
            for path in figures.values():
                mlflow.log_artifact(str(path), artifact_path="report")
            mlflow.log_artifact(str(out))
    print(f"report: {out}")
    return 0


def cmd_backfill(args: argparse.Namespace) -> int:
    """Re-run the folder partitions whose last attempt failed, whose output is gone, or never run."""
    import dagster as dg

    from fma_pipeline.orchestration.backfill import (find_backfill_partitions, launch_backfill_via_webserver,
                                                     run_backfill)
    from fma_pipeline.definitions import resources
    from fma_pipeline.orchestration.instance import fail_dead_runs
    from fma_pipeline.orchestration.resources import FmaData

    keys = _partitions(args)
    data_dir = _data_dir(args)
    with dg.DagsterInstance.get() as instance:
        fail_dead_runs(instance)  # a run left STARTED by a killed process: failed, so picked below
        fma = FmaData(data_dir=str(data_dir))
        definition = resources(fma)["extraction"].settings(fma).features.definition
        found = find_backfill_partitions(instance, fma, keys, definition=definition)
        for candidate in found:
            print(f"{candidate.partition}  {candidate.reason}")
        if not found:
            print("nothing to backfill")
            return 0
        if args.dry_run:
            print(f"{len(found)} partition(s) would be backfilled (dry run)")
            return 0
        picked = [c.partition for c in found]
        if args.webserver:
            backfill_id = launch_backfill_via_webserver(args.webserver, picked)
            print(f"backfill {backfill_id} of {len(picked)} partition(s) created on {args.webserver} "
                  f"(the daemon launches its runs; see {args.webserver.rstrip('/')}/runs/b/{backfill_id})")
            return 0
        outcome = run_backfill(instance, picked, _resources(data_dir, not args.quiet),
                               run_config=QUIET_LOGS)
        for chunk, run_id, ok in outcome.runs:
            print(f"run {run_id} {chunk[0]}-{chunk[-1]}: {'success' if ok else 'FAILED'}")
        print(f"backfill {outcome.backfill_id}: {len(picked)} partition(s), {len(outcome.runs)} run(s), "
              f"{'success' if outcome.success else 'some runs failed'}")
        return 0 if outcome.success else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fma-pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="data root (default: $FMA_DATA_DIR or ./data)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="make the sample dataset if missing, run every asset, print results")
    demo.add_argument("--tracks-per-genre", type=int, default=20)
    demo.set_defaults(func=cmd_demo)
    mat = sub.add_parser("materialise", aliases=["materialize"], help="extract features and train")
    mat.add_argument("--partitions", help="folders: 047, a range 000-020 or a list 001,005-007 (default: all 156)")
    mat.add_argument("--features-only", action="store_true", help="stop after track_features")
    mat.add_argument("--config", help="Dagster run config YAML for the downstream assets "
                                      "(e.g. ops: {genre_classifiers: {config: {models: [svm]}}})")
    mat.set_defaults(func=cmd_materialise)
    down = sub.add_parser("download", help="download, verify and unpack FMA's official archives")
    down.add_argument("--subset", choices=["small", "medium", "large", "full"], default="small")
    down.add_argument("--metadata-only", action="store_true", help="only fma_metadata.zip")
    down.add_argument("--base-url", help="mirror to download from (default: FMA's official host)")
    down.add_argument("--checksums", help="a checksums file (<sha1>  <name> lines) overriding FMA's")
    down.add_argument("--timeout", type=float, default=60.0, help="seconds without data before giving up")
    down.add_argument("--delete-archives", action="store_true", help="delete each zip once unpacked")
    down.set_defaults(func=cmd_download)
    rep = sub.add_parser("report", help="one self-contained HTML report of the pipeline's results")
    rep.add_argument("--out", help="default: <data root>/pipeline/report.html")
    rep.set_defaults(func=cmd_report)
    bf = sub.add_parser("backfill", help="re-run failed, lost or never-run feature partitions as one backfill")
    bf.add_argument("--failed", action="store_true", required=True,
                    help="pick partitions whose last attempt failed, whose output is missing, "
                         "or never materialised while their folder holds audio")
    bf.add_argument("--partitions", help="only within these folders, e.g. 010-020 or 001,005-007")
    bf.add_argument("--dry-run", action="store_true", help="list the partitions and why, launch nothing")
    bf.add_argument("--webserver", help="create the backfill on this Dagster webserver (e.g. "
                                        "http://127.0.0.1:3000) instead of running it here")
    bf.set_defaults(func=cmd_backfill)
    imp = sub.add_parser("import", help="bring a labelled audio folder into the FMA layout")
    imp.add_argument("source")
    imp.add_argument("--layout", choices=["genre-folders", "filename-prefix"], default="genre-folders")
    imp.add_argument("--to-mp3", action="store_true", help="convert to MP3 instead of copying")
    imp.set_defaults(func=cmd_import)
    for name, func, helptext in (("predict", cmd_predict, "print the genres of audio files"),
                                 ("tag", cmd_tag, "tag every audio file of a folder into a table")):
        tagger = sub.add_parser(name, help=helptext)
        if name == "predict":
            tagger.add_argument("files", nargs="+")
            tagger.add_argument("--json", action="store_true", help="machine-readable output")
        else:
            tagger.add_argument("folder")
            tagger.add_argument("--out", required=True, help="tags.parquet or tags.csv")
            tagger.add_argument("--all-files", action="store_true",
                                help="try every file, not only audio extensions (non-audio gets a reason)")
        tagger.add_argument("--model", help="MLflow model folder or models:/ URI (default: the champion)")
        tagger.add_argument("--trust-model", action="store_true",
                            help="load a --model folder from outside the data root's MLflow store: model files "
                                 "are pickles and run code when loaded, so only for models you trust")
        tagger.add_argument("--top-k", type=int, default=3)
        tagger.add_argument("--min-seconds", type=float, help="shorter files get a reason, not a genre "
                            "(default: the model's training minimum, 5 s)")
        tagger.add_argument("--workers", type=int, default=os.cpu_count() or 1)
        tagger.set_defaults(func=func)
    for name, func, port in (("ui", cmd_ui, 3000), ("mlflow-ui", cmd_mlflow_ui, 5000)):
        ui = sub.add_parser(name, help=f"serve the {'Dagster' if name == 'ui' else 'MLflow'} UI on this data root")
        ui.add_argument("--host", default="127.0.0.1")
        ui.add_argument("--port", type=int, default=port)
        ui.set_defaults(func=func)
    return parser


def main(argv: list[str] | None = None) -> int:
    import logging
    import warnings

    args = build_parser().parse_args(argv)
    os.environ.setdefault("PYTHONWARNINGS", QUIET_WARNINGS)  # inherited by worker processes
    for category in (FutureWarning, UserWarning):
        warnings.simplefilter("ignore", category)
    warnings.filterwarnings("ignore", module="dagster")  # beta/preview notices
    import mlflow  # noqa: F401 - configures its loggers on import; quiet them afterwards

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")  # not minutes of retries
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    from fma_pipeline.core.fma.metadata import MetadataError
    from fma_pipeline.core.tracking import TrackingStoreError

    try:
        return args.func(args)
    except (TrackingStoreError, MetadataError, FileNotFoundError) as exc:
        print(f"fma-pipeline {args.command}: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from fma_pipeline.core.failures import machine_failure

        why = machine_failure(exc)  # disk full, read-only, I/O error: one line, not SQLite's traceback
        if why is None:
            raise
        try:  # SQLite says "disk I/O error" when its journal finds the disk full: the free space tells
            from fma_pipeline.core.catalogue import default_data_dir

            root = Path(args.data_dir) if getattr(args, "data_dir", None) else default_data_dir()
            free = f" ({shutil.disk_usage(root).free / 2**20:.0f} MB free on the data root's disk)"
        except OSError:
            free = ""
        print(f"fma-pipeline {args.command}: stopped by the machine: {why}{free}. Outputs are replaced whole or "
              "not at all, so the last good ones are kept; run the command again once this is fixed.",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
