"""Soak test: materialise every partition again and again, killing runs at random points.

Builds a generated FMA-format data root (the sample, plus injected faults: empty,
truncated, random-bytes, text-as-MP3 and silent files) in a temporary folder. Each run
materialises all 156 ``track_features`` partitions in a subprocess (its own process
group, with a real ``DAGSTER_HOME``); with probability ``--kill-probability`` the whole
group is SIGKILLed after a random delay. Between runs a few clips are re-rendered, so
every run has real work to do and a kill can land in extraction or in a write; and with
probability ``--damage-probability`` one folder's Parquet output is damaged (cut in half, its
last bytes lost or overwritten), which the next completed run must name and rebuild.

After every run it verifies: every partition file that exists is readable; no feature
row of the last good state is lost; after a completed run, feature rows + error rows
= audio files in every folder and every injected fault has a recorded reason.

    .venv/bin/python bench/soak.py --runs 8 --kill-probability 0.5 --seed 1

Then it kills imports (``--import-kills``, at least that many): rounds of ``fma-pipeline
import`` (half of them ``--to-mp3``) into a second data root, each round bringing a batch of
new clips, SIGKILLed at a random time with probability ``--kill-probability``, then imported
again. After every round: no tracks.csv row lost or twice, no row without its audio or with
another clip's audio (by content hash against the manifest); files without a row only while a
killed import's journal is pending; after a completed import every file has its row and every
source clip was imported exactly once.

Prints its figures and exits 0; exits 1 if any check failed (lost rows, unreadable
files, files not accounted for, a run failing without being killed).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

RUNNER = textwrap.dedent("""
    import sys
    from pathlib import Path

    def main():  # guarded: the extraction pool's forkserver imports this file as __mp_main__
        from fma_pipeline.orchestration.instance import dagster_home, fail_dead_runs, process_tags
        root = Path(sys.argv[1])
        dagster_home(root)
        import dagster as dg
        from fma_pipeline.orchestration.assets.features import folder_features
        from fma_pipeline.definitions import resources
        from fma_pipeline.orchestration.resources import Extraction, FmaData
        instance = dg.DagsterInstance.get()
        fail_dead_runs(instance)  # the runs of killed runners, as the CLI does
        print("SOAK materialising", flush=True)  # imports done: a kill from here lands in the run
        result = dg.materialize(
            [folder_features], instance=instance,
            resources=resources(FmaData(data_dir=str(root)), Extraction(workers=int(sys.argv[2]))),
            tags={"dagster/asset_partition_range_start": "000", "dagster/asset_partition_range_end": "155",
                  **process_tags()},
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
        return 0 if result.success else 3

    if __name__ == "__main__":
        sys.exit(main())
""")
MARKER = "SOAK materialising"

#: name -> (how the bytes are made, what the recorded reason must mention)
FAULTS = {
    "empty": "empty file",
    "truncated": "",  # too short or cannot decode, depending on where the cut falls
    "random-bytes": "not a recognised audio format",
    "text-as-mp3": "not a recognised audio format",
    "silent": "silent",
}


def build_root(root: Path, seed: int, tracks_per_genre: int = 3) -> dict[str, tuple[str, str]]:
    """The sample plus one of each fault per folder; returns {folder/name: (fault, reason fragment)}."""
    import soundfile as sf

    from fma_pipeline.core.sample.dataset import SAMPLE_FOLDERS, SampleSpec, generate_sample

    generate_sample(root, SampleSpec(tracks_per_genre=tracks_per_genre, tracks_per_artist=min(2, tracks_per_genre),
                                     seconds=6, sr=22_050, seed=seed))
    audio = root / "fma_small"
    rng = np.random.default_rng(seed)
    donor = max(audio.rglob("*.mp3"), key=lambda p: p.stat().st_size).read_bytes()
    injected: dict[str, tuple[str, str]] = {}
    for folder in SAMPLE_FOLDERS[:5]:
        key = f"{folder:03d}"
        for k, fault in enumerate(FAULTS):
            path = audio / key / f"{folder * 1000 + 901 + 2 * k:06d}.mp3"
            if fault == "empty":
                path.write_bytes(b"")
            elif fault == "truncated":
                path.write_bytes(donor[: len(donor) // 12 + int(rng.integers(0, 500))])
            elif fault == "random-bytes":
                path.write_bytes(rng.bytes(40_000))
            elif fault == "text-as-mp3":
                path.write_text("<html><body>404 Not Found</body></html>\n" * 50)
            elif fault == "silent":
                sf.write(path, np.zeros((22_050 * 8, 1), np.float32), 22_050, format="MP3")
            injected[f"{key}/{path.name}"] = (fault, FAULTS[fault])
    return injected


def mutate(root: Path, rng: random.Random, n: int = 3) -> list[str]:
    """Re-render ``n`` clips that have features (good audio) with new content, atomically."""
    import soundfile as sf

    from fma_pipeline.core.catalogue import TRACK_FEATURES, DataRoot
    from fma_pipeline.core.storage import DamagedFile, atomic_path, read_parquet
    from fma_pipeline.core.sample.engine import render_clip

    good = []
    for path in DataRoot(root).partition_paths(TRACK_FEATURES):
        try:
            good += [root / "fma_small" / path.stem / name for name in read_parquet(path)[("file", "name", "")]]
        except DamagedFile:
            continue  # damaged by the soak, not rebuilt yet
    changed = []
    for path in rng.sample(good, min(n, len(good))):
        clip = render_clip(12, np.random.default_rng(rng.randrange(2**32)), sr=22_050, seconds=6)
        with atomic_path(path) as tmp:
            sf.write(tmp, clip, 22_050, format="MP3", subtype="MPEG_LAYER_III",
                     compression_level=0.65, bitrate_mode="CONSTANT")
        changed.append(f"{path.parent.name}/{path.name}")
    return changed


#: Ways a stored output gets damaged from outside (a full disk, a bad copy, a hand): its bytes cut or overwritten.
DAMAGE = ("cut in half", "last 100 bytes lost", "tail overwritten")


def damage(root: Path, rng: random.Random) -> tuple[str, str]:
    """Damage one random Parquet output of one random folder; returns (folder/file, how)."""
    from fma_pipeline.core.catalogue import SEGMENT_FEATURES, TRACK_FEATURE_ERRORS, TRACK_FEATURES, DataRoot

    outputs = sorted(p for entry in (TRACK_FEATURES, SEGMENT_FEATURES, TRACK_FEATURE_ERRORS)
                     for p in DataRoot(root).partition_paths(entry) if p.stat().st_size > 200)
    path, how = rng.choice(outputs), rng.choice(DAMAGE)
    data = path.read_bytes()
    if how == "cut in half":
        data = data[: len(data) // 2]
    elif how == "last 100 bytes lost":
        data = data[:-100]
    else:
        data = data[:-200] + bytes(rng.randrange(256) for _ in range(200))
    path.write_bytes(data)  # in place, not atomic: damage is not a write of ours
    return f"{path.parent.name}/{path.name}", how


def snapshot(root: Path) -> tuple[dict[str, set[int]], list[str], int]:
    """{folder: feature track ids} of every readable partition file; problems found; duplicate
    rows (a track id twice among a folder's features, a file twice among its error rows, or a
    file both with features and with an error row)."""
    from fma_pipeline.core.catalogue import SEGMENT_FEATURES, TRACK_FEATURE_ERRORS, TRACK_FEATURES, DataRoot
    from fma_pipeline.core.storage import parquet_rows, read_parquet

    ids, names, problems, duplicates = {}, {}, [], 0
    for path in DataRoot(root).partition_paths(TRACK_FEATURES):
        try:
            features = read_parquet(path)
        except Exception as exc:  # noqa: BLE001 - an unreadable file is what we are looking for
            problems.append(f"unreadable {path.name}: {type(exc).__name__}: {exc}")
            continue
        ids[path.stem] = set(int(t) for t in features.index)
        names[path.stem] = set(features[("file", "name", "")])
        duplicates += int(features.index.duplicated().sum())
    for path in DataRoot(root).partition_paths(SEGMENT_FEATURES):
        try:
            parquet_rows(path)  # the footer: where the soak's damage lands (156 full reads cost minutes)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"unreadable segments {path.name}: {type(exc).__name__}: {exc}")
    for path in DataRoot(root).partition_paths(TRACK_FEATURE_ERRORS):
        try:
            errors = read_parquet(path)
        except Exception as exc:  # noqa: BLE001
            problems.append(f"unreadable errors {path.name}: {type(exc).__name__}: {exc}")
            continue
        duplicates += int(errors["name"].duplicated().sum())
        duplicates += len(set(errors["name"]) & names.get(path.stem, set()))
    return ids, problems, duplicates


def unfinished_runs(root: Path) -> dict[str, int]:
    """Runs of the soak's Dagster instance by status, for the statuses of runs not finished."""
    code = ("import collections, json, sys, dagster as dg\n"
            "from fma_pipeline.orchestration.instance import dagster_home\n"
            "dagster_home(sys.argv[1])\n"
            "with dg.DagsterInstance.get() as instance:\n"
            "    print(json.dumps(collections.Counter(r.status.value for r in instance.get_runs())))\n")
    out = subprocess.run([sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=300)
    import json

    counts = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {"(unreadable)": 1}
    return {k: v for k, v in counts.items() if k not in {"SUCCESS", "FAILURE", "CANCELED"}}


def incomplete_folders(root: Path) -> dict[str, str]:
    """Folders whose stored output does not match the audio on disk (missing, stale, short)."""
    from fma_pipeline.core.audio.extraction import file_digest
    from fma_pipeline.core.catalogue import TRACK_FEATURE_ERRORS, TRACK_FEATURES, DataRoot
    from fma_pipeline.core.fma.layout import list_audio_files
    from fma_pipeline.core.storage import DamagedFile, read_parquet

    out = {}
    audio = root / "fma_small"
    for folder in sorted(p for p in audio.iterdir() if p.is_dir()):
        files = list_audio_files(folder)
        fpath = DataRoot(root).partition_path(TRACK_FEATURES, folder.name)
        epath = DataRoot(root).partition_path(TRACK_FEATURE_ERRORS, folder.name)
        if not fpath.exists() or not epath.exists():
            out[folder.name] = "no output"
            continue
        try:
            features, errors = read_parquet(fpath), read_parquet(epath)
        except DamagedFile:
            out[folder.name] = "damaged output"
            continue
        if len(features) + len(errors) != len(files):
            out[folder.name] = f"{len(features)} rows + {len(errors)} error rows for {len(files)} files"
            continue
        names = dict(zip(features[("file", "name", "")], features[("file", "blake2b", "")]))
        stale = [n for n, digest in names.items() if file_digest(folder / n) != digest]
        if stale:
            out[folder.name] = f"{len(stale)} stale row(s)"
    return out


def fault_reasons(root: Path, injected: dict[str, tuple[str, str]]) -> dict[str, str | None]:
    from fma_pipeline.core.catalogue import TRACK_FEATURE_ERRORS, DataRoot
    from fma_pipeline.core.storage import read_parquet

    reasons: dict[str, str] = {}
    for path in DataRoot(root).partition_paths(TRACK_FEATURE_ERRORS):
        for row in read_parquet(path).to_dict("records"):
            reasons[f"{path.stem}/{row['name']}"] = row["reason"]
    return {name: reasons.get(name) for name in injected}


def _new_clips(src: Path, rng: random.Random, n: int, first: int) -> None:
    """``n`` new labelled clips (tone + noise, 3 s) under ``src/<genre>/``: every import round has work."""
    import soundfile as sf

    sr = 22_050
    for k in range(first, first + n):
        noise = np.random.default_rng(rng.randrange(2**32))
        t = np.arange(3 * sr) / sr
        clip = 0.3 * np.sin(2 * np.pi * noise.uniform(80, 3000) * t) + 0.05 * noise.standard_normal(t.size)
        path = src / ["rock", "jazz", "electronic", "folk"][k % 4] / f"clip{k:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, clip.astype(np.float32), sr)


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def import_soak(root: Path, kills: int, kill_probability: float, rng: random.Random) -> tuple[str, list[str]]:
    """Import rounds into ``root/import-root`` until ``kills`` of them were SIGKILLed (and the last
    one completed); returns a summary line and the problems found (see the module docstring)."""
    from fma_pipeline.core.fma.importer import JOURNAL, audit_imports
    from fma_pipeline.core.fma.metadata import read_tracks

    data, src = root / "import-root", root / "import-src"
    started = time.perf_counter()
    problems: list[str] = []
    killed = completed = lost = duplicate = wrong = rounds = clips = 0
    finished_by_next = undone_by_next = 0
    where: dict[str, int] = {}
    rows_before: set[int] = set()
    typical = 1.0  # seconds from the journal's writing to the commit; then the median of completed rounds
    copy_seconds: list[float] = []
    was_killed = False
    while killed < kills or was_killed:
        rounds += 1
        if not was_killed:  # after a kill the same batch is imported again
            _new_clips(src, rng, 16, clips)
            clips += 16
        kill = killed < kills and rng.random() < kill_probability
        argv = [sys.executable, "-m", "fma_pipeline.cli", "--quiet", "--data-dir", str(data), "import", str(src),
                *(["--to-mp3"] if rng.random() < 0.5 else [])]
        log = root / f"import-{rounds}.log"
        with open(log, "w") as handle:
            proc = subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        journal = data / "fma_metadata" / JOURNAL
        left = _inode(journal)  # a killed round's journal, until this round finishes it
        from_start = rng.random() < 0.25  # a quarter of the kills anywhere in the run, the rest while copying
        t0 = time.perf_counter()
        while not from_start and proc.poll() is None and _inode(journal) in (None, left):
            time.sleep(0.01)
        t_copy = time.perf_counter()
        deadline = t_copy + (rng.uniform(0.0, 1.2 * typical + (6.0 if from_start else 0.0)) if kill else 600)
        t_committed = None
        while proc.poll() is None and time.perf_counter() < deadline:
            if t_committed is None and _inode(journal) is None:
                t_committed = time.perf_counter()  # the copies are done and committed
            time.sleep(0.005)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        was_killed = proc.returncode == -signal.SIGKILL
        output = log.read_text(errors="replace")
        if was_killed:
            killed += 1
        elif proc.returncode == 0:
            completed += 1
            if not from_start and t_committed is not None:
                copy_seconds.append(t_committed - t_copy)
                typical = float(np.median(copy_seconds))
            for line in output.splitlines():  # "finished an import that was killed: N file(s) committed, M ..."
                if line.startswith("finished an import that was killed"):
                    numbers = [int(w) for w in line.replace(",", " ").split() if w.isdigit()]
                    finished_by_next, undone_by_next = finished_by_next + numbers[0], undone_by_next + numbers[1]
        else:
            problems.append(f"import {rounds}: exit {proc.returncode}: {output.strip().splitlines()[-1:]}")
        audit = audit_imports(data)
        tracks_csv = data / "fma_metadata" / "tracks.csv"
        rows = {int(t) for t in read_tracks(tracks_csv).index} if tracks_csv.is_file() else set()
        lost += len(rows_before - rows)
        duplicate += len(audit["duplicate_rows"])
        wrong += len(audit["not_its_audio"]) + len(audit["rows_without_file"])
        allowed = {"files_without_row", "no_manifest_row"} if audit["pending"] else set()
        for what, ids in audit.items():
            if ids and what not in allowed | {"pending"}:
                problems.append(f"import {rounds} ({'killed' if was_killed else 'completed'}): {what} {ids[:5]}")
        if not was_killed and proc.returncode == 0:
            if audit["pending"]:
                problems.append(f"import {rounds}: a journal is left after a completed import")
            if len(rows) != clips:
                problems.append(f"import {rounds}: {len(rows)} rows for {clips} source clips")
            stray = list(data.glob("fma_*/*/.tmp-*"))
            if stray:
                problems.append(f"import {rounds}: {len(stray)} stray temporary file(s)")
        if was_killed:  # where the kill landed: before the journal, between it and the commit, after the commit
            landed = ("mid-import" if audit["pending"] else "after its commit" if rows - rows_before
                      else "before its plan")
            where[landed] = where.get(landed, 0) + 1
        rows_before = rows
        state = (f"killed {time.perf_counter() - t0:.1f} s in ({landed}; aimed "
                 f"{'anywhere' if from_start else 'after its journal'}); {len(audit['files_without_row'])} file(s) "
                 "waiting for the next import" if was_killed else f"completed in {time.perf_counter() - t0:.1f} s")
        print(f"import {rounds:2d}: {state}; rows {len(rows)}, files {len(rows) + len(audit['files_without_row'])}")
    summary = (f"imports {rounds} (completed {completed}, killed {killed}: "
               + ", ".join(f"{n} {k}" for k, n in sorted(where.items())) + f"); killed imports' files committed "
               f"by the next {finished_by_next}, partial files removed {undone_by_next}; lost rows {lost}; "
               f"duplicate rows {duplicate}; rows with other or no audio {wrong}; source clips {clips}; "
               f"{time.perf_counter() - started:.0f} s")
    return summary, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--kills", type=int, default=0,
                        help="go on (past --runs) until at least this many runs were killed")
    parser.add_argument("--kill-probability", type=float, default=0.5)
    parser.add_argument("--tracks-per-genre", type=int, default=3, help="size of the generated sample")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--damage-probability", type=float, default=0.3,
                        help="chance, between runs, of damaging one folder's Parquet output (cut, tail lost)")
    parser.add_argument("--minutes", type=float, default=0.0,
                        help="time budget: after it, no new runs but the recovery runs (0: none)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data root")
    parser.add_argument("--import-kills", type=int, default=4,
                        help="then kill imports at random until at least this many were killed (0: none)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="fma-soak-"))
    runner = root / "runner.py"
    runner.write_text(RUNNER)
    injected = build_root(root, args.seed, args.tracks_per_genre)
    print(f"data root {root}: {sum(1 for _ in (root / 'fma_small').rglob('*.mp3'))} files, "
          f"{len(injected)} injected faults; {args.runs} runs (more until {args.kills} killed), "
          f"kill probability {args.kill_probability}")

    killed = completed = failures = recovered = lost_rows = duplicate_rows = 0
    problems: list[str] = []
    last_good: dict[str, set[int]] = {}
    pending_recovery: set[str] = set()
    damaged: list[tuple[str, str]] = []  # (folder/file, how) of every damaged output
    pending_damage: set[str] = set()  # folders whose damaged output no completed run has rebuilt yet
    durations: list[float] = []  # of completed runs, from the start of materialisation to the end
    runs = args.runs
    i = recovery_runs = 0
    was_killed = False
    # the soak ends with a completed run (which also fails the Dagster runs of the killed ones)
    while i < runs or killed < args.kills or pending_recovery or pending_damage or was_killed:
        if args.minutes and time.perf_counter() - started > 60 * args.minutes and not (i >= runs and killed >= args.kills):
            print(f"time budget of {args.minutes:g} min spent: recovery runs only")
            runs, args.kills = i, killed
        last = i >= runs and killed >= args.kills  # an extra run to recover what the last killed run left
        if i > 0:
            mutate(root, rng)
        if i > 0 and rng.random() < args.damage_probability:
            damaged.append(damage(root, rng))
            pending_damage.add(damaged[-1][0].split("/")[1][:3])
            print(f"         damaged {damaged[-1][0]} ({damaged[-1][1]})")
        kill = not last and i > 0 and rng.random() < args.kill_probability
        typical = float(np.median(durations)) if durations else 10.0
        # the kill lands at a random point of the run proper (the runner's imports excluded)
        delay = rng.uniform(0.05, max(0.5, typical)) if kill else None
        t0 = time.perf_counter()
        log = root / f"run-{i + 1}.log"
        with open(log, "w") as log_handle:  # a file, not a pipe: a full pipe would block the run
            proc = subprocess.Popen([sys.executable, str(runner), str(root), str(args.workers)], cwd=root,
                                    stdout=log_handle, stderr=subprocess.STDOUT, start_new_session=True)
        while proc.poll() is None and MARKER not in log.read_text(errors="replace"):
            time.sleep(0.02)
        t_run = time.perf_counter()
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the run and its worker processes, as a crash would
            proc.wait()
        stderr = log.read_text(errors="replace")
        seconds, run_seconds = time.perf_counter() - t0, time.perf_counter() - t_run
        was_killed = proc.returncode == -signal.SIGKILL
        ids, found, duplicates = snapshot(root)
        if proc.returncode != 0:  # a killed run may not have reached the damaged folder yet
            found = [p for p in found if not any(f"{key}.parquet" in p for key in pending_damage)]
        problems += [f"run {i + 1}: {p}" for p in found]
        if duplicates:
            duplicate_rows += duplicates
            problems.append(f"run {i + 1}: {duplicates} duplicate row(s)")
        for key, before in last_good.items():
            if proc.returncode != 0 and key in pending_damage and key not in ids:
                continue  # unreadable until a run rebuilds it: checked after the next completed run
            lost = before - ids.get(key, set())
            if lost:
                lost_rows += len(lost)
                problems.append(f"run {i + 1}: folder {key} lost {len(lost)} row(s): {sorted(lost)[:5]}")
        if was_killed:
            killed += 1
            behind = set(incomplete_folders(root))
            pending_recovery |= behind
            status = (f"killed {run_seconds:.1f} s into the run ({seconds:.1f} s after its start); "
                      f"{len(behind)} folder(s) behind their audio")
        elif proc.returncode == 0:
            completed += 1
            durations.append(run_seconds)
            behind = incomplete_folders(root)
            for key, what in behind.items():
                problems.append(f"run {i + 1}: folder {key} not accounted for after a completed run: {what}")
            recovered += len(pending_recovery - set(behind))
            pending_recovery &= set(behind)
            pending_damage.clear()  # every damaged output must be rebuilt now (snapshot checked it)
            last_good = ids
            status = f"completed in {seconds:.1f} s"
        else:
            failures += 1
            problems.append(f"run {i + 1}: exit {proc.returncode}: {stderr.strip().splitlines()[-1:]}")
            status = f"FAILED (exit {proc.returncode})"
        from fma_pipeline.core.catalogue import DataRoot

        stray = len(list(DataRoot(root).pipeline_dir.rglob(".tmp-*")))
        print(f"run {i + 1:2d}{' (recovery)' if last else ''}: {status}; stray temp files {stray}")
        i += 1
        recovery_runs += last
        if recovery_runs >= 3 and (pending_recovery or pending_damage or was_killed):
            problems.append("could not recover within 3 extra runs")
            break

    reasons = fault_reasons(root, injected)
    unaccounted = [n for n, r in reasons.items() if i and (not r or injected[n][1] not in r)]  # i = 0: --runs 0
    print("\nfault              folder/file              recorded reason")
    for name, (fault, _) in sorted(injected.items(), key=lambda kv: kv[1][0]):
        print(f"  {fault:16s} {name:24s} {reasons[name]}")
    features = sum(len(v) for v in last_good.values())
    unfinished = unfinished_runs(root)  # every killed run's Dagster run is failed by a later runner
    if unfinished:
        problems.append(f"Dagster runs left unfinished: {unfinished}")
    print(f"\nruns {i} (completed {completed}, killed {killed}, failures {failures}); "
          f"recovered partitions {recovered}; lost rows {lost_rows}; duplicate rows {duplicate_rows}; "
          f"Dagster runs left unfinished {sum(unfinished.values())}; feature rows {features}; "
          f"faults accounted for {len(injected) - len(unaccounted)}/{len(injected)}; "
          f"damaged outputs {len(damaged)} (rebuilt {len(damaged) - len(pending_damage)}); "
          f"stray temp files at end {len(list((root / 'pipeline').rglob('.tmp-*')))}; "
          f"{time.perf_counter() - started:.0f} s")
    for name in unaccounted:
        problems.append(f"fault {name} ({injected[name][0]}) has no matching reason: {reasons[name]!r}")
    if args.import_kills:
        summary, found = import_soak(root, args.import_kills, args.kill_probability, rng)
        print(summary)
        problems += found
    for problem in problems:
        print("PROBLEM", problem)
    if args.keep:
        print(f"kept {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if problems or failures else 0


if __name__ == "__main__":
    sys.exit(main())
