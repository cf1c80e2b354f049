"""A model folder from outside the data root's MLflow store is refused unless --trust-model (#16.9):
its pickle would run code when loaded."""

from __future__ import annotations

import pickle

import mlflow.sklearn
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from fma_pipeline.cli import build_parser, load_model


class _Payload:
    """Unpickling this touches a marker file: the stand-in for a command a crafted model would run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.fixture
def crafted(tmp_path):
    folder = tmp_path / "downloaded-model"
    X = np.random.default_rng(0).normal(size=(20, 3))
    mlflow.sklearn.save_model(LogisticRegression().fit(X, [0, 1] * 10), folder, serialization_format="cloudpickle")
    marker = tmp_path / "ran-code"
    (folder / "model.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    return folder, marker


def test_a_model_from_outside_the_store_is_refused_without_running_it(crafted, tmp_path):
    folder, marker = crafted
    with pytest.raises(SystemExit, match=r"refusing to load .*pickles that run code.*--trust-model"):
        load_model(tmp_path / "root", str(folder))
    assert not marker.exists()  # nothing was unpickled


def test_trust_model_loads_it_and_a_broken_model_is_one_line(crafted, tmp_path):
    folder, marker = crafted
    load_model(tmp_path / "root", str(folder), trust=True)  # the user vouched for it: loaded
    assert marker.exists()
    (folder / "model.pkl").write_bytes(b"not a pickle")
    with pytest.raises(SystemExit, match=r"^fma-pipeline: cannot load the model .*: UnpicklingError"):
        load_model(tmp_path / "root", str(folder), trust=True)
    for command in ("predict", "tag"):
        help_text = build_parser()._subparsers._group_actions[0].choices[command].format_help()
        assert "--trust-model" in help_text and "run code" in help_text
