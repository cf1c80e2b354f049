"""FMA's published features.csv as a source: reader, precedence, comparison, and the pipeline on it."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import dagster as dg
import numpy as np
import pandas as pd
import pytest

from fma_pipeline.core.audio.features import N_FEATURES, flat_feature_names
from fma_pipeline.core.catalogue import PUBLISHED_FEATURES, TRACK_FEATURES, DataRoot
from fma_pipeline.core.fma.metadata import MetadataError
from fma_pipeline.core.fma.published import (FEATURES_CSV, MISSING_ROW, combine_sources, compare_sources,
                                             fma_columns, fma_flat_names, read_features_csv, split_by_folder,
                                             store_published, write_features_csv)
from fma_pipeline.core.learning.families import FeatureFamilies, family_choices
from fma_pipeline.core.storage import read_parquet

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _bench(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _table(ids, seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(len(ids), 518)).astype(np.float32), index=pd.Index(ids, name="track_id"),
                        columns=fma_columns())


@pytest.fixture
def small_csv(tmp_path) -> tuple[Path, pd.DataFrame]:
    table = _table([2, 3, 5, 140, 1000, 1001, 2500, 155320])
    table.loc[5] = np.nan  # FMA leaves a track's row empty when its extraction failed
    return write_features_csv(table, tmp_path / FEATURES_CSV), table


def test_the_file_is_fma_format_and_reads_back_exactly(small_csv):
    path, table = small_csv
    lines = path.read_text().splitlines()
    assert [line.split(",")[0] for line in lines[:4]] == ["feature", "statistics", "number", "track_id"]
    assert lines[0].split(",")[1:3] == ["chroma_cens", "chroma_cens"] and set(lines[3].split(",")[1:]) == {""}
    assert lines[4].startswith("2,") and "e+" in lines[4] or "e-" in lines[4]
    # FMA's own reader (utils.load) gives the same table
    fma = pd.read_csv(path, index_col=0, header=[0, 1, 2])
    chunks = list(read_features_csv(path, chunk_rows=3))
    ours = pd.concat([c.features for c in chunks])
    assert list(ours.columns) == list(fma_columns()) and ours.dtypes.eq(np.float32).all()
    assert list(ours.index) == [2, 3, 140, 1000, 1001, 2500, 155320]
    np.testing.assert_allclose(ours.to_numpy(), fma.loc[ours.index, list(fma_columns())].to_numpy(), rtol=1e-6)
    np.testing.assert_array_equal(ours.to_numpy(), table.loc[ours.index].to_numpy())
    missing = pd.concat([c.missing for c in chunks])
    assert missing["track_id"].tolist() == [5] and missing["line"].tolist() == [7]
    assert "FMA's extraction failed" in missing["reason"].iloc[0]


def test_columns_in_another_order_are_put_in_fmas_order(tmp_path):
    table = _table([7, 8])
    shuffled = table[list(reversed(table.columns))]
    path = tmp_path / FEATURES_CSV
    shuffled.rename_axis(index="track_id").to_csv(path, float_format="%.10e")
    ours = next(read_features_csv(path)).features
    np.testing.assert_array_equal(ours.to_numpy(), table.to_numpy())


@pytest.mark.parametrize("edit, message", [
    (lambda L: L.__setitem__(5, L[5] + ",1.0"), ", line 6: 520 fields where the header has 519"),
    (lambda L: L.__setitem__(5, L[5].rsplit(",", 1)[0]), ", line 6, row track_id 3: 518 fields where the header has 519"),
    (lambda L: L.__setitem__(7, L[7].replace(",", ",abc,", 1).rsplit(",", 1)[0]),
     ", line 8, column ('chroma_cens', 'kurtosis', '01') (field 2): 'abc' is not a number"),
    (lambda L: L.__setitem__(7, "2" + L[7][L[7].index(","):]),
     ", line 8, row track_id 2, column track_id (field 1): duplicate track id"),
    (lambda L: L.__setitem__(7, "7.5" + L[7][L[7].index(","):]), ", line 8, column track_id (field 1): track id 7.5"),
    (lambda L: L.__setitem__(7, "156000" + L[7][L[7].index(","):]), ", line 8, column track_id (field 1): track id 156000"),
    (lambda L: L.__setitem__(0, L[0].replace("chroma_cens", "chroma_x", 1)),
     ", line 1, column 2: ('chroma_x', 'kurtosis', '01') is not one of FMA's 518 feature columns"),
    (lambda L: L.__setitem__(3, "id" + L[3][8:]), ", line 4, column 1: header line 4 must start with 'track_id'"),
    (lambda L: L.__setitem__(len(L) - 1, L[-1][:200]), ", line 12, row track_id 155320: 13 fields where the header"),
    (lambda L: L.insert(6, ""), ", line 7, column track_id (field 1): no track id (an empty line?)"),
])
def test_malformed_input_is_one_line_naming_file_line_and_column(small_csv, tmp_path, edit, message):
    lines = small_csv[0].read_text().splitlines()
    edit(lines)
    bad = tmp_path / "bad" / FEATURES_CSV
    bad.parent.mkdir()
    bad.write_text("\n".join(lines) + "\n")
    with pytest.raises(MetadataError) as caught:
        for _ in read_features_csv(bad, chunk_rows=2):
            pass
    text = str(caught.value)
    assert "\n" not in text and text.startswith(str(bad)) and message in text, text


def test_folders_are_handed_over_in_order_as_the_stream_passes_them(small_csv):
    path, table = small_csv
    calls = []
    summary = split_by_folder(path, lambda key, f, e: calls.append((key, list(f.index), e)), chunk_rows=2)
    assert [c[0] for c in calls] == ["000", "001", "002", "155"] and summary.folders == [c[0] for c in calls]
    assert calls[0][1] == [2, 3, 140] and calls[1][1] == [1000, 1001] and calls[3][1] == [155320]
    errors = calls[0][2]
    assert errors["track_id"].tolist() == [5] and errors["exception_class"].tolist() == [MISSING_ROW]
    assert errors["path"].iloc[0] == f"{path}:7" and (summary.rows, summary.missing) == (7, 1)


def test_stored_per_folder_reused_when_unchanged_and_stale_folders_removed(small_csv, tmp_path):
    path, table = small_csv
    root = DataRoot(tmp_path / "root")
    first = store_published(path, root)
    assert (first.rows, first.missing, first.folders, first.reused) == (7, 1, 4, False)
    assert [p.stem for p in root.partition_paths(PUBLISHED_FEATURES)] == ["000", "001", "002", "155"]
    np.testing.assert_array_equal(read_parquet(root.partition_path(PUBLISHED_FEATURES, "001")).to_numpy(),
                                  table.loc[[1000, 1001]].to_numpy())
    assert store_published(path, root).reused
    write_features_csv(table.loc[[2, 3]], path)  # a smaller file: folders 001, 002, 155 are gone
    assert not store_published(path, root).reused
    assert [p.stem for p in root.partition_paths(PUBLISHED_FEATURES)] == ["000"]
    path.unlink()  # no features.csv at all: nothing published
    assert store_published(path, root).rows == 0 and root.partition_paths(PUBLISHED_FEATURES) == []


def test_precedence_decides_each_tracks_source_and_the_columns():
    names = list(flat_feature_names())
    extracted = pd.DataFrame(np.ones((2, N_FEATURES)), index=pd.Index([3, 4], name="track_id"), columns=names)
    published = pd.DataFrame(np.zeros((2, 518)), index=pd.Index([2, 3], name="track_id"), columns=fma_flat_names())
    matrix, source = combine_sources(extracted, published)
    assert source.to_dict() == {2: "published", 3: "extracted", 4: "extracted"}
    assert list(matrix.columns) == fma_flat_names() and matrix.loc[3].eq(1).all() and matrix.loc[2].eq(0).all()
    matrix, source = combine_sources(extracted, published, "published")
    assert source.to_dict() == {2: "published", 3: "published"} and matrix.loc[3].eq(0).all()
    matrix, source = combine_sources(extracted, published, "extracted")
    assert set(source) == {"extracted"} and matrix.shape == (2, N_FEATURES)
    matrix, _ = combine_sources(extracted, None)
    assert matrix.shape == (2, N_FEATURES)  # no published row: the 708 columns, as before
    with pytest.raises(ValueError, match="extracted_else_published"):
        combine_sources(extracted, published, "newest")


def test_the_family_search_offers_only_the_families_published_rows_have():
    assert family_choices(fma_flat_names()) == ["fma", "fma_timbre"]
    X = pd.DataFrame(np.arange(3 * 518, dtype=float).reshape(3, 518), columns=fma_flat_names())
    timbre = FeatureFamilies("fma_timbre").fit(X)
    assert timbre.transform(X).shape == (3, 224) and len(timbre.get_feature_names_out()) == 224
    assert FeatureFamilies("fma").fit(X).transform(X).shape == (3, 518)
    with pytest.raises(ValueError, match="mfcc_corr"):
        FeatureFamilies("timbre").fit(X)


def test_comparison_per_family_flags_a_swapped_track():
    rng = np.random.default_rng(1)
    ids = pd.Index(range(100, 160), name="track_id")
    extracted = pd.DataFrame(rng.lognormal(size=(60, 518)), index=ids, columns=fma_flat_names())
    published = extracted * (1 + rng.normal(0, 0.02, extracted.shape))  # full track vs clip: close, not equal
    published.loc[[110, 111]] = published.loc[[111, 110]].to_numpy()  # two tracks' rows swapped
    result = compare_sources(extracted, published)
    table = result.families.set_index("family")
    assert list(table.index[-1:]) == ["all"] and table.loc["mfcc", "tracks"] == 60
    assert 0.005 < table.loc["all", "median"] < 0.03 and table.loc["all", "iqr"] < 0.01
    assert sorted(result.outliers["track_id"]) == [110, 111]
    assert "mfcc" in result.outliers["families_far_outside"].iloc[0]
    assert compare_sources(extracted.iloc[:0], published).families.empty


# ----------------------------------------------------------------------------- the pipeline

FAST = {"ops": {
    "tracks": {"config": {"min_tracks": 2}},
    "genre_classifiers": {"config": {"models": ["lda"], "branches": ["scaled"], "cv_folds": 2, "n_jobs": 1}},
    "subgenre_labels": {"config": {"min_tracks": 5}},
    "subgenre_classifiers": {"config": {"models": ["logistic_regression"], "cv_folds": 2, "n_jobs": 1}},
    "genre_clusters": {"config": {"k_max": 4, "kmeans_n_init": 2, "map_points": 100}},
}}
TRACKS_ONLY = {"ops": {"tracks": {"config": {"min_tracks": 2}}}}


@pytest.fixture(scope="module")
def metadata_only(tmp_path_factory):
    """A data root holding only fma_metadata/ (tracks.csv, genres.csv, features.csv): every asset
    downstream of extraction materialised through a real Dagster instance (the CLI's
    ``materialise`` runs the same after extracting 156 empty folders)."""
    from fma_pipeline.definitions import all_assets, all_checks, resources
    from fma_pipeline.orchestration.assets.features import folder_features
    from fma_pipeline.orchestration.resources import FmaData

    root = tmp_path_factory.mktemp("metadata-only")
    plan, features = _bench("published").generate_metadata(root, 240, seed=2, empty_rows=3, log=lambda *_: None)
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([*all_assets, *all_checks], instance=instance,
                                resources=resources(FmaData(data_dir=str(root))), run_config=FAST,
                                selection=dg.AssetSelection.all() - dg.AssetSelection.assets(folder_features))
    assert result.success
    return root, plan, features


def test_a_metadata_only_root_materialises_every_clip_level_asset(metadata_only):
    root, plan, features = metadata_only
    pipeline = root / "pipeline"
    matrix = read_parquet(pipeline / "feature_matrix.parquet")
    sources = read_parquet(pipeline / "feature_sources.parquet")
    tracks = read_parquet(pipeline / "tracks.parquet")
    empty = plan.tracks.index[np.isnan(features).all(axis=1)]  # 3 rows FMA "left empty"
    assert list(matrix.columns) == fma_flat_names() and matrix.index.equals(tracks.index.difference(empty))
    assert set(sources["source"]) == {"published"} and sources.index.equals(matrix.index)
    row = plan.tracks.index.get_loc(matrix.index[0])
    np.testing.assert_array_equal(matrix.iloc[0].to_numpy(), features[row])
    for name in ("scaled_features", "pca_features", "classifier_comparison", "classifier_metrics",
                 "cluster_scores", "subgenre_scores", "champion_confusion"):
        assert (pipeline / f"{name}.parquet").is_file(), name
    comparison = read_parquet(pipeline / "classifier_comparison.parquet")
    assert set(comparison["families"]) <= {"fma", "fma_timbre"}
    errors = read_parquet(pipeline / "extraction_errors.parquet")
    published_errors = errors[errors["source"] == "published"]
    assert sorted(published_errors["track_id"]) == sorted(empty) and published_errors["reason"].str.contains("FMA's extraction failed").all()
    # segment level needs audio: one line, empty tables, not a failure
    assert len(read_parquet(pipeline / "segment_matrix.parquet")) == 0
    assert read_parquet(pipeline / "level_comparison.parquet")["level"].tolist() == ["clip"]
    assert read_parquet(pipeline / "source_comparison.parquet").empty


def test_backfill_and_the_automation_ignore_published_rows(metadata_only, tmp_path):
    from fma_pipeline.orchestration.backfill import find_backfill_partitions
    from fma_pipeline.orchestration.resources import Extraction, FmaData
    from fma_pipeline.orchestration.schedules import build_rescan_schedule
    from fma_pipeline.orchestration.sensors import new_tracks_sensor

    root = metadata_only[0]
    fma = FmaData(data_dir=str(root))
    assert DataRoot(root).partition_paths(PUBLISHED_FEATURES)  # published folders exist ...
    with dg.DagsterInstance.ephemeral() as instance:
        assert find_backfill_partitions(instance, fma) == []  # ... and none is listed
        context = dg.build_sensor_context(instance=instance, cursor=None, resources={"fma": fma, "extraction": Extraction()})
        assert not new_tracks_sensor(context).run_requests
        tick = dg.build_schedule_context(instance=instance, resources={"fma": fma, "extraction": Extraction()})
        assert not build_rescan_schedule("*/5 * * * *").evaluate_tick(tick).run_requests
        (root / "fma_small" / "007").mkdir(parents=True)
        shutil.copy2(__file__, root / "fma_small" / "007" / "007001.mp3")  # audio arrives in one folder
        found = find_backfill_partitions(instance, fma)
        assert [(c.partition, c.reason.split(":")[0]) for c in found] == [("007", "never materialised")]
        assert [r.partition_key for r in new_tracks_sensor(context).run_requests] == ["007"]


@pytest.fixture(scope="module")
def mixed(tiny_sample, tmp_path_factory):
    """One folder of the tiny sample's audio, minus two tracks' files, plus a features.csv holding
    every track: the extracted values perturbed 1 % (a full track against its clip), two tracks'
    rows swapped, generated rows for the tracks whose audio is not here."""
    from fma_pipeline.definitions import all_assets, all_checks, resources
    from fma_pipeline.orchestration.assets.features import folder_features
    from fma_pipeline.orchestration.resources import Extraction, FmaData
    from fma_pipeline_tests.runs import materialise_sample

    root = tmp_path_factory.mktemp("mixed")
    sample = tmp_path_factory.mktemp("mixed-sample")
    shutil.copytree(tiny_sample, sample, dirs_exist_ok=True)
    folders = sorted(p for p in (sample / "fma_small").iterdir() if p.is_dir())
    for extra in folders[1:]:  # one folder's audio is enough (extraction is the slow part)
        shutil.rmtree(extra)
    instance, _, _ = materialise_sample(sample, root, TRACKS_ONLY, selection=dg.AssetSelection.assets("tracks"))
    extracted = pd.concat([read_parquet(p) for p in DataRoot(root).partition_paths(TRACK_FEATURES)])
    values = extracted.loc[:, list(fma_columns())].astype(np.float64)
    rng = np.random.default_rng(4)
    published = values * (1 + rng.normal(0, 0.01, values.shape))
    swapped = list(published.index[[1, 2]])
    published.loc[swapped] = published.loc[swapped[::-1]].to_numpy()
    others = read_parquet(root / "pipeline" / "tracks.parquet").index.difference(published.index)
    published = pd.concat([published, pd.DataFrame(rng.lognormal(size=(len(others), 518)), index=others,
                                                    columns=published.columns)])  # tracks without audio here
    write_features_csv(published.astype(np.float32), root / "fma_metadata" / FEATURES_CSV)
    gone = list(values.index[[-1, -2]])  # their audio is removed: only their published row is left
    for tid in gone:
        next((root / "fma_small").rglob(f"{tid:06d}.*")).unlink()
    resources_ = resources(FmaData(data_dir=str(root)), Extraction(workers=1))
    dg.materialize([folder_features, *all_checks], instance=instance, resources=resources_,
                   tags={"dagster/asset_partition_range_start": "000", "dagster/asset_partition_range_end": "155"})
    selection = dg.AssetSelection.assets("tracks", "published_features", "feature_matrix", "source_comparison",
                                         "extraction_errors")
    dg.materialize(all_assets, instance=instance, resources=resources_, selection=selection, run_config=TRACKS_ONLY)
    return root, instance, resources_, values, published.astype(np.float32), swapped, gone + list(others)


def test_published_and_extracted_rows_feed_one_feature_matrix(mixed):
    root, instance, resources_, values, published, swapped, gone = mixed
    matrix = read_parquet(root / "pipeline" / "feature_matrix.parquet")
    sources = read_parquet(root / "pipeline" / "feature_sources.parquet")["source"]
    assert sorted(sources[sources == "published"].index) == sorted(set(gone) & set(matrix.index))
    assert (sources == "extracted").sum() >= 3
    assert (sources.drop(gone) == "extracted").all() and list(matrix.columns) == fma_flat_names()
    gone = [t for t in gone if t in matrix.index]
    np.testing.assert_array_equal(matrix.loc[gone].to_numpy(), published.loc[gone].to_numpy())
    kept = [t for t in matrix.index if t not in gone]
    np.testing.assert_array_equal(matrix.loc[kept].to_numpy(), values.loc[kept].to_numpy(dtype=np.float32))


def test_the_comparison_shows_the_spread_and_the_swapped_tracks(mixed):
    root, *_, swapped, gone = mixed
    table = read_parquet(root / "pipeline" / "source_comparison.parquet").set_index("family")
    outliers = read_parquet(root / "pipeline" / "source_outliers.parquet")
    values = mixed[3]
    assert table.loc["all", "tracks"] == len(values.index.difference(gone))
    assert 0.003 < table.loc["all", "median"] < 0.02
    assert sorted(outliers["track_id"]) == sorted(swapped)


def test_new_audio_is_extracted_and_wins_over_the_published_row(mixed, tiny_sample):
    from fma_pipeline.definitions import all_assets, all_checks
    from fma_pipeline.orchestration.assets.features import folder_features
    from fma_pipeline.orchestration.resources import Extraction, FmaData
    from fma_pipeline.orchestration.sensors import new_tracks_sensor, scan_folders

    root, instance, resources_, values, published, swapped, gone = mixed
    fma = FmaData(data_dir=str(root))
    cursor = __import__("json").dumps(scan_folders(fma.audio_dir))
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"fma": fma, "extraction": Extraction()})
    assert not new_tracks_sensor(context).run_requests  # published rows alone request nothing
    tid = gone[0]
    source = next(tiny_sample.rglob(f"{tid:06d}.*"))
    target = root / source.relative_to(tiny_sample)
    shutil.copy2(source, target)  # the track's audio arrives
    requests = new_tracks_sensor(dg.build_sensor_context(instance=instance, cursor=cursor,
                                                         resources={"fma": fma, "extraction": Extraction()})).run_requests
    assert [r.partition_key for r in requests] == [target.parent.name]
    dg.materialize([folder_features, *all_checks], instance=instance, resources=resources_,
                   partition_key=target.parent.name)
    dg.materialize(all_assets, instance=instance, resources=resources_, run_config=TRACKS_ONLY,
                   selection=dg.AssetSelection.assets("tracks", "published_features", "feature_matrix"))
    sources = read_parquet(root / "pipeline" / "feature_sources.parquet")["source"]
    assert sources[tid] == "extracted" and sources[gone[1]] == "published"
    matrix = read_parquet(root / "pipeline" / "feature_matrix.parquet")
    # extracted again (in another process layout: float32 rounding may differ in the last bit)
    np.testing.assert_allclose(matrix.loc[tid].to_numpy(), values.loc[tid].to_numpy(dtype=np.float32), rtol=1e-5)
    assert not np.allclose(matrix.loc[tid].to_numpy(), published.loc[tid].to_numpy(), rtol=1e-3)


def test_the_report_shows_sources_and_the_comparison(mixed, tmp_path):
    from fma_pipeline.core.report import build_report

    root, *_, swapped, gone = mixed
    page = build_report(root, tmp_path / "report.html").read_text()
    section = page.split('<section id="sources">')[1].split("</section>")[0]
    sources = read_parquet(root / "pipeline" / "feature_sources.parquet")["source"]
    assert f"{(sources == 'published').sum()} published" in section and "far outside" in section
    assert all(f"<td>{tid}</td>" in section for tid in swapped)


def test_the_paper_protocol_runs_end_to_end_on_generated_files(tmp_path):
    """bench/paper.py on FMA-format files: medium subset only, FMA's split, the paper's numbers beside ours."""
    from fma_pipeline.core.fma.metadata import read_tracks, write_tracks_csv

    paper = _bench("paper")
    _bench("published").generate_metadata(tmp_path, 300, seed=5, empty_rows=2, log=lambda *_: None)
    tracks_csv = tmp_path / "fma_metadata" / "tracks.csv"
    tracks = read_tracks(tracks_csv)
    large = tracks.index[:40]
    tracks.loc[large, ("set", "subset")] = "large"  # not in fma_medium: left out
    write_tracks_csv(tracks, tracks_csv)
    lines: list[str] = []
    table = paper.run(tmp_path, list(paper.PAPER_ACCURACY), out=lines.append)
    assert table["paper"].tolist() == [0.61, 0.52, 0.63, 0.58]
    assert table[["fma_settings", "project"]].stack().between(0, 1).all()
    X, genre, split, dropped = paper.load(tmp_path)
    assert not X.index.isin(large).any() and set(split) == {"training", "validation", "test"}
    assert len(X) + dropped == 260 and "medium subset 260 tracks" in lines[0] and "518 features" in lines[0]
    assert f"{int((split == 'training').sum())} / validation" in lines[0]
    assert "tab:mgr" in lines[-1] and "61.0%" in "\n".join(lines)
