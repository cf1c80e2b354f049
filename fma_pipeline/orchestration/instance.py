"""The local Dagster instance: ``DAGSTER_HOME`` under the data root, configured by the project."""

from __future__ import annotations

import os
from pathlib import Path

DAGSTER_YAML = """\
# Written by fma-pipeline; edit freely, it is not overwritten once present.
telemetry:
  enabled: false
run_queue:
  max_concurrent_runs: 2
run_retries:
  enabled: true
  max_retries: 1
storage:
  sqlite:
    base_dir: {base_dir}
"""


def dagster_home(data_dir: Path) -> Path:
    """``<data root>/.dagster`` with the project's ``dagster.yaml``; sets ``DAGSTER_HOME``."""
    home = Path(data_dir).resolve() / ".dagster"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML.format(base_dir=home / "storage"))
    os.environ["DAGSTER_HOME"] = str(home)
    return home
