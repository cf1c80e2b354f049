"""Incremental, parallel, fault-tolerant feature extraction for FMA audio folders.

A folder's previous result is the cache: a file whose name, size and mtime are
unchanged is reused without being read; a file whose size or mtime changed is hashed,
and reused if its content hash is unchanged. Only new or changed files are decoded.
Rows of removed files are dropped. A file that cannot be used (corrupt, empty,
truncated, not audio, too short, silent, unreadable, not named by a track id) becomes
an error row with its reason; it never fails the folder. An unchanged failed file is
not retried: its error row is carried forward.

With ``settings.segments`` set (the default), each decoded clip also yields the
statistics of its short windows (segment-level learning): the frame series are computed
once and each window is a slice of them. A folder's segment table is cached like its
features; a reused file whose windows are not in the previous segment table (output of
an older version) is extracted again, and so is every file of a folder whose previous
table has other feature columns (written by a version with a different feature set).

Every table written carries the feature definition it was computed with
(:attr:`~fma_pipeline.core.audio.features.FeatureConfig.definition`, in the Parquet metadata
as ``DataFrame.attrs``, see :mod:`~fma_pipeline.core.audio.definition`). A folder whose
previous tables carry another definition, or none (versions before it), is extracted again
from scratch: its rows mean something else. Audio is analysed at each file's native rate
unless the configuration fixes a rate (another definition, ``...@<sr>``).

Anything that is not a regular file (a named pipe, a device) is recorded and skipped before
it is opened. Each file has a time limit (``ExtractionSettings.file_timeout``): a decode
that stalls is interrupted in its worker, and a worker that does not answer within the
limit plus a grace period is killed; either way the file gets an error row.

Parallelism is a process pool across all files of all folders in one call
(:func:`fma_pipeline.core.audio.workers.worker_pool`: one BLAS thread per worker, workers die with
the process that made them), with numba's JIT cache kept on disk so workers start warm. Files are
submitted folder by folder, so folders finish one after another, and each folder's result
is handed over (``on_folder``) as soon as its last file is done: a caller that commits it
there keeps every finished folder if the call dies later.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import functools
import os
import stat
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fma_pipeline.core.audio.decode import AudioLimits, file_kind
from fma_pipeline.core.audio.definition import DEFINITION_ATTR, NONE_RECORDED, definition_attrs
from fma_pipeline.core.audio.features import FeatureConfig, feature_columns
from fma_pipeline.core.audio.file_worker import MACHINE_ERROR, configure_process_env, file_digest
from fma_pipeline.core.audio.file_worker import extract_file as _extract_file
from fma_pipeline.core.audio.windows import SegmentConfig, empty_segments, segment_frame
from fma_pipeline.core.failures import is_machine_reason
from fma_pipeline.core.fma.layout import list_audio_files, printable, track_id_from_path
from fma_pipeline.core.audio.warmup import compile_lock, warm_numba_cache
from fma_pipeline.core.audio.workers import kill_workers, worker_pool

FILE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("file", "name", ""), ("file", "size", ""), ("file", "mtime_ns", ""), ("file", "blake2b", ""),
    ("file", "seconds", ""),
)
#: The duration column: seconds of audio analysed (after the ``max_seconds`` cut), so a short
#: clip says so in its row. Tables of earlier versions lack it; their rows are reused with NaN.
SECONDS_COLUMN = FILE_COLUMNS[4]
ERROR_COLUMNS: tuple[str, ...] = (
    "track_id", "folder", "name", "path", "reason", "exception_class", "at", "size", "mtime_ns",
)
#: Error rows of these classes say nothing about the file: retried, not carried forward.
RETRIED_ERRORS = frozenset({"BrokenProcessPool", MACHINE_ERROR})
#: Below this many files to decode, a pool's start-up costs more than it saves.
_MIN_FILES_FOR_POOL = 3


@dataclass(frozen=True)
class ExtractionSettings:
    """How to extract: feature parameters, audio limits, workers, numba cache folder.

    Parameters
    ----------
    features : FeatureConfig, default FeatureConfig()
        Analysis parameters of the features.
    limits : AudioLimits, default AudioLimits()
        What counts as usable audio.
    workers : int or None, default None
        Worker processes; None: one per core.
    segments : SegmentConfig or None, default SegmentConfig()
        Windows whose statistics are extracted too; None: no window statistics.
    numba_cache_dir : pathlib.Path or None, default None
        numba's on-disk JIT cache, shared by the workers (``NUMBA_CACHE_DIR`` wins when set).
    file_timeout : float, default 300.0
        Seconds one file may take (decode and features); a 10-minute file takes well under
        a minute on one core. A worker silent for this plus :data:`KILL_GRACE_SECONDS` is killed.
    """

    features: FeatureConfig = FeatureConfig()
    limits: AudioLimits = AudioLimits()
    workers: int | None = None  # None: one per core
    segments: SegmentConfig | None = SegmentConfig()  # None: no window statistics
    numba_cache_dir: Path | None = None
    #: Seconds one file may take (decode and features); a 10-minute file takes well under a
    #: minute on one core. A worker silent for this plus :data:`KILL_GRACE_SECONDS` is killed.
    file_timeout: float = 300.0

    @property
    def n_workers(self) -> int:
        """Worker processes to use: ``workers``, or the number of cores; at least 1.

        Returns
        -------
        int
        """
        return max(1, self.workers or os.cpu_count() or 1)


@dataclass
class FolderResult:
    """One folder's features (one row per track) and errors (one row per failed file).

    Parameters
    ----------
    features : pandas.DataFrame
        One row per track (index ``track_id``): the file bookkeeping columns, then the 708 features.
    errors : pandas.DataFrame
        One row per failed file, columns :data:`ERROR_COLUMNS`.
    segments : pandas.DataFrame, default empty_segments()
        Window statistics, one row per ``(track_id, segment)``.
    reused : int, default 0
        Files whose previous rows were kept without decoding.
    extracted : int, default 0
        Files decoded and extracted successfully.
    failed : int, default 0
        Error rows (new and carried forward).
    removed : int, default 0
        Tracks of the previous result whose file is gone.
    seconds : float, default 0.0
        Wall time from the start of the call to this folder's completion.
    files : int, default 0
        Audio files listed in the folder.
    changed : bool, default True
        False: identical to the previous output, no need to rewrite it.
    """

    features: pd.DataFrame
    errors: pd.DataFrame
    segments: pd.DataFrame = field(default_factory=empty_segments)  # (track_id, segment) rows
    reused: int = 0
    extracted: int = 0
    failed: int = 0
    removed: int = 0
    seconds: float = 0.0
    files: int = 0
    changed: bool = True  # False: identical to the previous output, no need to rewrite it

    def counts(self) -> dict[str, int | float]:
        """The folder's counters, for logs and run metadata.

        Returns
        -------
        dict of str to int or float
            ``files``, ``reused``, ``extracted``, ``failed``, ``removed`` and ``seconds``.
        """
        return {"files": self.files, "reused": self.reused, "extracted": self.extracted,
                "failed": self.failed, "removed": self.removed, "seconds": round(self.seconds, 3)}


def empty_features() -> pd.DataFrame:
    """A features table with no rows and the full column set.

    Returns
    -------
    pandas.DataFrame
    """
    return _empty_features_template().copy()


@functools.cache
def _empty_features_template() -> pd.DataFrame:
    columns = pd.MultiIndex.from_tuples(list(FILE_COLUMNS) + list(feature_columns()),
                                        names=feature_columns().names)
    dtypes = {**{c: np.float32 for c in feature_columns()}, FILE_COLUMNS[0]: object,
              FILE_COLUMNS[1]: np.int64, FILE_COLUMNS[2]: np.int64, FILE_COLUMNS[3]: object,
              SECONDS_COLUMN: np.float32}
    data = {c: pd.Series(dtype=dtypes[c]) for c in columns}
    return pd.DataFrame(data, columns=columns, index=pd.Index([], name="track_id", dtype=np.int64))


def empty_errors() -> pd.DataFrame:
    """An errors table with no rows and the columns :data:`ERROR_COLUMNS`.

    Returns
    -------
    pandas.DataFrame
    """
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in ERROR_COLUMNS})
    return frame.astype({"size": np.int64, "mtime_ns": np.int64, "track_id": "Int64"})


@dataclass
class _Task:
    folder: str
    path: Path
    track_id: int
    size: int
    mtime_ns: int


@dataclass
class _Plan:
    folder: str
    keep: list[pd.DataFrame] = field(default_factory=list)
    keep_segments: list[pd.DataFrame] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)
    tasks: list[_Task] = field(default_factory=list)
    reused: int = 0
    removed: int = 0
    files: int = 0
    changed: bool = False  # anything differs from the previous output
    stale: str | None = None  # the other definition of the previous output, which was discarded


def _error_row(folder: str, path: Path, track_id: int | None, reason: str, exc_class: str,
               size: int = -1, mtime_ns: int = -1) -> dict:
    return {"track_id": track_id, "folder": folder, "name": printable(path.name), "path": printable(path),
            "reason": reason, "exception_class": exc_class,
            "at": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
            "size": size, "mtime_ns": mtime_ns}


def _plan_folder(folder: str, path: Path, previous: pd.DataFrame | None,
                 previous_errors: pd.DataFrame | None, previous_segments: pd.DataFrame | None = None,
                 segments: bool = False, *, definition: str) -> _Plan:
    """Decide per file: reuse, carry an error forward, or extract."""
    template = _empty_features_template()
    stale = next((t.attrs.get(DEFINITION_ATTR) or NONE_RECORDED for t in (previous, previous_errors,
                  previous_segments) if t is not None and t.attrs.get(DEFINITION_ATTR) != definition), None)
    if stale:  # computed with another definition: every row means something else, extract all again
        previous = previous_errors = previous_segments = None
    if previous is not None and SECONDS_COLUMN not in previous.columns:  # an earlier version's table
        previous = previous.copy()
        previous.insert(len(FILE_COLUMNS) - 1, SECONDS_COLUMN, np.float32("nan"))
    if previous is not None and list(previous.columns) != list(template.columns):
        previous = previous_segments = None  # another version's feature set: extract every file again
    # a missing (or damaged, so dropped) table is rewritten even when no file needs decoding
    plan = _Plan(folder, changed=previous is None or previous_errors is None
                 or (segments and previous_segments is None), stale=stale)
    windows = (previous_segments.groupby(level="track_id") if segments and previous_segments is not None
               and len(previous_segments) else None)
    with_windows = set() if windows is None else set(windows.groups)
    prev = previous if previous is not None and len(previous) else None
    by_name = {} if prev is None else {n: tid for tid, n in prev[FILE_COLUMNS[0]].items()}
    prev_errors = {} if previous_errors is None else {
        row["name"]: row for row in previous_errors.to_dict("records")}
    seen_ids: dict[int, str] = {}
    current_names: set[str] = set()
    for file in list_audio_files(path):
        plan.files += 1
        name = printable(file.name)  # as stored: bytes that are not UTF-8 escaped
        current_names.add(name)
        try:
            st = file.stat()
        except OSError as exc:  # dangling symlink, loop, deleted since listing
            plan.errors.append(_error_row(folder, file, track_id_from_path(file),
                                          f"cannot read file: {exc.strerror or exc}",
                                          type(exc).__name__))
            continue
        track_id = track_id_from_path(file)
        if not stat.S_ISREG(st.st_mode):  # a named pipe would block the reader for ever
            plan.errors.append(_error_row(folder, file, track_id, f"not a regular file ({file_kind(st.st_mode)})",
                                          "NotARegularFile", st.st_size, st.st_mtime_ns))
            continue
        if name != file.name:  # one such name once failed the whole folder's write
            plan.errors.append(_error_row(folder, file, None, "file name is not valid UTF-8 (its bad bytes "
                                          "are shown escaped)", "NameError", st.st_size, st.st_mtime_ns))
            continue
        if track_id is None:
            plan.errors.append(_error_row(folder, file, None, "file name is not an FMA track id",
                                          "NameError", st.st_size, st.st_mtime_ns))
            continue
        if track_id in seen_ids:
            plan.errors.append(_error_row(folder, file, track_id,
                                          f"duplicate track id (also {seen_ids[track_id]})",
                                          "DuplicateTrack", st.st_size, st.st_mtime_ns))
            continue
        seen_ids[track_id] = file.name
        old_error = prev_errors.get(name)
        # A crashed worker or a failure of the machine (disk full...) says nothing about the file:
        # such rows are retried, every other error carried.
        if (old_error is not None and old_error["exception_class"] not in RETRIED_ERRORS
                and not is_machine_reason(str(old_error["reason"]))
                and (old_error["size"], old_error["mtime_ns"]) == (st.st_size, st.st_mtime_ns)):
            plan.errors.append(old_error)
            continue
        if file.name in by_name:
            old_id = by_name[file.name]
            row = prev.loc[[old_id]]
            unchanged = (int(row[FILE_COLUMNS[1]].iloc[0]), int(row[FILE_COLUMNS[2]].iloc[0])) == (
                st.st_size, st.st_mtime_ns)
            if not unchanged and int(row[FILE_COLUMNS[1]].iloc[0]) == st.st_size:
                try:
                    unchanged = file_digest(file) == row[FILE_COLUMNS[3]].iloc[0]
                except OSError:
                    unchanged = False
                if unchanged:
                    row = row.copy()
                    row[FILE_COLUMNS[2]] = st.st_mtime_ns
                    plan.changed = True
            if unchanged and segments and old_id not in with_windows:
                unchanged = False  # its windows are missing: decode it once more
            if unchanged:
                plan.keep.append(row)
                if segments:
                    plan.keep_segments.append(windows.get_group(old_id))
                plan.reused += 1
                continue
        plan.tasks.append(_Task(folder, file, track_id, st.st_size, st.st_mtime_ns))
    plan.removed = len(set(by_name) - current_names)
    carried = sum(1 for e in plan.errors if e.get("name") in prev_errors and e is prev_errors[e["name"]])
    plan.changed = (plan.changed or bool(plan.tasks) or plan.removed > 0
                    or carried != len(plan.errors) or carried != len(prev_errors))
    return plan


#: A worker that has not answered ``file_timeout`` plus this many seconds after its last
#: answer is killed: its own alarm (see :class:`~fma_pipeline.core.audio.file_worker._time_limit`) did not fire in stalled C code.
KILL_GRACE_SECONDS = 30.0


def _run_tasks(tasks: list[_Task], settings: ExtractionSettings,
               progress: Callable[[int], None] | None, on_done: Callable[[int, tuple], None],
               log: Callable[[str], None] | None = None) -> None:
    """Extract every task, calling ``on_done(index, outcome)`` as each finishes.

    In a pool when it pays; tasks are submitted in order, so the pool works through them in
    order. A crashed worker costs only its files. If ``on_done`` raises, queued tasks are
    cancelled (only the files in flight finish) and the exception propagates.
    """
    configure_process_env(settings)
    if len(tasks) < _MIN_FILES_FOR_POOL or settings.n_workers == 1:
        for i, task in enumerate(tasks):
            # the first file compiles numba's functions into the shared cache: one process at a time
            with compile_lock(settings) if i == 0 else contextlib.nullcontext():
                outcome = _extract_file(str(task.path), settings.features, settings.limits, settings.segments,
                                        settings.file_timeout)
            if progress:
                progress(1)
            on_done(i, outcome)
        return
    warm_numba_cache(settings, log=log)  # numba#10128: one cold compile before the pool's workers load the cache
    finished: set[int] = set()
    pending = list(range(len(tasks)))
    isolate = False
    patience = settings.file_timeout + KILL_GRACE_SECONDS if settings.file_timeout else None
    while pending:
        workers = 1 if isolate else min(settings.n_workers, len(pending))
        with worker_pool(workers) as pool:
            try:
                futures = {pool.submit(_extract_file, str(tasks[i].path), settings.features, settings.limits,
                                       settings.segments, settings.file_timeout): i
                           for i in (pending[:1] if isolate else pending)}
                broken = stalled = False
                waiting = set(futures)
                while waiting:
                    done, waiting = cf.wait(waiting, timeout=patience, return_when=cf.FIRST_COMPLETED)
                    if not done:  # no worker answered for too long: stalled in C code, beyond its alarm
                        stalled = True
                        kill_workers(pool)
                        continue
                    for future in done:
                        i = futures[future]
                        try:
                            outcome = future.result()
                        except cf.process.BrokenProcessPool:
                            broken = True
                            if not isolate:  # retried below, one file per pool
                                continue
                            outcome = ((False, None, f"no result after {patience:g} s: the stalled worker was killed",
                                        "Timeout", 0.0) if stalled else
                                       (False, None, "decoder crashed the worker process", "BrokenProcessPool", 0.0))
                        finished.add(i)
                        if progress:
                            progress(1)
                        on_done(i, outcome)
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # do not decode the queued files first
                raise
        pending = [i for i in pending if i not in finished]
        isolate = isolate or broken


def _folder_result(plan: _Plan, done: list[tuple[_Task, tuple]], with_segments: bool,
                   started: float, attrs: dict[str, str]) -> FolderResult:
    """One folder's tables from its plan (reused rows, carried errors) and its extracted files;
    each table's ``attrs`` are ``attrs`` (:func:`definition_attrs`)."""
    template = _empty_features_template()
    ids, rows, windows = [], [], {}
    for task, (ok, vectors, info, exc_class, seconds) in done:
        if ok:
            ids.append(task.track_id)
            rows.append([task.path.name, task.size, task.mtime_ns, info, seconds, *vectors[0].tolist()])
            if with_segments:
                windows[task.track_id] = vectors[1:]
        else:
            plan.errors.append(_error_row(plan.folder, task.path, task.track_id, info, exc_class,
                                          task.size, task.mtime_ns))
    fresh = pd.DataFrame(rows, columns=template.columns, index=pd.Index(ids, name="track_id", dtype=np.int64))
    parts = [p for p in [*plan.keep, fresh] if len(p)]
    features = pd.concat(parts).astype(template.dtypes.to_dict()).sort_index() if parts else empty_features()
    errors = pd.DataFrame(plan.errors, columns=list(ERROR_COLUMNS)) if plan.errors else empty_errors()
    errors = errors.astype({"size": np.int64, "mtime_ns": np.int64, "track_id": "Int64"}).sort_values(
        "name", ignore_index=True)
    segment_parts = [p for p in [*plan.keep_segments, segment_frame(windows)] if len(p)]
    segments = pd.concat(segment_parts).sort_index() if segment_parts else empty_segments()
    for table in (features, errors, segments):
        table.attrs = dict(attrs)
    return FolderResult(features=features, errors=errors, segments=segments, reused=plan.reused,
                        extracted=len(ids), failed=len(plan.errors), removed=plan.removed, files=plan.files,
                        changed=plan.changed, seconds=time.perf_counter() - started)


def extract_folders(
    folders: dict[str, Path],
    previous: dict[str, tuple[pd.DataFrame | None, ...]] | None = None,
    settings: ExtractionSettings = ExtractionSettings(),
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    on_folder: Callable[[str, FolderResult], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> dict[str, FolderResult]:
    """Extract several folders with one pool; ``previous[key] = (features, errors[, segments])``.

    ``on_folder(key, result)`` is called once per folder as soon as its last file is done
    (first the folders with nothing to decode, then the others one after another, as the
    pool works through the files folder by folder), so the caller can commit each folder
    before the rest finish. If it raises, extraction stops and the exception propagates.
    ``log`` gets the rare lines worth a warning (a corrupt numba cache cleared). Extraction
    owns its process set-up: the worker environment, the numba warm-up and the compile lock.

    Parameters
    ----------
    folders : dict of str to pathlib.Path
        Folder key (``000`` …) to the folder holding its audio files.
    previous : dict of str to tuple of (pandas.DataFrame or None, ...) or None, default None
        A folder's previous ``(features, errors[, segments])``, the cache; missing: extract all.
    settings : ExtractionSettings, default ExtractionSettings()
        How to extract.
    progress : Callable[[int], None] or None, default None
        Called with 1 after each decoded file.
    on_total : Callable[[int], None] or None, default None
        Called once with the number of files to decode.
    on_folder : Callable[[str, FolderResult], None] or None, default None
        Called with each folder's key and result as soon as the folder is done.
    log : Callable[[str], None] or None, default None
        Receives the rare lines worth a warning.

    Returns
    -------
    dict of str to FolderResult
        Every folder's result, in the order of ``folders``.
    """
    started = time.perf_counter()
    previous = previous or {}
    with_segments = settings.segments is not None
    definition = settings.features.definition
    plans = {key: _plan_folder(key, path, *previous.get(key, (None, None)), segments=with_segments,
                               definition=definition) for key, path in folders.items()}
    stale = {key: plan.stale for key, plan in plans.items() if plan.stale}
    if stale and log:
        log(f"{len(stale)} folder(s) hold features of another definition ({', '.join(sorted(set(stale.values())))}); "
            f"extracting them again as {definition}: {', '.join(stale)}")
    tasks = [t for plan in plans.values() for t in plan.tasks]  # folder by folder
    if on_total:
        on_total(len(tasks))
    remaining = {key: len(plan.tasks) for key, plan in plans.items()}
    done: dict[str, list[tuple[_Task, tuple]]] = {key: [] for key in plans}
    results: dict[str, FolderResult] = {}

    def finish(key: str) -> None:
        results[key] = _folder_result(plans[key], done.pop(key), with_segments, started,
                                      definition_attrs(settings.features))
        if on_folder:
            on_folder(key, results[key])

    def file_done(i: int, outcome: tuple) -> None:
        task = tasks[i]
        done[task.folder].append((task, outcome))
        remaining[task.folder] -= 1
        if not remaining[task.folder]:
            finish(task.folder)

    for key in [k for k, n in remaining.items() if not n]:
        finish(key)
    _run_tasks(tasks, settings, progress, file_done, log)
    return {key: results[key] for key in folders}


def extract_folder(path: Path, previous: pd.DataFrame | None = None,
                   previous_errors: pd.DataFrame | None = None,
                   settings: ExtractionSettings = ExtractionSettings(),
                   previous_segments: pd.DataFrame | None = None) -> FolderResult:
    """Extract one folder (see :func:`extract_folders`).

    Parameters
    ----------
    path : pathlib.Path
        The folder; its name is the folder key.
    previous : pandas.DataFrame or None, default None
        The folder's previous features table.
    previous_errors : pandas.DataFrame or None, default None
        The folder's previous errors table.
    settings : ExtractionSettings, default ExtractionSettings()
        How to extract.
    previous_segments : pandas.DataFrame or None, default None
        The folder's previous segment table.

    Returns
    -------
    FolderResult
    """
    return extract_folders({Path(path).name: Path(path)},
                           {Path(path).name: (previous, previous_errors, previous_segments)}, settings)[Path(path).name]


def feature_values(features: pd.DataFrame) -> pd.DataFrame:
    """Only the 708 feature columns of a features table (drops the file bookkeeping).

    Parameters
    ----------
    features : pandas.DataFrame
        A features table (as in :attr:`FolderResult.features`).

    Returns
    -------
    pandas.DataFrame
    """
    return features.loc[:, feature_columns()]


__all__: Iterable[str] = ("ExtractionSettings", "FolderResult", "extract_folders", "extract_folder",
                          "feature_values", "empty_features", "empty_errors")
