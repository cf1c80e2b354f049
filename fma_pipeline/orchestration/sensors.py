"""New audio arrives: a file sensor re-extracts exactly the folders that changed.

``new_tracks_sensor`` fingerprints every FMA folder under the audio archive (the folder's
mtime and its audio files' sorted names, sizes and mtimes, hashed) and compares them with the fingerprints kept in its
cursor (JSON ``{folder: fingerprint}``, stored by the daemon, so it survives restarts).
A folder whose fingerprint changed (files added, changed or removed; a folder that
appeared) gets one run of the ``extract_features`` job for that partition, with
``run_key = "<folder>:<fingerprint>"``: Dagster never launches the same run key twice,
so the same state of a folder is never requested twice even if the cursor were lost.

A folder whose stored features carry another feature definition than the one this version
computes (an upgrade; a changed analysis rate) is stale too, whatever its files: it gets
one run with ``run_key = "<folder>:<fingerprint>:<definition>"``, so each folder is
re-extracted once per definition (its footer is read each tick, a few ms per folder).

Downstream assets then follow through their automation conditions
(:data:`DOWNSTREAM_CONDITION`, evaluated by :data:`downstream_automation_sensor`), and
wait while a blocking check on ``track_features`` fails.

Both sensors start RUNNING, so that while the daemon runs (``fma-pipeline ui`` starts
``dagster dev``), a file dropped into a folder is extracted and the downstream assets
refreshed with no click. ``FMA_AUTOMATION=off`` in the code server's environment makes
them start STOPPED (for a deployment that wants to drive every run itself); a status set
in the UI or with ``dagster sensor start/stop`` overrides either default.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import dagster as dg

from fma_pipeline.core.audio.definition import stored_definition
from fma_pipeline.core import settings
from fma_pipeline.core.catalogue import SEGMENT_FEATURES, TRACK_FEATURES
from fma_pipeline.core.fma.layout import FOLDERS, list_audio_files
from fma_pipeline.orchestration.resources import Extraction, FmaData

EXTRACT_JOB = "extract_features"  # defined in fma_pipeline.definitions


def default_sensor_status() -> dg.DefaultSensorStatus:
    """RUNNING unless ``FMA_AUTOMATION`` is off/0/false (read when the code location loads)."""
    return dg.DefaultSensorStatus.RUNNING if settings.AUTOMATION.read() else dg.DefaultSensorStatus.STOPPED

#: Downstream of ``track_features``: re-run when a dependency updated (or first time, when
#: missing), never while a dependency or the asset itself runs, and only once every
#: blocking check of the dependencies passed. Unlike ``AutomationCondition.eager()`` it
#: does not wait for *every* folder partition to exist: most of FMA's 156 folders may
#: never hold audio in a collection, and the sensor only extracts folders with audio.
DOWNSTREAM_CONDITION = (
    (dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
    & dg.AutomationCondition.all_deps_blocking_checks_passed()
).with_label("downstream_of_features")


def folder_fingerprint(folder: Path) -> str:
    """SHA-1 over the folder's mtime and its audio files' sorted (name, size, mtime_ns); '' when none.

    The folder's own mtime changes whenever an entry is added, removed or renamed, so a folder
    that returns to an earlier file list (a file added, then deleted) still gets a new
    fingerprint, hence a new run key, and is re-extracted.
    """
    entries = []
    for path in list_audio_files(folder):
        try:
            st = path.stat()
            entries.append(f"{path.name}\0{st.st_size}\0{st.st_mtime_ns}")
        except OSError:  # dangling symlink: still a file that extraction must record
            entries.append(f"{path.name}\0-1\0-1")
    if not entries:
        return ""
    try:
        entries.append(f"folder\0{folder.stat().st_mtime_ns}")
    except OSError:
        pass
    return hashlib.sha1("\n".join(entries).encode()).hexdigest()[:16]


def scan_folders(audio_dir: Path) -> dict[str, str]:
    """``{folder: fingerprint}`` for every FMA folder currently holding audio."""
    if not audio_dir.is_dir():
        return {}
    found = {}
    for key in FOLDERS:
        fingerprint = folder_fingerprint(audio_dir / key)
        if fingerprint:
            found[key] = fingerprint
    return found


def changed_folders(previous: dict[str, str], current: dict[str, str]) -> dict[str, str]:
    """Folders whose fingerprint differs; a folder that lost all its audio maps to ''."""
    return {key: current.get(key, "") for key in sorted(set(previous) | set(current))
            if previous.get(key, "") != current.get(key, "")}


def run_key(folder: str, fingerprint: str) -> str:
    return f"{folder}:{fingerprint or 'empty'}"


def stale_definition(fma: FmaData, key: str, definition: str) -> str | None:
    """The other feature definition (``"none"`` before definitions were recorded) that a
    folder's stored features carry, or None when they carry ``definition`` or none are stored
    (an unreadable file is left to the extraction, which recognises damaged outputs)."""
    output = fma.catalogue.partition_path(TRACK_FEATURES, key)
    try:
        found = stored_definition(output)
    except Exception:  # noqa: BLE001 - missing, damaged, not Parquet: not this check's concern
        return None
    return None if found == definition else (found or "none")


def _up_to_date(fma: FmaData, key: str) -> bool:
    """First look at a folder: its output is newer than the folder and every file in it."""
    output = fma.catalogue.partition_path(TRACK_FEATURES, key)
    folder = fma.audio_dir / key
    if not output.is_file():
        return False
    try:
        newest = max([folder.stat().st_mtime_ns, *(p.stat().st_mtime_ns for p in list_audio_files(folder))])
    except OSError:
        return False
    return output.stat().st_mtime_ns > newest


@dg.sensor(
    name="new_tracks_sensor",
    job_name=EXTRACT_JOB,
    minimum_interval_seconds=60,
    default_status=default_sensor_status(),
    description="Re-extract the features of every FMA folder whose audio files were added, "
                "changed or removed (one extract_features run per folder partition).",
)
def new_tracks_sensor(context: dg.SensorEvaluationContext, fma: FmaData, extraction: Extraction) -> dg.SensorResult:
    first_tick = context.cursor is None
    previous: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    current = scan_folders(fma.audio_dir)
    definition = extraction.settings(fma).features.definition
    requests = []
    changed = changed_folders(previous, current)
    for key, fingerprint in changed.items():
        if first_tick and _up_to_date(fma, key) and not stale_definition(fma, key, definition):
            continue  # materialised before the sensor was switched on and unchanged since
        requests.append(dg.RunRequest(
            run_key=run_key(key, fingerprint), partition_key=key,
            tags={"fma/trigger": "new_tracks_sensor", "fma/folder_fingerprint": fingerprint or "empty"}))
    for key, fingerprint in current.items():  # unchanged files, features of another definition
        if key not in changed and stale_definition(fma, key, definition):
            requests.append(dg.RunRequest(
                run_key=f"{run_key(key, fingerprint)}:{definition}", partition_key=key,
                tags={"fma/trigger": "new_tracks_sensor", "fma/folder_fingerprint": fingerprint,
                      "fma/feature_definition": definition}))
    if requests:
        context.log.info(f"{len(requests)} changed folder(s): {', '.join(r.partition_key for r in requests)}")
    return dg.SensorResult(
        run_requests=requests or None,
        cursor=json.dumps(current, sort_keys=True),
        skip_reason=None if requests else dg.SkipReason(f"{len(current)} folder(s) with audio, none changed"),
    )


#: Evaluates :data:`DOWNSTREAM_CONDITION` on the assets downstream of ``track_features``.
downstream_automation_sensor = dg.AutomationConditionSensorDefinition(
    "downstream_automation",
    target=dg.AssetSelection.all() - dg.AssetSelection.assets(TRACK_FEATURES.asset, SEGMENT_FEATURES.asset),
    default_status=default_sensor_status(),
    minimum_interval_seconds=30,
    description="Brings the assets downstream of track_features up to date after new features.",
)
