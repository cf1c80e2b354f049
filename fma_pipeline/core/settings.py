"""Settings defined once: documented dataclass fields, and the registry of environment variables.

The core's settings (``TrainingConfig``, ``SubgenreConfig``, ``ClusterConfig``,
``LabelConfig``) are plain frozen dataclasses; the Dagster shell derives its run-config
classes from them (same names, defaults and descriptions), so a setting is defined once,
in the core. The ``FMA_*`` environment variables, the user's way in for where things live
and how a deployment runs, are declared below (:data:`ENV_SETTINGS`), each with its
default, parser and documentation.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def documented(default, doc: str):
    """A dataclass field with a default and the documentation the Dagster config shows.

    Parameters
    ----------
    default : int, float, str, bool or tuple
        The field's default (immutable: lists become tuples in the core).
    doc : str
        What the setting does and why its default.

    Returns
    -------
    dataclasses.Field
        The field, with ``doc`` in its metadata.

    Examples
    --------
    >>> @dataclasses.dataclass(frozen=True)
    ... class Demo:
    ...     k: int = documented(2, "Smallest k.")
    >>> field_doc(Demo, "k")
    'Smallest k.'
    """
    return dataclasses.field(default=default, metadata={"doc": doc})


def field_doc(settings: type, name: str) -> str:
    """The documentation of field ``name`` of dataclass ``settings`` ('' when it has none).

    Parameters
    ----------
    settings : type
        A dataclass.
    name : str
        One of its fields.

    Returns
    -------
    str

    Raises
    ------
    KeyError
        If ``settings`` has no field ``name``.
    """
    return settings.__dataclass_fields__[name].metadata.get("doc", "")


# --- Environment variables ------------------------------------------------------------
#
# Every ``FMA_*`` variable the package reads is declared here once: its name, its default,
# how its text becomes a value (with a one-line error naming the variable) and what it does.
# Code reads a variable only through :meth:`EnvSetting.read`; docs/configuration.md's table
# is :func:`environment_table` (fma_pipeline_tests/test_settings.py checks both).


@dataclasses.dataclass(frozen=True)
class EnvSetting:
    """One environment variable: name, default, parser and documentation.

    Parameters
    ----------
    name : str
        The variable (``FMA_…``).
    default : str
        The text used when the variable is unset or blank.
    parse : Callable[[str], object]
        Turns the (stripped) text into the value; raises ``ValueError`` with a one-line reason.
    doc : str
        What it does (one sentence or two; shown in docs/configuration.md).
    default_doc : str
        The default as the docs show it, when ``default`` alone would not say it.
    """

    name: str
    default: str
    parse: Callable[[str], Any]
    doc: str
    default_doc: str = ""

    def read(self, environ: Mapping[str, str] | None = None) -> Any:
        """The variable's value: parsed from ``environ`` (default ``os.environ``), else the default.

        Parameters
        ----------
        environ : Mapping[str, str] or None, default None
            Where to look; None = the process environment.

        Returns
        -------
        object
            What :attr:`parse` makes of the text.

        Raises
        ------
        ValueError
            One line naming the variable and the text when it cannot be parsed.

        Examples
        --------
        >>> AUTOMATION.read({"FMA_AUTOMATION": "off"}), AUTOMATION.read({})
        (False, True)
        """
        text = (os.environ if environ is None else environ).get(self.name, "").strip() or self.default
        try:
            return self.parse(text)
        except ValueError as exc:
            raise ValueError(f"{self.name}={text!r}: {exc}") from None


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < minimum:
            raise ValueError(f"expected a whole number >= {minimum}")
        return int(text)
    return parse


def _switch(text: str) -> bool:
    return text.lower() not in {"off", "0", "false", "no"}


DATA_DIR = EnvSetting(
    "FMA_DATA_DIR", "data", lambda text: Path(text).resolve(),
    "The data root: FMA's inputs, `pipeline/` outputs, MLflow's store and `.dagster/`. The CLI's "
    "`--data-dir` overrides it.", "`./data`")
MLFLOW_TRACKING_URI = EnvSetting(
    "FMA_MLFLOW_TRACKING_URI", "", lambda text: text or None,
    "An MLflow tracking URI (a team's server or PostgreSQL) used by every command and asset; "
    "artifacts then go where that server keeps them.", "SQLite under the data root")
EXTRACTION_WORKERS = EnvSetting(
    "FMA_EXTRACTION_WORKERS", "0", _count(0),
    "Processes per extraction run; 0 = one per core. 1 inside Celery workers, which scale out by runs.")
PARTITIONS_PER_RUN = EnvSetting(
    "FMA_PARTITIONS_PER_RUN", "", lambda text: _count(1)(text) if text else None,
    "Folders per extraction run of a backfill (an integer >= 1).", "40; 1 with `FMA_EXECUTOR=celery`")
EXECUTOR = EnvSetting(
    "FMA_EXECUTOR", "", str.lower,
    "`celery` runs every step on Dagster's Celery executor (the team server).", "Dagster's default")
AUTOMATION = EnvSetting(
    "FMA_AUTOMATION", "on", _switch,
    "`off`/`0`/`false`/`no` make the sensors start stopped (read when the code location loads).")
RESCAN_CRON = EnvSetting(
    "FMA_RESCAN_CRON", "0 3 * * 0", str,
    "Cron of `rescan_schedule`, which re-scans every folder with audio (Sundays 03:00 UTC by default).")

#: Every environment variable the package reads, in the order the docs list them.
ENV_SETTINGS: tuple[EnvSetting, ...] = (DATA_DIR, MLFLOW_TRACKING_URI, EXTRACTION_WORKERS, PARTITIONS_PER_RUN,
                                        EXECUTOR, AUTOMATION, RESCAN_CRON)


def environment_table() -> str:
    """The Markdown table of :data:`ENV_SETTINGS` that docs/configuration.md shows.

    Returns
    -------
    str
        One row per variable: name, default, what it does.
    """
    rows = ["| variable | default | what it does |", "|---|---|---|"]
    for setting in ENV_SETTINGS:
        default = setting.default_doc or f"`{setting.default}`"
        rows.append(f"| `{setting.name}` | {default} | {setting.doc} |")
    return "\n".join(rows)
