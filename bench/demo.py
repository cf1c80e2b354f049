"""Where the demo's time goes: a plain command that prints figures (never a test).

    python bench/demo.py [--data-dir DIR] [--keep]

Runs ``fma-pipeline --data-dir DIR --quiet demo`` on a fresh data root (DIR is emptied
first unless ``--keep``) and samples the CPU time of its whole process tree (the CLI, the
rendering and extraction pools, joblib's workers) every 0.2 s from ``/proc``. Afterwards it
splits the run into stages by the Dagster event log (each step's start and end) and the
sample's metadata file (rendering ends when ``fma_metadata/tracks.csv`` is written), and
prints per stage: wall seconds, CPU seconds of the process tree, and CPU / cores (the
stage's wall time on a quiet machine if it kept every core busy: a lower bound; a stage
that runs on one core takes its CPU seconds).

On a shared machine wall time is inflated by the other processes; CPU time is not (much),
so the estimate is what to compare across runs. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


def _tree_cpu(pid: int) -> dict[int, float]:
    """CPU seconds (user + system) of ``pid`` and each descendant alive now."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / TICK
    tree, todo = {}, [pid]
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    while todo:
        p = todo.pop()
        if p in cpu:
            tree[p] = cpu[p]
        todo += children.get(p, [])
    return tree


class Sampler(threading.Thread):
    """Samples the process tree's cumulative CPU seconds (every process ever seen, at its
    last sample) with a wall clock, until stopped."""

    def __init__(self, pid: int, interval: float = 0.2):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.last: dict[tuple[int, float], float] = {}
        self.series: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        starts: dict[int, float] = {}
        while not self.stop.is_set():
            now = time.time()
            for pid, seconds in _tree_cpu(self.pid).items():
                starts.setdefault(pid, now)
                self.last[(pid, starts[pid])] = seconds
            self.series.append((now, sum(self.last.values())))
            self.stop.wait(self.interval)

    def cpu_between(self, start: float, end: float) -> float:
        def at(t: float) -> float:
            before = [c for w, c in self.series if w <= t]
            return before[-1] if before else 0.0
        return at(end) - at(start)


def _steps(data_dir: Path) -> list[tuple[str, float, float]]:
    """``(step, start, end)`` of every step of every run in the data root's Dagster instance."""
    os.environ["DAGSTER_HOME"] = str(data_dir / ".dagster")
    import dagster as dg

    instance = dg.DagsterInstance.get()
    found = []
    for run in reversed(instance.get_runs()):
        starts = {}
        for record in instance.all_logs(run.run_id):
            event = record.dagster_event
            if event is None or not record.step_key:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                starts[record.step_key] = record.timestamp
            elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                found.append((record.step_key, starts.get(record.step_key, record.timestamp), record.timestamp))
    return sorted(found, key=lambda s: s[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/fma-bench-demo"))
    parser.add_argument("--keep", action="store_true", help="do not empty the data root first")
    args = parser.parse_args()
    data_dir = args.data_dir.resolve()
    if data_dir.exists() and not args.keep:
        shutil.rmtree(data_dir)
    cores = os.cpu_count() or 1
    load = os.getloadavg()
    cli = Path(sys.executable).parent / "fma-pipeline"
    argv = [str(cli), "--data-dir", str(data_dir), "--quiet", "demo"]
    print(f"$ {' '.join(argv)}\n{cores} cores; load average before: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    started = time.time()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    sampler = Sampler(process.pid)
    sampler.start()
    rendered = None
    tracks_csv = data_dir / "fma_metadata" / "tracks.csv"
    output = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    while process.poll() is None:
        if rendered is None and tracks_csv.exists():
            rendered = time.time()
        time.sleep(0.1)
    reader.join()
    ended = time.time()
    sampler.stop.set()
    sampler.join()
    if process.returncode:
        print(b"".join(output).decode(errors="replace")[-3000:])
        print(f"demo failed with exit code {process.returncode}")
        return 1
    stages = [("rendering the sample", started, rendered or started)]
    steps = _steps(data_dir)
    for step, start, end in steps:
        stages.append((step, start, end))
    total_cpu = sampler.cpu_between(started, ended)
    print(f"\n{'stage':<44} {'wall s':>8} {'CPU s':>8} {'CPU/cores':>10}")
    accounted = 0.0
    for name, start, end in stages:
        wall, cpu = end - start, sampler.cpu_between(start, end)
        accounted += wall
        if wall >= 0.5 or cpu >= 0.5:
            print(f"{name:<44} {wall:8.1f} {cpu:8.1f} {cpu / cores:10.1f}")
    other = (ended - started) - accounted
    other_cpu = total_cpu - sum(sampler.cpu_between(s, e) for _, s, e in stages)
    print(f"{'between stages (start-up, run set-up, printing)':<44} {other:8.1f} {other_cpu:8.1f}")
    print(f"{'total':<44} {ended - started:8.1f} {total_cpu:8.1f}")
    print(f"CPU / {cores} cores = {total_cpu / cores:.1f} s: the wall time of a quiet machine if every stage kept "
          f"all cores busy (a lower bound); load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
