"""Scaled and PCA feature matrices, for clustering, the 2-D maps and the report.

Transformers are fit on training rows only. The classifiers do not read these tables:
each of their Pipelines refits its own scaler and PCA inside every cross-validation fold
(on the same training rows), so nothing leaks from held-out folds; the fitted scaler and
PCA here are therefore not stored (they would be a second copy nobody loads).
"""


import dagster as dg
import pandas as pd
from pydantic import Field
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from fma_pipeline.core.catalogue import PCA_EXPLAINED_VARIANCE, PCA_FEATURES, AssetFiles
from fma_pipeline.core.learning.models import PCA_VARIANCE
from fma_pipeline.core.learning.selection import is_test


def _training_rows(tracks: AssetFiles, index: pd.Index) -> pd.Index:
    return index[~is_test(tracks.read().reindex(index))]


@dg.asset(group_name="matrices", kinds={"sklearn", "parquet"})
def scaled_features(tracks: AssetFiles, feature_matrix: AssetFiles) -> dg.Output:
    """Standardised features (zero mean, unit variance) with the scaler fit on training rows."""
    matrix = feature_matrix.read()
    scaler = StandardScaler().fit(matrix.loc[_training_rows(tracks, matrix.index)])
    scaled = pd.DataFrame(scaler.transform(matrix), index=matrix.index, columns=matrix.columns)
    return dg.Output(scaled, metadata={"dagster/row_count": len(scaled), "fit_rows": int(scaler.n_samples_seen_)})


class PcaConfig(dg.Config):
    variance: float = Field(default=PCA_VARIANCE, gt=0, le=1, description="Share of variance the components keep.")


@dg.asset(group_name="matrices", kinds={"sklearn", "parquet"})
def pca_features(config: PcaConfig, tracks: AssetFiles, scaled_features: AssetFiles) -> dg.Output:
    """Principal components of the scaled features keeping ``variance`` of it (fit on training rows)."""
    scaled = scaled_features.read()
    pca = PCA(n_components=config.variance, svd_solver="full", random_state=0)
    pca.fit(scaled.loc[_training_rows(tracks, scaled.index)])
    columns = [f"pc{i + 1:03d}" for i in range(pca.n_components_)]
    components = pd.DataFrame(pca.transform(scaled), index=scaled.index, columns=columns)
    explained = pd.Series(pca.explained_variance_ratio_, index=columns)
    return dg.Output({PCA_FEATURES.name: components,
                      PCA_EXPLAINED_VARIANCE.name: explained.to_frame("explained_variance_ratio")}, metadata={
        "dagster/row_count": len(components), "components": int(pca.n_components_),
        "explained_variance": float(explained.sum()),
        "first_components": dg.MetadataValue.md(explained.head(10).to_frame("ratio").to_markdown(floatfmt=".3f")),
    })
