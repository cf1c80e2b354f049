"""Which ``track_features`` partitions need a re-run, and why; and re-running them as one backfill.

A folder partition is picked when

- ``failed``: its latest materialisation attempt failed (Dagster's per-partition status,
  which also covers runs over a range of folders);
- ``output missing``: it was materialised but ``pipeline/track_features/NNN.parquet`` is gone;
- ``never materialised``: it has no materialisation while its folder holds audio;
- ``stale``: its stored features carry another feature definition than ``definition``
  (an upgrade, a changed analysis rate; see :mod:`fma_pipeline.core.audio.definition`);
- ``output damaged``: one of its stored files cannot be read (cut short, overwritten); the
  re-run treats it as missing and rebuilds it.

Partitions in progress are left alone (a run whose process was killed is not in progress:
the CLI first marks it failed, see :func:`~fma_pipeline.orchestration.instance.fail_dead_runs`). :func:`run_backfill` re-runs the picked partitions
in-process through the local instance, one run per contiguous range of folders (at most
:func:`~fma_pipeline.orchestration.partitions.partitions_per_run` folders that hold audio per
run, 40 unless ``FMA_PARTITIONS_PER_RUN`` says otherwise; empty folders ride along), every run tagged ``fma/backfill=<id>``;
:func:`launch_backfill_via_webserver` instead creates a real asset backfill through a
running webserver's ``launchPartitionBackfill`` GraphQL mutation (the daemon runs it).
"""

from __future__ import annotations

import json
import re
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby

import dagster as dg

from fma_pipeline.core.catalogue import SEGMENT_FEATURES, TRACK_FEATURE_ERRORS, TRACK_FEATURES
from fma_pipeline.core.fma.layout import FOLDERS, list_audio_files
from fma_pipeline.core.storage import DamagedFile, parquet_rows
from fma_pipeline.orchestration.partitions import folder_partitions, partitions_per_run
from fma_pipeline.orchestration.resources import FmaData
from fma_pipeline.orchestration.sensors import stale_definition


@dataclass(frozen=True)
class BackfillCandidate:
    partition: str
    reason: str


#: What ``--partitions`` accepts, for messages.
PARTITIONS_SYNTAX = "a folder 000-155, a range such as 010-020, or a comma list such as 001,005-007"


def parse_partitions(spec: str | None) -> list[str]:
    """``"010-020"`` / ``"005"`` / ``"001,003,010-012"`` -> folder keys, sorted (``None``: all 156).

    Strict: anything else raises ``ValueError`` with one line saying what was probably meant,
    rather than selecting something else (``47`` once selected every folder: no key equals it).

    Parameters
    ----------
    spec : str or None
        Folder keys (three digits, ``000``-``155``), ranges ``A-B`` with ``A <= B``, comma-separated.

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        For anything that is not a folder, a range or a list of them.
    """
    if spec is None:
        return list(FOLDERS)
    keys: set[str] = set()
    for item in spec.split(","):
        item = item.strip()
        ends = [e.strip() for e in re.split(r"-|\.\.\.?", item)] if item else []
        if not item or not 1 <= len(ends) <= 2 or not all(e.isdigit() for e in ends):
            what = f"{item!r} is not a folder or a range" if item else "an empty item"
            raise ValueError(f"{what} in {spec!r}: expected {PARTITIONS_SYNTAX}")
        for end in ends:
            if end not in FOLDERS:
                hint = f"did you mean {int(end):03d}?" if int(end) < len(FOLDERS) else "FMA's folders are 000-155"
                raise ValueError(f"{end} is not a folder: {hint} (expected {PARTITIONS_SYNTAX})")
        start, end = ends[0], ends[-1]
        if len(ends) == 2 and (start > end or not re.fullmatch(r"\d+-\d+", item.replace(" ", ""))):
            meant = f"{min(start, end)}-{max(start, end)}"
            why = f"{start} comes after {end}" if start > end else "a range is written A-B"
            raise ValueError(f"{item} is not a range: {why}; did you mean {meant}?")
        keys.update(f for f in FOLDERS if start <= f <= end)
    return sorted(keys)


def find_backfill_partitions(instance: dg.DagsterInstance, fma: FmaData, partitions: list[str] | None = None,
                             definition: str | None = None) -> list[BackfillCandidate]:
    """The partitions of ``track_features`` (within ``partitions``) that need a re-run, with why
    (with ``definition``, also those whose stored features carry another)."""

    keys = partitions or list(FOLDERS)
    status = instance.get_status_by_partition(dg.AssetKey(TRACK_FEATURES.asset), keys, folder_partitions) or {}
    audio_dir = fma.audio_dir
    found = []
    for key in keys:
        state = status.get(key)
        output = fma.catalogue.partition_path(TRACK_FEATURES, key)
        if state == dg.AssetPartitionStatus.IN_PROGRESS:
            continue
        if state == dg.AssetPartitionStatus.FAILED:
            found.append(BackfillCandidate(key, "failed: the latest materialisation attempt failed"))
        elif state == dg.AssetPartitionStatus.MATERIALIZED and not output.is_file():
            found.append(BackfillCandidate(
                key, f"output missing: {output.relative_to(fma.root)} is gone"))
        elif damaged := _damaged_output(fma, key):
            found.append(BackfillCandidate(key, f"output damaged: {damaged}"))
        elif state is None and (files := len(list_audio_files(audio_dir / key))):
            found.append(BackfillCandidate(key, f"never materialised: the folder holds {files} audio file(s)"))
        elif definition and (other := stale_definition(fma, key, definition)):
            found.append(BackfillCandidate(key, f"stale: features of definition {other}, this version "
                                                f"computes {definition}"))
    return found


def _damaged_output(fma: FmaData, key: str) -> str | None:
    """Which of the folder's stored files cannot be read (from its footer: cheap), and why."""
    for stored in (TRACK_FEATURES, TRACK_FEATURE_ERRORS, SEGMENT_FEATURES):
        path = fma.catalogue.partition_path(stored, key)
        try:
            if path.is_file():
                parquet_rows(path)
        except DamagedFile as exc:
            return f"{path.relative_to(fma.root)} cannot be read ({exc.reason})"
    return None


def contiguous_chunks(keys: list[str], size: int | None = None,
                      holds_audio: Callable[[str], bool] | None = None) -> list[list[str]]:
    """Runs of consecutive folder keys, each cut to at most ``size`` keys (default: the folders
    per in-process run, :func:`partitions_per_run`).

    With ``holds_audio``, only folders that hold audio count towards ``size``: an empty
    folder costs a run ~0.05 s, while every extra run costs seconds of start-up (a process
    pool, numba's cache loaded in each worker). The sample's 7 folders among 156 are then
    one run instead of four; FMA's folders, all full, are cut exactly as without it.
    """
    size = size or partitions_per_run(in_process=True)
    index = {k: i for i, k in enumerate(FOLDERS)}
    chunks = []
    for _, group in groupby(enumerate(sorted(keys, key=index.__getitem__)), lambda p: index[p[1]] - p[0]):
        chunk, counted = [], 0
        for key in (k for _, k in group):
            weight = 1 if holds_audio is None or holds_audio(key) else 0
            if chunk and counted + weight > size:
                chunks.append(chunk)
                chunk, counted = [], 0
            chunk.append(key)
            counted += weight
        chunks.append(chunk)
    return chunks


@dataclass
class BackfillOutcome:
    backfill_id: str
    runs: list[tuple[list[str], str, bool]]  # (partitions, run id, success)

    @property
    def success(self) -> bool:
        return all(ok for *_, ok in self.runs)


def materialise_features(instance: dg.DagsterInstance, keys: list[str], resources: dict,
                         run_config: dict | None = None, tags: dict[str, str] | None = None,
                         raise_on_error: bool = False) -> list[tuple[list[str], str, bool]]:
    """Materialise ``track_features`` (with its checks, scoped to each run's folders) for
    ``keys`` in this process, one run per contiguous chunk (one process pool per run).

    Every run carries this process's pid and host (a killed run is failed later, see
    :func:`~fma_pipeline.orchestration.instance.fail_dead_runs`) and ``tags``. The CLI's
    ``materialise`` and :func:`run_backfill` both run features this way.

    Returns
    -------
    list of (chunk, run id, success)
    """
    from fma_pipeline.orchestration.assets.features import folder_features
    from fma_pipeline.orchestration.checks import feature_checks
    from fma_pipeline.orchestration.instance import process_tags

    fma = resources.get("fma")
    holds_audio = None if fma is None else (lambda key: bool(list_audio_files(fma.audio_dir / key)))
    runs = []
    for chunk in contiguous_chunks(keys, holds_audio=holds_audio):
        run_tags = {**(tags or {}), "dagster/asset_partition_range_start": chunk[0],
                    "dagster/asset_partition_range_end": chunk[-1], **process_tags()}
        result = dg.materialize([folder_features, *feature_checks], instance=instance, resources=resources,
                                run_config=run_config, tags=run_tags, raise_on_error=raise_on_error)
        runs.append((chunk, result.run_id, result.success))
    return runs


def run_backfill(instance: dg.DagsterInstance, keys: list[str], resources: dict,
                 run_config: dict | None = None) -> BackfillOutcome:
    """Materialise ``track_features`` for ``keys`` in-process as one backfill: every run
    tagged ``fma/backfill=<id>``; a failed run does not stop the next."""
    backfill_id = uuid.uuid4().hex[:8]
    runs = materialise_features(instance, keys, resources, run_config, tags={"fma/backfill": backfill_id})
    return BackfillOutcome(backfill_id=backfill_id, runs=runs)


LAUNCH_BACKFILL = """
mutation LaunchBackfill($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionKeysNotFoundError { message }
    ... on UnauthorizedError { message }
    ... on InvalidSubsetError { message }
  }
}
"""


def graphql(url: str, query: str, variables: dict | None = None, timeout: float = 60.0) -> dict:
    """POST a GraphQL query to ``<url>/graphql``; returns ``data`` or raises with the errors."""
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(url.rstrip("/") + "/graphql", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        payload = json.load(response)
    if payload.get("errors"):
        raise RuntimeError(f"GraphQL errors: {payload['errors']}")
    return payload["data"]


def launch_backfill_via_webserver(url: str, keys: list[str], title: str = "fma-pipeline backfill --failed") -> str:
    """Create one asset backfill of ``track_features`` for ``keys``; the daemon launches its runs."""
    # both assets of the one extraction (a non-subsettable multi-asset)
    params = {"assetSelection": [{"path": [TRACK_FEATURES.asset]}, {"path": [SEGMENT_FEATURES.asset]}], "partitionNames": list(keys),
              "title": title, "tags": [{"key": "fma/trigger", "value": "backfill --failed"}]}
    result = graphql(url, LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    if result["__typename"] != "LaunchBackfillSuccess":
        raise RuntimeError(f"launchPartitionBackfill: {result['__typename']}: {result.get('message')}")
    return result["backfillId"]
