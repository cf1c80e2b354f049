"""The IO manager: assets hand their tables to it and receive their upstream assets from it.

Built on the core's catalogue (``core/catalogue.py``), which says where each asset's
outputs live under ``<data root>/pipeline/``. An asset returns either one DataFrame (its
main table) or a ``{file name: value}`` mapping for several outputs (a DataFrame is written
as Parquet, anything else as JSON); every write is atomic. A downstream asset receives an
:class:`~fma_pipeline.core.catalogue.AssetFiles` — the upstream's files, read on demand —
so the asset graph shows exactly what each asset reads, and large inputs (the per-folder
features, the segment matrix) are streamed or read in slices, never loaded whole by Dagster.
Assets that must write as they go (the per-folder extraction, the streamed segment matrix)
write through the same catalogue and return ``MaterializeResult``.
"""


import json
from collections.abc import Mapping

import dagster as dg
import pandas as pd

from fma_pipeline.core.catalogue import AssetFiles, DataRoot, produced_by
from fma_pipeline.core.storage import atomic_path, write_parquet
from fma_pipeline.orchestration.resources import FmaData


class CatalogueIOManager(dg.ConfigurableIOManager):
    """Stores asset outputs where the catalogue says; loads upstream assets as lazy :class:`AssetFiles`.

    The data root is the ``fma`` resource's, so it is set in one place.
    """

    fma: FmaData

    @property
    def root(self) -> DataRoot:
        return self.fma.catalogue

    def handle_output(self, context: dg.OutputContext, obj: object) -> None:
        if obj is None:
            return
        asset = context.asset_key.to_user_string()
        outputs = AssetFiles(self.root, asset)
        values = obj if isinstance(obj, Mapping) else {outputs.stored().name: obj}
        for name, value in values.items():
            path = outputs.path(name)  # KeyError for a file the catalogue does not give this asset
            if isinstance(value, pd.DataFrame):
                write_parquet(value, path)
            else:
                with atomic_path(path) as tmp:
                    tmp.write_text(json.dumps(value, indent=2, default=str))
        context.add_output_metadata({"path": dg.MetadataValue.path(str(outputs.path()))})

    def load_input(self, context: dg.InputContext) -> AssetFiles:
        asset = context.asset_key.to_user_string()
        if not produced_by(asset):
            raise KeyError(f"the catalogue has no stored output of asset {asset!r}")
        return AssetFiles(self.root, asset)
