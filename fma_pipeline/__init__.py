"""fma-pipeline: can music genre be assigned automatically?

Layers (dependencies point down only):
- ``fma_pipeline.core``: FMA dataset knowledge, audio features, learning. No Dagster.
- ``fma_pipeline.orchestration``: the thin Dagster shell (assets, checks, resources ...).
- ``fma_pipeline.cli``: the ``fma-pipeline`` command over both.
"""

__version__ = "0.1.0"
