"""Small helpers that turn tables into Dagster metadata values."""

from __future__ import annotations

import dagster as dg
import pandas as pd


def markdown_table(frame: pd.DataFrame, floatfmt: str = ".3f", max_rows: int = 40) -> dg.MetadataValue:
    """A DataFrame as a Markdown table for the asset's metadata panel."""
    return dg.MetadataValue.md(frame.head(max_rows).to_markdown(floatfmt=floatfmt))
