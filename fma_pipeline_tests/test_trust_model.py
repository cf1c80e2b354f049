"""A model is loaded without --trust-model only when every file it is made of really lies in the
data root's MLflow store (#16.9, #22.1): its pickle would run code when loaded. Trust is decided
by where the files are (symlinks resolved), never by how --model is spelt (``x:/evil`` is a
folder, not a URI), and URIs are only models:/ and runs:/ of this store."""

from __future__ import annotations

import os
import pickle
import shutil
from pathlib import Path

import mlflow
import mlflow.sklearn
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from fma_pipeline.cli import build_parser, load_model
from fma_pipeline.core.catalogue import DataRoot
from fma_pipeline.core.tracking import CHAMPION_ALIAS, REGISTERED_MODEL


class _Payload:
    """Unpickling this touches a marker file: the stand-in for a command a crafted model would run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _fitted() -> LogisticRegression:
    X = np.random.default_rng(0).normal(size=(20, 3))
    return LogisticRegression().fit(X, ["a", "b"] * 10)


@pytest.fixture
def crafted(tmp_path):
    folder = tmp_path / "downloaded-model"
    mlflow.sklearn.save_model(_fitted(), folder, serialization_format="cloudpickle",
                              pip_requirements=["scikit-learn"])  # no requirement-inference subprocess
    marker = tmp_path / "ran-code"
    (folder / "model.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    return folder, marker


@pytest.fixture(scope="module")
def store_root(tmp_path_factory):
    """A data root whose store holds a good champion (version 1) and a version 2 whose model.pkl is
    a symlink to a crafted pickle outside the store; yields (root, run id of version 1, version 2's folder, marker)."""
    base = tmp_path_factory.mktemp("trust")
    root = base / "root"
    DataRoot(root).mlflow_store().activate()
    folders, runs = [], []
    for _ in range(2):
        with mlflow.start_run() as run:
            info = mlflow.sklearn.log_model(_fitted(), name="model", serialization_format="cloudpickle",
                                            pip_requirements=["scikit-learn"])
        version = mlflow.register_model(info.model_uri, REGISTERED_MODEL)
        folders.append(mlflow.artifacts.download_artifacts(f"models:/{REGISTERED_MODEL}/{version.version}"))
        runs.append(run.info.run_id)
    mlflow.MlflowClient().set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, "1")
    marker = base / "ran-code"
    outside = base / "elsewhere.pkl"
    outside.write_bytes(pickle.dumps(_Payload(marker)))
    os.remove(os.path.join(folders[1], "model.pkl"))
    os.symlink(outside, os.path.join(folders[1], "model.pkl"))
    return root, runs[0], folders[1], marker


def test_a_model_from_outside_the_store_is_refused_without_running_it(crafted, tmp_path):
    folder, marker = crafted
    with pytest.raises(SystemExit, match=r"refusing to load .*pickles that run code.*--trust-model"):
        load_model(tmp_path / "root", str(folder))
    assert not marker.exists()  # nothing was unpickled


def test_a_folder_spelt_like_a_uri_is_a_folder_and_is_refused(crafted, tmp_path):
    """mkdir 'x:'; cp -r evil 'x:/'; --model "$PWD/x:/evil" used to skip every check (it holds ':/')."""
    folder, marker = crafted
    colon = tmp_path / "x:"
    colon.mkdir()
    folder.rename(colon / "evil")
    for spelling in (str(colon / "evil"), "x:/evil"):
        cwd = os.getcwd()
        os.chdir(tmp_path)
        try:
            with pytest.raises(SystemExit, match=r"^fma-pipeline: refusing to load .*x:/evil.*--trust-model"):
                load_model(tmp_path / "root", spelling)
        finally:
            os.chdir(cwd)
    assert not marker.exists()


def test_a_stored_model_whose_pickle_is_a_symlink_out_of_the_store_is_refused(store_root):
    root, _, folder, marker = store_root
    for model in (folder, f"models:/{REGISTERED_MODEL}/2"):
        with pytest.raises(SystemExit, match=r"refusing .*its model\.pkl \(really .*elsewhere\.pkl\) lies outside"):
            load_model(root, model)
    client = mlflow.MlflowClient(DataRoot(root).mlflow_store().tracking_uri)
    client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, "2")
    try:
        with pytest.raises(SystemExit, match=r"refusing to load models:/.*@champion"):
            load_model(root, None)  # the champion itself is checked the same way
    finally:
        client.set_registered_model_alias(REGISTERED_MODEL, CHAMPION_ALIAS, "1")
    assert not marker.exists()


def test_a_stored_mlmodel_naming_a_pickle_outside_the_store_is_refused(store_root):
    """No symlink needed: MLmodel's pickled_model may climb out of the folder with ../"""
    root, _, folder, marker = store_root
    planted = root / "mlartifacts" / "planted"
    shutil.copytree(folder, planted, symlinks=True)
    (planted / "model.pkl").unlink()
    elsewhere = os.path.relpath(os.path.realpath(Path(folder) / "model.pkl"), planted)
    mlmodel = (planted / "MLmodel").read_text().replace("pickled_model: model.pkl", f"pickled_model: {elsewhere}")
    assert elsewhere.startswith("..") and elsewhere in mlmodel
    (planted / "MLmodel").write_text(mlmodel)
    with pytest.raises(SystemExit, match=r"refusing .*its \.\./.*elsewhere\.pkl \(really .*\) lies outside"):
        load_model(root, str(planted))
    assert not marker.exists()


def test_models_and_runs_uris_of_this_store_load_and_others_are_one_line(store_root, tmp_path):
    root, run_id, _, _ = store_root
    DataRoot(root).mlflow_store().activate()
    good_folder = mlflow.artifacts.download_artifacts(f"models:/{REGISTERED_MODEL}/1")  # the store's own folder
    assert Path(good_folder).is_relative_to((root / "mlartifacts").resolve())
    for model in (None, f"models:/{REGISTERED_MODEL}@{CHAMPION_ALIAS}", f"models:/{REGISTERED_MODEL}/1",
                  f"runs:/{run_id}/model", good_folder):
        pipeline, _ = load_model(root, model)
        assert list(pipeline.classes_) == ["a", "b"], model
    with pytest.raises(SystemExit, match=r"^fma-pipeline: models:/nope@champion is not a model of this data root"):
        load_model(root, "models:/nope@champion")
    with pytest.raises(SystemExit, match=r"^fma-pipeline: runs:/0123456789abcdef/model is not a model of this"):
        load_model(root, "runs:/0123456789abcdef/model")
    with pytest.raises(SystemExit, match=r"^fma-pipeline: file:///tmp/x: no such model folder"):
        load_model(root, "file:///tmp/x")  # not a scheme --model accepts; and no such folder either
    with pytest.raises(SystemExit, match=r"no champion model"):
        load_model(tmp_path / "empty-root", None)


def test_trust_model_loads_it_and_a_broken_or_non_model_is_one_line(crafted, tmp_path):
    folder, marker = crafted
    with pytest.raises(SystemExit, match=r"^fma-pipeline: .* is not a fitted classifier \(it loaded as "):
        load_model(tmp_path / "root", str(folder), trust=True)  # the user vouched for it: loaded, and it ran
    assert marker.exists()
    (folder / "model.pkl").write_bytes(b"not a pickle")
    with pytest.raises(SystemExit, match=r"^fma-pipeline: cannot load the model .*: UnpicklingError"):
        load_model(tmp_path / "root", str(folder), trust=True)
    (folder / "MLmodel").unlink()
    with pytest.raises(SystemExit, match=r"^fma-pipeline: .* is not an MLflow model folder \(no MLmodel file\)"):
        load_model(tmp_path / "root", str(folder), trust=True)
    for command in ("predict", "tag"):
        help_text = build_parser()._subparsers._group_actions[0].choices[command].format_help()
        assert "--trust-model" in help_text and "run code" in help_text
