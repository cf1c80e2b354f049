"""FMA's 156 audio folders as static partitions: track 000002 lives in folder ``000``."""

import dagster as dg

from fma_pipeline.core.fma import FOLDERS

folder_partitions = dg.StaticPartitionsDefinition(list(FOLDERS))
