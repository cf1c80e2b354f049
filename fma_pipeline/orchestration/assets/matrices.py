"""Scaled and PCA feature matrices; transformers are fit on training rows only."""


import dagster as dg
import joblib
import pandas as pd
from pydantic import Field
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from fma_pipeline.core.storage import atomic_path, read_parquet, write_parquet
from fma_pipeline.orchestration.assets.features import feature_matrix
from fma_pipeline.orchestration.resources import FmaData


def _training_ids(fma: FmaData, index: pd.Index) -> pd.Index:
    labels = read_parquet(fma.output("tracks.parquet")).reindex(index)
    return index[(labels["split"].astype(str) != "test").to_numpy()]


def _save(obj: object, path) -> None:
    with atomic_path(path) as tmp:
        joblib.dump(obj, tmp)


@dg.asset(group_name="matrices", deps=[feature_matrix], kinds={"sklearn", "parquet"})
def scaled_features(fma: FmaData) -> dg.MaterializeResult:
    """Standardised features (zero mean, unit variance) with the scaler fit on training rows."""
    matrix = read_parquet(fma.output("feature_matrix.parquet"))
    scaler = StandardScaler().fit(matrix.loc[_training_ids(fma, matrix.index)])
    scaled = pd.DataFrame(scaler.transform(matrix), index=matrix.index, columns=matrix.columns)
    write_parquet(scaled, fma.output("scaled_features.parquet"))
    _save(scaler, fma.output("scaler.joblib"))
    return dg.MaterializeResult(metadata={"dagster/row_count": len(scaled),
                                          "fit_rows": int(scaler.n_samples_seen_)})


class PcaConfig(dg.Config):
    variance: float = Field(default=0.95, gt=0, le=1, description="Share of variance the components keep.")


@dg.asset(group_name="matrices", deps=[scaled_features], kinds={"sklearn", "parquet"})
def pca_features(config: PcaConfig, fma: FmaData) -> dg.MaterializeResult:
    """Principal components of the scaled features keeping ``variance`` of it (fit on training rows)."""
    scaled = read_parquet(fma.output("scaled_features.parquet"))
    pca = PCA(n_components=config.variance, svd_solver="full", random_state=0)
    pca.fit(scaled.loc[_training_ids(fma, scaled.index)])
    columns = [f"pc{i + 1:03d}" for i in range(pca.n_components_)]
    components = pd.DataFrame(pca.transform(scaled), index=scaled.index, columns=columns)
    write_parquet(components, fma.output("pca_features.parquet"))
    _save(pca, fma.output("pca.joblib"))
    explained = pd.Series(pca.explained_variance_ratio_, index=columns)
    write_parquet(explained.to_frame("explained_variance_ratio"), fma.output("pca_explained_variance.parquet"))
    return dg.MaterializeResult(metadata={
        "dagster/row_count": len(components), "components": int(pca.n_components_),
        "explained_variance": float(explained.sum()),
        "first_components": dg.MetadataValue.md(explained.head(10).to_frame("ratio").to_markdown(floatfmt=".3f")),
    })
