"""Feature definitions: native-rate extraction, the definition stored with every output and
model, stale outputs re-extracted, models of another definition refused (docs/feature-definitions.md).

Real MP3s, a real Dagster instance and MLflow store, as in test_pipeline.py, on a smaller run:
the features, the feature matrix and one cheap classifier.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import dagster as dg
import mlflow
import numpy as np
import pytest
import soundfile as sf
import yaml

from fma_pipeline.cli import main
from fma_pipeline.core.audio.decode import decode_with_rate
from fma_pipeline.core.audio.definition import DefinitionMismatch, stored_definition
from fma_pipeline.core.audio.extraction import ExtractionSettings, extract_folder
from fma_pipeline.core.audio.features import (FEATURE_DEFINITION, MIN_NATIVE_SR, FeatureConfig, extract,
                                              feature_columns)
from fma_pipeline.core.audio.tagging import TagSettings
from fma_pipeline.core.audio.windows import SegmentConfig
from fma_pipeline.core.storage import read_parquet, write_parquet
from fma_pipeline.core.catalogue import DataRoot
from fma_pipeline.definitions import all_assets, all_checks, resources
from fma_pipeline.orchestration.assets.features import folder_features
from fma_pipeline.orchestration.backfill import find_backfill_partitions
from fma_pipeline.orchestration.resources import Extraction, FmaData
from fma_pipeline.orchestration.sensors import new_tracks_sensor, scan_folders
from fma_pipeline_tests.runs import materialise_sample

RUN = {"ops": {
    "tracks": {"config": {"min_tracks": 2}},
    "genre_classifiers": {"config": {"models": ["lda"], "branches": ["scaled"], "families": ["fma"],
                                     "cv_folds": 2, "n_jobs": 1, "ensemble_size": 0, "calibration_folds": 0}},
}}
TRAINED = dg.AssetSelection.assets("tracks", "feature_matrix", "genre_classifiers")


def _tone(path: Path, sr: int, seconds: float = 6.5, channels: int = 2) -> Path:
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * 330 * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))
    y += 0.02 * np.random.default_rng(sr).standard_normal(len(t))
    sf.write(path, np.repeat(y[:, None], channels, axis=1).astype(np.float32), sr, format="MP3",
             subtype="MPEG_LAYER_III", compression_level=0.65, bitrate_mode="CONSTANT")
    return path


def test_extraction_runs_at_each_files_native_rate_with_3_s_windows(tmp_path):
    """A 44.1 kHz stereo and a 22.05 kHz mono MP3 in one folder: each analysed at its own rate
    (as features.py's ``librosa.load(sr=None)``), each cut into 3 s windows at that rate, and
    the tables say which definition and rate they hold."""
    folder = tmp_path / "000"
    folder.mkdir()
    fast, slow = _tone(folder / "000002.mp3", 44_100), _tone(folder / "000005.mp3", 22_050, channels=1)
    phone = folder / "000007.wav"  # below MIN_NATIVE_SR (features.py's CQT fails there): analysed at it
    y, _ = decode_with_rate(slow)
    sf.write(phone, y[::2], 11_025)
    result = extract_folder(folder, settings=ExtractionSettings(workers=1, segments=SegmentConfig()))
    assert result.extracted == 3, result.errors
    for table in (result.features, result.segments, result.errors):
        assert table.attrs == {"feature_definition": FEATURE_DEFINITION, "analysis_rate": "native"}
    for track_id, path, rate in ((2, fast, 44_100), (5, slow, 22_050), (7, phone, MIN_NATIVE_SR)):
        y, sr = decode_with_rate(path, min_sr=MIN_NATIVE_SR)
        assert sr == rate
        expected = extract(y, FeatureConfig(sr=rate))
        np.testing.assert_allclose(result.features.loc[track_id, feature_columns()].to_numpy(float), expected,
                                   rtol=1e-5, atol=1e-6)
        assert result.segments.loc[track_id].shape[0] == 2  # 6.5 s: two 3 s windows at either rate
        assert result.features.loc[track_id, ("file", "seconds", "")] == pytest.approx(len(y) / rate)
    resampled = extract_folder(folder, settings=ExtractionSettings(features=FeatureConfig(sr=22_050), workers=1))
    assert resampled.features.attrs == {"feature_definition": f"{FEATURE_DEFINITION}@22050",
                                        "analysis_rate": "22050"}


@pytest.fixture(scope="module")
def trained(tiny_sample, tmp_path_factory):
    """Every folder extracted, the feature matrix and one LDA champion, registered in MLflow."""
    root = tmp_path_factory.mktemp("definitions")
    instance, features, rest = materialise_sample(tiny_sample, root, RUN, selection=TRAINED)
    assert features.success and rest.success
    return root, instance


def test_outputs_and_the_model_record_the_definition(trained):
    root, _ = trained
    for name in ("track_features", "segment_features"):
        for path in sorted((root / "pipeline" / name).glob("*.parquet")):
            assert stored_definition(path) == FEATURE_DEFINITION, path
    assert read_parquet(root / "pipeline" / "feature_matrix.parquet").attrs["feature_definition"] == FEATURE_DEFINITION
    runs = json.loads((root / "pipeline" / "genre_classifiers.json").read_text())
    assert runs["feature_definition"] == FEATURE_DEFINITION
    DataRoot(root).mlflow_store().activate()
    metadata = mlflow.models.get_model_info("models:/fma-genre-classifier@champion").metadata
    assert metadata["feature_definition"] == FEATURE_DEFINITION and metadata["feature_config"]["sr"] is None


def test_an_old_definitions_folder_is_stale_everywhere_and_re_extracted(trained):
    """features of the version before definitions (no metadata): the sensor requests the folder
    although its files did not change, backfill lists it, and the next materialisation decodes
    every file again instead of reusing the rows."""
    root, instance = trained
    fma = FmaData(data_dir=str(root))
    features = root / "pipeline" / "track_features" / "003.parquet"
    current = read_parquet(features)
    assert len(current) > 0
    old = current.copy()
    old.attrs = {}  # as the previous version wrote it: no feature definition
    write_parquet(old, features)
    assert stored_definition(features) is None

    cursor = json.dumps(scan_folders(fma.audio_dir), sort_keys=True)  # no file changed since the last tick
    context = dg.build_sensor_context(instance=instance, cursor=cursor,
                                      resources={"fma": fma, "extraction": Extraction()})
    requests = new_tracks_sensor(context).run_requests or []
    assert [r.partition_key for r in requests] == ["003"]
    assert requests[0].run_key.endswith(f":{FEATURE_DEFINITION}")
    found = find_backfill_partitions(instance, fma, definition=FEATURE_DEFINITION)
    assert [(c.partition, c.reason.split(":")[0]) for c in found] == [("003", "stale")]

    result = dg.materialize([folder_features], instance=instance, partition_key="003",
                            resources=resources(fma, Extraction(workers=1)))
    counts = next(m.metadata for m in result.asset_materializations_for_node("folder_features")
                  if m.asset_key == dg.AssetKey("track_features"))
    assert counts["extracted"].value == len(current) and counts["reused"].value == 0
    assert stored_definition(features) == FEATURE_DEFINITION
    assert stored_definition(root / "pipeline" / "segment_features" / "003.parquet") == FEATURE_DEFINITION
    assert find_backfill_partitions(instance, fma, definition=FEATURE_DEFINITION) == []


def _model_copy(root: Path, tmp_path: Path, **metadata) -> Path:
    """The champion's MLflow model folder, copied, with ``metadata`` changed in its MLmodel."""
    DataRoot(root).mlflow_store().activate()
    source = mlflow.artifacts.download_artifacts("models:/fma-genre-classifier@champion", dst_path=str(tmp_path / "dl"))
    copy = tmp_path / "model"
    shutil.copytree(source, copy)
    spec = yaml.safe_load((copy / "MLmodel").read_text())
    spec["metadata"].update(metadata)
    (copy / "MLmodel").write_text(yaml.safe_dump(spec))
    return copy


def test_predict_refuses_a_model_of_another_definition_in_one_line(trained, tmp_path, capsys):
    root, _ = trained
    clip = sorted((root / "fma_small" / "000").glob("*.mp3"))[0]
    assert main(["--data-dir", str(root), "predict", str(clip)]) == 0  # the champion's own definition
    assert capsys.readouterr().out.startswith(str(clip))
    for metadata, named in (({"feature_definition": "fma-features.py/0"}, "fma-features.py/0"),
                            ({"feature_definition": None}, "none recorded")):
        model = _model_copy(root, tmp_path / named.split()[0], **metadata)
        with pytest.raises(SystemExit) as refused:
            main(["--data-dir", str(root), "predict", "--model", str(model), "--trust-model", str(clip)])
        message = str(refused.value)
        assert "\n" not in message and named in message and FEATURE_DEFINITION in message, message
        assert message.startswith(f"fma-pipeline predict: model {model} was trained on feature definition")
        assert "retrain (fma-pipeline materialise)" in message


def test_a_fixed_rate_model_extracts_at_its_rate_and_the_two_definitions_never_mix(trained):
    """The lower-rate option is its own definition: a model trained on it extracts new audio at
    its rate; a model claiming it with native settings (or the reverse) is refused; training
    refuses a feature matrix of the other definition than the extraction is configured for."""
    root, instance = trained
    config = {**FeatureConfig().as_dict(), "sr": 22_050}
    settings = TagSettings.from_model_metadata({"feature_config": config,
                                                "feature_definition": f"{FEATURE_DEFINITION}@22050"})
    assert settings.features.sr == 22_050 and settings.features.definition == f"{FEATURE_DEFINITION}@22050"
    with pytest.raises(DefinitionMismatch, match="@22050"):  # native config, fixed-rate definition
        TagSettings.from_model_metadata({"feature_config": FeatureConfig().as_dict(),
                                         "feature_definition": f"{FEATURE_DEFINITION}@22050"})
    with pytest.raises(DefinitionMismatch, match="trained on feature definition fma-features.py/1;"):
        TagSettings.from_model_metadata({"feature_config": config, "feature_definition": FEATURE_DEFINITION})

    at_22k = resources(FmaData(data_dir=str(root)), Extraction(sample_rate=22_050, workers=1))
    result = dg.materialize([*all_assets, *all_checks], instance=instance, resources=at_22k,
                            run_config={"ops": {"genre_classifiers": RUN["ops"]["genre_classifiers"]}},
                            selection=dg.AssetSelection.assets("genre_classifiers"), raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    message = failure.step_failure_data.error.message
    assert f"feature_matrix holds features of definition {FEATURE_DEFINITION}, not {FEATURE_DEFINITION}@22050" \
        in message, message
