"""The data root's catalogue: every file the pipeline stores, where it lives, which asset makes it.

One data root (``FMA_DATA_DIR``, default ``./data``) holds FMA's inputs as FMA ships them
(``fma_metadata/``, ``fma_<subset>/NNN/``), ``pipeline/`` for what the assets store,
``mlflow.db`` + ``mlartifacts/`` for MLflow (unless ``FMA_MLFLOW_TRACKING_URI`` names
another store) and ``.dagster/`` for Dagster's instance. Everything that reads or writes
these files — the assets' IO manager, the CLI, the report, the benchmarks — asks this
module, so a name is spelled once and the producing asset of a missing file is known.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from fma_pipeline.core import settings
from fma_pipeline.core.tracking import MlflowStore

#: Environment variable naming the data root (see ``core/settings.py``).
DATA_DIR_ENV = settings.DATA_DIR.name
#: Environment variable naming a team's MLflow tracking store (default: SQLite under the data root).
MLFLOW_URI_ENV = settings.MLFLOW_TRACKING_URI.name
METADATA_DIR = "fma_metadata"
#: FMA's metadata files, as FMA ships them in ``fma_metadata/`` (the pipeline's inputs).
TRACKS_CSV = "tracks.csv"
GENRES_CSV = "genres.csv"
PIPELINE_DIR = "pipeline"
DAGSTER_DIR = ".dagster"
MLFLOW_DB = "mlflow.db"
MLFLOW_ARTIFACTS = "mlartifacts"
#: Partition files are named after FMA's three-digit audio folders.
PARTITION_GLOB = "[0-9][0-9][0-9].parquet"


@dataclass(frozen=True)
class Stored:
    """One stored output under ``pipeline/``.

    Parameters
    ----------
    name : str
        File name (``tracks.parquet``), or folder name for a partitioned output, whose
        files are ``<name>/<folder>.parquet``.
    asset : str
        The Dagster asset that writes it (materialise this when it is missing).
    partitioned : bool
        One file per FMA folder.
    columns : tuple of str
        The columns that summarise a results table (the demo's tables, the assets'
        metadata), in order; empty for other outputs.
    """

    name: str
    asset: str
    partitioned: bool = False
    columns: tuple[str, ...] = ()


TRACKS = Stored("tracks.parquet", "tracks")
SUBGENRE_LABELS = Stored("subgenre_labels.parquet", "subgenre_labels")
TRACK_FEATURES = Stored("track_features", "track_features", partitioned=True)
TRACK_FEATURE_ERRORS = Stored("track_feature_errors", "track_features", partitioned=True)
SEGMENT_FEATURES = Stored("segment_features", "segment_features", partitioned=True)
EXTRACTION_ERRORS = Stored("extraction_errors.parquet", "extraction_errors")
#: FMA's published features.csv, per folder (see core/fma/published.py).
PUBLISHED_FEATURES = Stored("published_features", "published_features", partitioned=True)
PUBLISHED_FEATURE_ERRORS = Stored("published_feature_errors.parquet", "published_features")
PUBLISHED_MANIFEST = Stored("published_features.json", "published_features")
FEATURE_MATRIX = Stored("feature_matrix.parquet", "feature_matrix")
FEATURE_SOURCES = Stored("feature_sources.parquet", "feature_matrix")
SOURCE_COMPARISON = Stored("source_comparison.parquet", "source_comparison")
SOURCE_OUTLIERS = Stored("source_outliers.parquet", "source_comparison")
SEGMENT_MATRIX = Stored("segment_matrix.parquet", "segment_matrix")
SCALED_FEATURES = Stored("scaled_features.parquet", "scaled_features")
PCA_FEATURES = Stored("pca_features.parquet", "pca_features")
PCA_EXPLAINED_VARIANCE = Stored("pca_explained_variance.parquet", "pca_features")
#: The columns that summarise a table of classifiers side by side.
COMPARISON_COLUMNS = ("model", "branch", "families", "accuracy", "balanced_accuracy", "macro_f1", "majority_baseline",
                      "n_test", "validation_macro_f1", "cv_macro_f1", "ece")
CLASSIFIER_COMPARISON = Stored("classifier_comparison.parquet", "genre_classifiers", columns=COMPARISON_COLUMNS)
GENRE_CLASSIFIER_RUNS = Stored("genre_classifiers.json", "genre_classifiers")
CLASSIFIER_METRICS = Stored("classifier_metrics.parquet", "classifier_metrics")
CHAMPION_PER_GENRE = Stored("champion_per_genre.parquet", "classifier_metrics")
CHAMPION_CONFUSION = Stored("champion_confusion.parquet", "classifier_metrics")
KEY_PREDICTOR_FAMILIES = Stored("key_predictor_families.parquet", "classifier_metrics")
KEY_PREDICTORS = Stored("key_predictors.parquet", "classifier_metrics")
SEGMENT_CLASSIFIER_COMPARISON = Stored("segment_classifier_comparison.parquet", "segment_classifiers",
                                       columns=COMPARISON_COLUMNS)
LEVEL_COMPARISON = Stored("level_comparison.parquet", "segment_classifiers", columns=(
    "level", "model", "branch", "families", "cv_macro_f1", "accuracy", "balanced_accuracy", "macro_f1",
    "majority_baseline"))
CLUSTER_SCORES = Stored("cluster_scores.parquet", "genre_clusters",
                        columns=("method", "branch", "k", "ari", "nmi", "v_measure", "purity"))
CLUSTER_MAPS = Stored("cluster_maps", "genre_clusters")
CLUSTER_CONTINGENCY = Stored("cluster_contingency", "genre_clusters")  # <method>_<branch>.parquet at k = genres
SUBGENRE_SCORES = Stored("subgenre_scores.parquet", "subgenre_classifiers", columns=(
    "parent", "classes", "n_test", "accuracy", "macro_f1", "majority_baseline", "note"))
REPORT = Stored("report.html", "")  # written by ``fma-pipeline report``, not by an asset

#: Every stored output, in the order the pipeline makes them.
CATALOGUE: tuple[Stored, ...] = (
    TRACKS, SUBGENRE_LABELS, TRACK_FEATURES, TRACK_FEATURE_ERRORS, SEGMENT_FEATURES, EXTRACTION_ERRORS,
    PUBLISHED_FEATURES, PUBLISHED_FEATURE_ERRORS, PUBLISHED_MANIFEST, FEATURE_MATRIX, FEATURE_SOURCES,
    SOURCE_COMPARISON, SOURCE_OUTLIERS, SEGMENT_MATRIX, SCALED_FEATURES, PCA_FEATURES, PCA_EXPLAINED_VARIANCE,
    CLASSIFIER_COMPARISON, GENRE_CLASSIFIER_RUNS, CLASSIFIER_METRICS, CHAMPION_PER_GENRE, CHAMPION_CONFUSION,
    KEY_PREDICTOR_FAMILIES, KEY_PREDICTORS, SEGMENT_CLASSIFIER_COMPARISON, LEVEL_COMPARISON, CLUSTER_SCORES,
    CLUSTER_MAPS, CLUSTER_CONTINGENCY, SUBGENRE_SCORES, REPORT,
)


def produced_by(asset: str) -> list[Stored]:
    """The outputs ``asset`` writes, its main table first.

    Parameters
    ----------
    asset : str
        A Dagster asset name.

    Returns
    -------
    list of Stored
        Empty when the asset stores nothing.

    Examples
    --------
    >>> [s.name for s in produced_by("pca_features")]
    ['pca_features.parquet', 'pca_explained_variance.parquet']
    """
    return [s for s in CATALOGUE if s.asset == asset]


def default_data_dir() -> Path:
    """``$FMA_DATA_DIR`` or ``./data``, made absolute so every process agrees on it.

    Returns
    -------
    pathlib.Path
    """
    return settings.DATA_DIR.read()


@dataclass(frozen=True)
class DataRoot:
    """Paths inside one data root, and its MLflow store.

    Parameters
    ----------
    root : pathlib.Path
        The data root folder.

    Examples
    --------
    >>> root = DataRoot(Path("/srv/fma"))
    >>> str(root.path(TRACKS))
    '/srv/fma/pipeline/tracks.parquet'
    >>> str(root.partition_path(TRACK_FEATURES, "003"))
    '/srv/fma/pipeline/track_features/003.parquet'
    """

    root: Path

    @classmethod
    def from_env(cls) -> DataRoot:
        """The data root of :func:`default_data_dir`.

        Returns
        -------
        DataRoot
        """
        return cls(default_data_dir())

    @property
    def metadata_dir(self) -> Path:
        """FMA's metadata folder, ``<root>/fma_metadata``.

        Returns
        -------
        pathlib.Path
        """
        return self.root / METADATA_DIR

    @property
    def tracks_csv(self) -> Path:
        """FMA's track table, ``<root>/fma_metadata/tracks.csv``.

        Returns
        -------
        pathlib.Path
        """
        return self.metadata_dir / TRACKS_CSV

    @property
    def genres_csv(self) -> Path:
        """FMA's genre tree, ``<root>/fma_metadata/genres.csv``.

        Returns
        -------
        pathlib.Path
        """
        return self.metadata_dir / GENRES_CSV

    @property
    def pipeline_dir(self) -> Path:
        """Where the assets store their outputs, ``<root>/pipeline``.

        Returns
        -------
        pathlib.Path
        """
        return self.root / PIPELINE_DIR

    @property
    def dagster_dir(self) -> Path:
        """Dagster's instance folder, ``<root>/.dagster``.

        Returns
        -------
        pathlib.Path
        """
        return self.root / DAGSTER_DIR

    def path(self, stored: Stored) -> Path:
        """The file (or, for a partitioned output, the folder) of ``stored``.

        Parameters
        ----------
        stored : Stored
            A catalogue entry.

        Returns
        -------
        pathlib.Path
        """
        return self.pipeline_dir / stored.name

    def partition_path(self, stored: Stored, key: str) -> Path:
        """One FMA folder's file of a partitioned output.

        Parameters
        ----------
        stored : Stored
            A partitioned catalogue entry.
        key : str
            The FMA folder (``"003"``).

        Returns
        -------
        pathlib.Path

        Raises
        ------
        ValueError
            If ``stored`` is not partitioned.
        """
        if not stored.partitioned:
            raise ValueError(f"{stored.name} is not partitioned")
        return self.path(stored) / f"{key}.parquet"

    def partition_paths(self, stored: Stored) -> list[Path]:
        """Every stored partition file of ``stored``, in folder order.

        Parameters
        ----------
        stored : Stored
            A partitioned catalogue entry.

        Returns
        -------
        list of pathlib.Path
            Empty when nothing is stored yet.
        """
        return sorted(self.path(stored).glob(PARTITION_GLOB))

    def missing_message(self, stored: Stored) -> str:
        """One line saying what is missing and what makes it.

        Parameters
        ----------
        stored : Stored
            A catalogue entry.

        Returns
        -------
        str
        """
        what = f"materialise {stored.asset}" if stored.asset else "run fma-pipeline report"
        return f"{self.path(stored)} is missing ({what})"

    def mlflow_store(self, experiment: str = MlflowStore.experiment) -> MlflowStore:
        """The MLflow store every command uses.

        ``$FMA_MLFLOW_TRACKING_URI`` if set (a team's server or PostgreSQL; artifacts then go
        wherever that server keeps them), else ``sqlite:///<root>/mlflow.db`` with artifacts in
        ``<root>/mlartifacts``.

        Parameters
        ----------
        experiment : str, default MlflowStore.experiment
            Default experiment name of the store.

        Returns
        -------
        MlflowStore
        """
        root = self.root.resolve()
        uri = settings.MLFLOW_TRACKING_URI.read() or f"sqlite:///{root / MLFLOW_DB}"
        return MlflowStore(uri, root / MLFLOW_ARTIFACTS, experiment)

    def has_mlflow_store(self) -> bool:
        """Whether :meth:`mlflow_store` exists already (a team store is assumed to).

        Returns
        -------
        bool
        """
        return settings.MLFLOW_TRACKING_URI.read() is not None or (self.root / MLFLOW_DB).exists()


def iter_partitions(root: DataRoot, stored: Stored) -> Iterator[Path]:
    """Non-empty partition files of ``stored`` (most of FMA's 156 folders may be empty).

    Parameters
    ----------
    root : DataRoot
        The data root.
    stored : Stored
        A partitioned catalogue entry.

    Returns
    -------
    Iterator[pathlib.Path]
        Lazily, in folder order.
    """
    from fma_pipeline.core.storage import parquet_rows

    return (p for p in root.partition_paths(stored) if parquet_rows(p))


@dataclass(frozen=True)
class AssetFiles:
    """An upstream asset's stored outputs, read on demand: what a downstream asset receives.

    Nothing is loaded until asked, so a downstream asset reads only what it needs — one
    table, a filtered slice (``read(filters=...)``) or one partition at a time
    (``partitions()``) — and FMA-large tables are never held whole.

    Parameters
    ----------
    root : DataRoot
        The data root.
    asset : str
        The producing asset (its first :func:`produced_by` entry is the default table).
    """

    root: DataRoot
    asset: str

    def stored(self, name: str | None = None) -> Stored:
        """The catalogue entry ``name`` of this asset (default: its main table).

        Parameters
        ----------
        name : str or None, default None
            File or folder name of one of the asset's outputs.

        Returns
        -------
        Stored

        Raises
        ------
        KeyError
            If the asset stores nothing, or nothing called ``name``.
        """
        outputs = produced_by(self.asset)
        if not outputs:
            raise KeyError(f"no stored output is produced by asset {self.asset!r}")
        if name is None:
            return outputs[0]
        for stored in outputs:
            if stored.name == name:
                return stored
        raise KeyError(f"asset {self.asset!r} stores {[s.name for s in outputs]}, not {name!r}")

    def path(self, name: str | None = None) -> Path:
        """The file (or partition folder) of output ``name`` of this asset.

        Parameters
        ----------
        name : str or None, default None
            As in :meth:`stored`.

        Returns
        -------
        pathlib.Path

        Raises
        ------
        KeyError
            As :meth:`stored`.
        """
        return self.root.path(self.stored(name))

    def read(self, name: str | None = None, **options):
        """A Parquet table as a DataFrame, a ``.json`` file as its value.

        ``options`` go to :func:`storage.read_parquet`, e.g. ``filters``.

        Parameters
        ----------
        name : str or None, default None
            As in :meth:`stored`.
        **options
            Passed to :func:`storage.read_parquet`.

        Returns
        -------
        pandas.DataFrame or object
            The table, or the decoded JSON.

        Raises
        ------
        FileNotFoundError
            If the file is not stored yet (the message names the asset to materialise).
        KeyError
            As :meth:`stored`.
        """
        import json

        from fma_pipeline.core.storage import read_parquet

        path = self.path(name)
        if not path.exists():
            raise FileNotFoundError(self.root.missing_message(self.stored(name)))
        return json.loads(path.read_text()) if path.suffix == ".json" else read_parquet(path, **options)

    def partitions(self, name: str | None = None):
        """``(folder, DataFrame)`` of each non-empty partition, one at a time.

        Parameters
        ----------
        name : str or None, default None
            As in :meth:`stored`.

        Yields
        ------
        folder : str
            The FMA folder (``"003"``).
        table : pandas.DataFrame
            That partition's table.

        Raises
        ------
        KeyError
            As :meth:`stored`.
        """
        from fma_pipeline.core.storage import read_parquet

        for path in iter_partitions(self.root, self.stored(name)):
            yield path.stem, read_parquet(path)
