"""MLflow tracking: a parent run per training, a child run per model, a champion alias.

Everything lives under the data root: a SQLite tracking store and an explicit artifact
location, so nothing is written to the working directory (MLflow's defaults would put
``mlflow.db`` and ``mlruns/`` wherever the command was started).

Models are saved with cloudpickle, not MLflow 3's default skops: skops refuses random
forests, kNN, histogram gradient boosting and MLPs as untrusted types. A pickle-based
model file runs code when loaded: load models only from this project's store or from a
path you trust.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: The experiment of the genre classifiers (clustering and sub-genres log to their own).
GENRE_EXPERIMENT = "fma-genre-classification"
REGISTERED_MODEL = "fma-genre-classifier"
CHAMPION_ALIAS = "champion"
#: Given explicitly so MLflow skips its 2-3 s requirement-inference subprocess.
PIP_REQUIREMENTS = ["scikit-learn", "pandas", "numpy", "cloudpickle"]


#: MLflow 3's experiment type: "custom_model_development" is the UI's "Machine learning" kind.
EXPERIMENT_KIND_TAG, EXPERIMENT_KIND = "mlflow.experimentKind", "custom_model_development"


@dataclass(frozen=True)
class MlflowStore:
    """Where MLflow keeps runs (``tracking_uri``) and artifacts (``artifact_root``).

    Parameters
    ----------
    tracking_uri : str
        MLflow tracking URI (``sqlite:///…``, ``http(s)://…`` …).
    artifact_root : pathlib.Path
        Folder under which each new experiment keeps its artifacts.
    experiment : str
        Default experiment name.
    """

    tracking_uri: str
    artifact_root: Path
    experiment: str = GENRE_EXPERIMENT

    def activate(self, experiment: str | None = None) -> str:
        """Point MLflow at this store; create the experiment if needed; return its id.

        Fails fast with :class:`TrackingStoreError` (one line naming the URI) when the
        store is unreachable or locked, instead of MLflow's minutes of HTTP retries.

        Parameters
        ----------
        experiment : str or None, default None
            Experiment to activate; None = :attr:`experiment`.

        Returns
        -------
        str
            The experiment id.

        Raises
        ------
        TrackingStoreError
            If the store is unreachable or locked by another process.
        """
        import mlflow

        check_store(self.tracking_uri)
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        name = experiment or self.experiment
        try:
            found = mlflow.get_experiment_by_name(name)
            if found is not None:
                experiment_id = found.experiment_id
            else:
                self.artifact_root.mkdir(parents=True, exist_ok=True)
                experiment_id = mlflow.create_experiment(
                    name, artifact_location=(self.artifact_root / name).as_uri())
            mlflow.set_experiment(experiment_id=experiment_id)
            # a model-training experiment: the MLflow UI opens on its runs, not the GenAI overview
            mlflow.MlflowClient().set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        except mlflow.exceptions.MlflowException as exc:
            if "database is locked" in str(exc):
                raise TrackingStoreError(f"MLflow store {self.tracking_uri} is locked by another "
                                         "process (database is locked)") from exc
            raise
        return experiment_id


class TrackingStoreError(RuntimeError):
    """The MLflow tracking store cannot be used now: unreachable, or locked by another process.

    Parameters
    ----------
    *args
        The message: one line naming the store and the reason.
    """


#: Seconds to wait for a TCP connection to a tracking server, or for a SQLite lock.
STORE_TIMEOUT = 10.0


def check_store(uri: str, timeout: float | None = None) -> None:
    """Raise :class:`TrackingStoreError` quickly if the tracking store at ``uri`` cannot be used.

    ``http(s)://``: one TCP connection within ``timeout`` (MLflow itself retries for
    minutes). ``sqlite:///``: a read of the schema, waiting at most ``timeout`` for a lock
    another process holds. Other schemes are not checked. ``timeout`` defaults to
    :data:`STORE_TIMEOUT`.

    Parameters
    ----------
    uri : str
        MLflow tracking URI.
    timeout : float or None, default None
        Seconds to wait; None = :data:`STORE_TIMEOUT`.

    Raises
    ------
    TrackingStoreError
        If the server is unreachable, or the SQLite file is locked or unreadable.
    """
    import socket
    import sqlite3
    from urllib.parse import urlsplit

    timeout = STORE_TIMEOUT if timeout is None else timeout
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            with socket.create_connection((parts.hostname or "localhost", port), timeout=timeout):
                pass
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise TrackingStoreError(f"MLflow tracking server {uri} is unreachable: {reason}") from None
    elif parts.scheme == "sqlite" and uri.startswith("sqlite:///") and ":memory:" not in uri:
        path = Path(uri[len("sqlite:///"):].split("?", 1)[0])
        if not path.exists():
            return  # MLflow creates it
        try:
            connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout)
            try:
                connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                connection.close()
        except sqlite3.DatabaseError as exc:  # locked, unreadable, not a database
            what = "is locked by another process" if "locked" in str(exc) else "cannot be read"
            raise TrackingStoreError(f"MLflow store {uri} {what} ({exc})") from None


def _log_table(frame: pd.DataFrame, name: str, folder: Path) -> None:
    import mlflow

    path = folder / name
    frame.to_csv(path)
    mlflow.log_artifact(str(path))


#: Facts of a trained model's ``extra`` logged as parameters of its run, when it has them.
_EXTRA_PARAMS = ("search", "candidates", "families_chosen_by", "calibration", "n_tune", "n_train", "n_validation",
                 "n_test")


def trained_model_run(trained, name: str | None = None) -> dict:
    """The MLflow run of one trained model, as an entry of :func:`log_nested_runs`.

    The one mapping from a :class:`~fma_pipeline.core.learning.trained_model.TrainedModel` to
    MLflow, used by the genre zoo (:func:`log_training`) and the sub-genre classifiers alike:
    its choice as parameters (``model``, ``branch``, ``imbalance``, the search's facts,
    ``param.*``), its scores as metrics (``test_*``, a calibrated champion's
    ``uncalibrated_test_*``, cross-validated macro-F1, fit and predict seconds), its per-class
    and confusion tables, and the fitted pipeline.

    Parameters
    ----------
    trained : TrainedModel
        The model.
    name : str or None, default None
        The run's name; None = ``trained.key``.

    Returns
    -------
    dict
        ``name``, ``params``, ``metrics``, ``tables`` and ``model``.
    """
    return {"name": name or trained.key, "model": trained.pipeline,
            "params": {"model": trained.model, "branch": trained.branch, "imbalance": trained.imbalance,
                       **{k: trained.extra[k] for k in _EXTRA_PARAMS if k in trained.extra},
                       **{f"param.{k}": v for k, v in trained.best_params.items()}},
            "metrics": {**{f"test_{k}": v for k, v in trained.test.items()},
                        **{f"uncalibrated_test_{k}": v for k, v in trained.extra.get("uncalibrated", {}).items()},
                        "cv_macro_f1": trained.cv_macro_f1, "cv_macro_f1_std": trained.cv_macro_f1_std,
                        "validation_macro_f1": trained.validation_macro_f1,  # NaN (not logged) without one
                        "fit_seconds": trained.fit_seconds, "predict_seconds": trained.predict_seconds},
            "tables": {"per_class.csv": trained.per_class, "confusion.csv": trained.confusion}}


def _log_entry(entry: dict, folder: Path) -> None:
    """Log an entry's ``params``, finite ``metrics``, ``tags``, ``tables`` and ``artifacts``
    into the active run (MLflow charts cannot show non-finite values)."""
    import math

    import mlflow

    mlflow.log_params({k: str(v)[:500] for k, v in entry.get("params", {}).items()})
    mlflow.log_metrics({k: float(v) for k, v in entry.get("metrics", {}).items()
                        if v is not None and math.isfinite(float(v))})
    mlflow.set_tags({k: str(v) for k, v in entry.get("tags", {}).items()})
    for name, frame in entry.get("tables", {}).items():
        _log_table(frame, name, folder)
    for path in entry.get("artifacts", []):
        mlflow.log_artifact(str(path))


def _log_model(model, example: pd.DataFrame, metadata: dict | None = None):
    """Save ``model`` as the active run's ``model`` (cloudpickle; signature and input example
    from ``example``); return MLflow's model info."""
    import mlflow
    from mlflow.models import infer_signature

    return mlflow.sklearn.log_model(
        model, name="model", serialization_format="cloudpickle",
        signature=infer_signature(example, model.predict(example)), input_example=example,
        pip_requirements=PIP_REQUIREMENTS, metadata=metadata)


def log_training(store: MlflowStore, models: list, X_example: pd.DataFrame, *,
                 champion, comparison: pd.DataFrame, run_name: str, params: dict, model_metadata: dict,
                 register: bool = True, experiment: str | None = None,
                 registered_model: str = REGISTERED_MODEL) -> dict:
    """Log one parent run with a child run per trained model; register the champion.

    ``models`` are :class:`fma_pipeline.core.learning.trained_model.TrainedModel`; the caller says
    which is the champion and gives the comparison table, so tracking does not depend on how
    the learning core chooses or compares. Returns
    ``{'parent_run_id', 'runs': {key: run_id}, 'champion': key, 'version': str|None}``.

    Parameters
    ----------
    store : MlflowStore
        Where to log.
    models : list
        The trained models.
    champion : TrainedModel
        The one of ``models`` to tag as champion and register.
    comparison : pandas.DataFrame
        The models side by side, logged as ``comparison.csv`` with the parent run.
    X_example : pandas.DataFrame
        Feature rows; the first three are each model's input example and signature.
    run_name : str
        Name of the parent run.
    params : dict
        Parameters of the parent run (values cut to 500 characters).
    model_metadata : dict
        Stored with every logged model and as ``feature_config.json``.
    register : bool, default True
        Register the champion and point the ``champion`` alias at it.
    experiment : str or None, default None
        Experiment to log into; None = the store's.
    registered_model : str, default REGISTERED_MODEL
        Registered model name.

    Returns
    -------
    dict
        ``parent_run_id``, ``runs`` (model key -> run id), ``champion`` (key) and ``version``
        (the registered version, or None).

    Raises
    ------
    TrackingStoreError
        If the store is unreachable or locked.
    """
    import mlflow

    from fma_pipeline.core.learning.plots import confusion_png

    store.activate(experiment)
    best = champion
    out: dict = {"runs": {}, "champion": best.key, "version": None}
    example = X_example.head(3).reset_index(drop=True)  # window tables have a (track_id, segment) index
    with tempfile.TemporaryDirectory() as tmp_name, mlflow.start_run(run_name=run_name) as parent:
        tmp = Path(tmp_name)
        out["parent_run_id"] = parent.info.run_id
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        _log_table(comparison, "comparison.csv", tmp)
        mlflow.log_dict(model_metadata, "feature_config.json")
        champion_info = None
        for i, trained in enumerate(models):
            with mlflow.start_run(run_name=trained.key, nested=True) as child:
                out["runs"][trained.key] = child.info.run_id
                folder = tmp / f"child{i}"
                folder.mkdir()
                figure = confusion_png(trained.confusion, folder / "confusion.png", f"{trained.key} (test split)")
                _log_entry({**trained_model_run(trained), "tags": {"champion": str(trained is best).lower()},
                            "artifacts": [figure]}, folder)
                info = _log_model(trained.pipeline, example,
                                  {**model_metadata, "model": trained.model, "branch": trained.branch})
                if trained is best:
                    champion_info = info
        mlflow.log_metrics({f"champion_test_{k}": v for k, v in best.test.items()})
        mlflow.set_tag("champion", best.key)
    if register and champion_info is not None:
        client = mlflow.MlflowClient()
        version = mlflow.register_model(champion_info.model_uri, registered_model)
        client.set_registered_model_alias(registered_model, CHAMPION_ALIAS, version.version)
        out["version"] = str(version.version)
    return out


def load_run_model(store: MlflowStore, run_id: str):
    """The scikit-learn model logged (as ``model``) by one run of this store.

    Load only from a store you trust: the model is a pickle.

    Parameters
    ----------
    store : MlflowStore
        The store holding the run.
    run_id : str
        The run's id.

    Returns
    -------
    estimator
        The fitted model.
    """
    import mlflow

    store.activate()
    return mlflow.sklearn.load_model(f"runs:/{run_id}/model")


def load_champion(store: MlflowStore, registered_model: str = REGISTERED_MODEL):
    """``(pipeline, metadata)`` of the model under the ``champion`` alias.

    Parameters
    ----------
    store : MlflowStore
        The store holding the registry.
    registered_model : str, default REGISTERED_MODEL
        Registered model name.

    Returns
    -------
    pipeline : estimator
        The fitted champion.
    metadata : dict
        The metadata logged with it.
    """
    import mlflow

    store.activate()
    location = locate_model(store, f"models:/{registered_model}@{CHAMPION_ALIAS}")
    info = mlflow.models.get_model_info(location)
    return mlflow.sklearn.load_model(location), dict(info.metadata or {})


#: The URI schemes ``--model`` accepts; each must name a model of the data root's own store.
MODEL_URI_FORMS = "models:/<name>@<alias>, models:/<name>/<version>, runs:/<run id>/<model name>"
#: MLmodel flavour keys naming a file or folder (relative to the model folder) that loading reads
#: or imports: a ``../`` in one of them escapes the folder without any symlink.
_FLAVOUR_PATH_KEYS = ("pickled_model", "code", "data", "model_path")


class ModelLocationError(ValueError):
    """A ``--model`` is refused or cannot be found: one line saying which and why.

    Parameters
    ----------
    *args
        The message.
    """


class ModelNotInStore(ModelLocationError):
    """A ``models:/`` or ``runs:/`` URI names nothing in the data root's store.

    Parameters
    ----------
    *args
        The message.
    """


def _registered_location(store: MlflowStore, uri: str) -> str:
    """The artifact URI behind a ``models:/`` or ``runs:/`` URI, found in ``store`` only."""
    import mlflow
    from mlflow.store.artifact.models_artifact_repo import ModelsArtifactRepository
    from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository

    store.activate()
    try:
        if uri.startswith("models:/"):
            return ModelsArtifactRepository.get_underlying_uri(uri)
        run_id, name = RunsArtifactRepository.parse_runs_uri(uri)
        client = mlflow.MlflowClient(store.tracking_uri)
        run = client.get_run(run_id)
        head, _, rest = (name or "").partition("/")
        logged = [m for m in client.search_logged_models(experiment_ids=[run.info.experiment_id],
                                                         filter_string=f"name = '{head}'")
                  if m.source_run_id == run_id]  # MLflow 3 keeps a run's models apart from its artifacts
        if logged:
            return logged[0].artifact_location.rstrip("/") + (f"/{rest}" if rest else "")
        return RunsArtifactRepository.get_underlying_uri(uri, store.tracking_uri)
    except mlflow.exceptions.MlflowException as exc:
        raise ModelNotInStore(f"{uri} is not a model of this data root's MLflow store "
                                 f"({store.tracking_uri}): {str(exc).splitlines()[0]}") from None


def files_outside(folder: Path, root: Path) -> list[tuple[Path, Path]]:
    """``(path, where it really is)`` of each file or folder a model load may read that resolves
    outside ``root``: the folder itself, everything under it (symlinks resolved, not followed into)
    and the paths its ``MLmodel`` names.

    Parameters
    ----------
    folder : pathlib.Path
        An MLflow model folder.
    root : pathlib.Path
        The folder every file must really be in (resolved here).

    Returns
    -------
    list of tuple of (pathlib.Path, pathlib.Path)
        Empty when every file is inside ``root``.
    """
    import os

    import yaml

    root = root.resolve()
    named = [folder]
    for dirpath, dirnames, filenames in os.walk(folder):  # a symlinked folder is listed, not entered
        named += [Path(dirpath) / name for name in (*dirnames, *filenames)]
    try:
        flavours = (yaml.safe_load((folder / "MLmodel").read_text()) or {}).get("flavors") or {}
    except (OSError, yaml.YAMLError, AttributeError):
        flavours = {}
    for conf in flavours.values() if isinstance(flavours, dict) else ():
        if isinstance(conf, dict):
            named += [folder / conf[k] for k in _FLAVOUR_PATH_KEYS if isinstance(conf.get(k), str)]
    return [(path, path.resolve()) for path in named if not path.resolve().is_relative_to(root)]


def locate_model(store: MlflowStore, model: str, *, trust: bool = False) -> str:
    """Where to load ``model`` from, once trust is decided by where its files really are.

    A model file is a pickle and runs code when loaded, so a model is loaded without
    ``trust`` only when every file it is made of (symlinks resolved, and the files its
    ``MLmodel`` names) is inside ``store.artifact_root``. ``model`` is a URI only in the
    forms of :data:`MODEL_URI_FORMS`, looked up in ``store`` itself; any other string is a
    path, however it is spelt (``x:/evil`` is the folder ``evil`` in a folder ``x:``). A
    store whose artifacts are not local files (a team server) serves them itself: those
    are trusted as the store is.

    Parameters
    ----------
    store : MlflowStore
        The data root's store.
    model : str
        A model folder or a URI of :data:`MODEL_URI_FORMS`.
    trust : bool, default False
        Load a folder from elsewhere (``--trust-model``): the user vouches for it.

    Returns
    -------
    str
        A resolved local model folder, or the URI of a remote store's artifacts.

    Raises
    ------
    ModelLocationError
        When the model is not found, not an MLflow model folder, or refused.
    """
    from urllib.parse import urlsplit

    from mlflow.utils.file_utils import local_file_uri_to_path

    if urlsplit(model).scheme in ("models", "runs"):
        location = _registered_location(store, model)
        if urlsplit(location).scheme not in ("", "file"):
            return location
        folder = Path(local_file_uri_to_path(location))
    else:
        folder = Path(model)
        if not folder.exists():
            raise ModelLocationError(f"{model}: no such model folder (a URI must be one of {MODEL_URI_FORMS})")
    folder = folder.resolve()
    if not (folder / "MLmodel").is_file():
        raise ModelLocationError(f"{model} is not an MLflow model folder (no MLmodel file)")
    outside = [] if trust else files_outside(folder, store.artifact_root)
    if outside:
        path, real = outside[0]
        what = "it" if path == folder else f"its {path.relative_to(folder)} (really {real})"
        raise ModelLocationError(
            f"refusing to load {model}: model files are pickles that run code when loaded, and {what} "
            f"lies outside the data root's MLflow store ({store.artifact_root}); "
            "pass --trust-model if you trust where it came from")
    return str(folder)


def dump_json(data: dict) -> str:
    """Pretty, key-sorted JSON of ``data``; values JSON cannot hold are written as ``str``.

    Parameters
    ----------
    data : dict
        The value to write.

    Returns
    -------
    str
    """
    return json.dumps(data, indent=2, sort_keys=True, default=str)


def log_nested_runs(store: MlflowStore, *, experiment: str, run_name: str, params: dict,
                    children: list[dict], tables: dict[str, pd.DataFrame] | None = None,
                    artifacts: list[Path] | None = None, X_example: pd.DataFrame | None = None) -> dict:
    """One parent run with one child run per entry of ``children``, for studies beside the zoo.

    The genre zoo has :func:`log_training`; clustering and sub-genre studies log other
    things (scores without a model, models without a champion), so each child is a dict
    with ``name`` and optional ``params``, ``metrics`` (non-finite values are skipped, as
    MLflow charts cannot show them), ``tags``, ``tables`` (name -> DataFrame, logged as
    CSV), ``artifacts`` (file paths) and ``model`` (a fitted estimator, saved with
    cloudpickle; needs ``X_example``). Returns ``{'parent_run_id', 'runs': {name: run_id}}``.

    Parameters
    ----------
    store : MlflowStore
        Where to log.
    experiment : str
        Experiment to log into.
    run_name : str
        Name of the parent run.
    params : dict
        Parameters of the parent run.
    children : list of dict
        One child run each, as described above.
    tables : dict of str to pandas.DataFrame or None, default None
        CSV artifacts of the parent run.
    artifacts : list of pathlib.Path or None, default None
        Files logged with the parent run.
    X_example : pandas.DataFrame or None, default None
        Feature rows for the input example of child models.

    Returns
    -------
    dict
        ``parent_run_id`` and ``runs`` (child name -> run id).

    Raises
    ------
    TrackingStoreError
        If the store is unreachable or locked.
    """
    import mlflow

    store.activate(experiment)
    out: dict = {"runs": {}}
    with tempfile.TemporaryDirectory() as tmp_name, mlflow.start_run(run_name=run_name) as parent:
        tmp = Path(tmp_name)
        out["parent_run_id"] = parent.info.run_id
        _log_entry({"params": params, "tables": tables or {}, "artifacts": artifacts or []}, tmp)
        for i, child in enumerate(children):
            with mlflow.start_run(run_name=child["name"], nested=True) as run:
                out["runs"][child["name"]] = run.info.run_id
                folder = tmp / f"child{i}"
                folder.mkdir()
                _log_entry(child, folder)
                if child.get("model") is not None and X_example is not None:
                    _log_model(child["model"], X_example.head(3))
    return out
