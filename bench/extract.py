"""Benchmark of feature extraction: a plain command that prints figures (never a test).

    python bench/extract.py [--audio DIR] [--clips N] [--compare M] [--repeats R] [--seconds 30] [--sr 44100]
    python bench/extract.py --incremental [--audio DIR] [--repeats R] [--seconds 30] [--sr 44100]

Default mode, on the same clips in one run:
- one core, on the first ``--compare`` clips: CPU time per clip, from the file, of the
  project (decode + the 708 features + the 3 s windows' statistics) and of FMA's
  ``features.py`` making its own calls (``fma_pipeline_tests/reference_features.py``,
  ``librosa.load(sr=None)``, the same windows summarised with scipy), their ratio, and
  per feature family the worst column's median relative difference between the two;
- end to end (hash + decode + features + windows) through ``extract_folders`` with 1 and
  2 workers on all ``--clips``: steady throughput, pool start-up (printed separately),
  peak memory per worker, and what that means for FMA medium (25,000 clips) and large
  (106,574), from the measured rate and from CPU time per clip.
Item 4 of issue #21: ``python bench/extract.py --clips 200``.
``--incremental``: a 100-clip folder extracted once, then the time to re-materialise it
unchanged and with one new clip.

Clips: generated 44.1 kHz stereo MP3s (``fma_pipeline.core.sample.engine`` when it exists,
else tones + a beat + noise), or the audio files of ``--audio DIR``. Prints PASS/MISS
beside each target and always exits 0.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import importlib.util
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

# One thread of numerical code per process, like the extraction workers, so that the
# one-core figures are one core. Must precede the first numpy import.
from fma_pipeline.core.audio.workers import THREAD_VARS, single_threaded_env  # imports no numpy

single_threaded_env()

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
AUDIO_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg", ".oga")

# Targets: (description, threshold); compared in the code that prints them.
TARGET_SPEEDUP = 3.0  # project vs features.py's own calls, CPU time per clip, one core
STRETCH_SPEEDUP = 4.0
TARGET_FAMILY_RTOL = 1e-4  # per family, the worst column's median relative difference from features.py
TARGET_MEDIUM_MINUTES = 30  # FMA medium extracted with 2 workers
FMA_SIZES = {"medium": 25_000, "large": 106_574}
TARGET_CLIPS_PER_S_2W = round(FMA_SIZES["medium"] / (60 * TARGET_MEDIUM_MINUTES), 1)  # 13.9: medium in 30 min
TARGET_UNCHANGED_S = 2.0  # re-materialise an unchanged 100-clip folder
TARGET_NEW_FILE_S = 2.0  # plus one clip's extraction
TARGET_WORKER_MB = 400.0  # peak RSS per worker
TARGET_SEGMENT_RATIO = 1.10  # segment windows: "nearly free" beside the clip statistics


# ----------------------------------------------------------------------------- clips

def _fallback_clip(rng: np.random.Generator, sr: int, seconds: float) -> np.ndarray:
    """A random stereo clip: a chord progression with harmonics, a beat, noise."""
    n = int(seconds * sr)
    t = np.arange(n) / sr
    bar = rng.uniform(1.5, 3.0)  # seconds per chord
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    y = np.zeros(n)
    for start in np.arange(0, seconds, bar):
        span = (t >= start) & (t < start + bar)
        degree = rng.choice([0, 3, 5, 7, 8, 10])
        for step in (0, rng.choice([3, 4]), 7, rng.choice([10, 11, 12])):
            f = root * 2 ** ((degree + step) / 12)
            for k in range(1, 5):
                y[span] += rng.uniform(0.05, 0.15) / k * np.sin(2 * np.pi * k * f * t[span])
    beat_period = 60.0 / rng.uniform(80, 160)
    since = t % beat_period
    y += rng.uniform(0.3, 0.7) * np.sin(2 * np.pi * rng.uniform(45, 70) * since) * np.exp(-since * 20)
    hat = np.convolve(rng.standard_normal(n), [1, -1], mode="same")
    y += rng.uniform(0.02, 0.1) * hat * np.exp(-((t + beat_period / 2) % beat_period) * 60)
    pan = rng.uniform(0.3, 0.7)
    noise = rng.uniform(0.005, 0.05)
    clip = np.stack([y * pan + noise * rng.standard_normal(n),
                     y * (1 - pan) + noise * rng.standard_normal(n)], axis=1)
    return (0.9 * clip / np.abs(clip).max()).astype(np.float32)


def _render(args: tuple[int, int, float, str]) -> str:
    """Worker: render clip ``index`` and write it as a 128 kbps MP3 (like FMA's)."""
    import soundfile as sf

    index, seed, seconds, path = args
    rng = np.random.default_rng([seed, index])
    sr = 44_100
    if importlib.util.find_spec("fma_pipeline.core.sample.engine") is not None:
        from fma_pipeline.core.sample.engine import render_clip
        from fma_pipeline.core.sample.styles import STYLES

        genres = list(STYLES)
        clip = render_clip(genres[index % len(genres)], rng, sr=sr, seconds=seconds)
    else:
        clip = _fallback_clip(rng, sr, seconds)
    sf.write(path, clip, sr, format="MP3", compression_level=0.65, bitrate_mode="CONSTANT")
    return path


def generator_name() -> str:
    if importlib.util.find_spec("fma_pipeline.core.sample.engine") is not None:
        return "fma_pipeline.core.sample.engine.render_clip"
    return "built-in tones + beat + noise"


def fma_name(index: int, suffix: str) -> str:
    return f"{index + 2:06d}{suffix}"  # 000002.mp3, 000003.mp3, ...


def generate_clips(folder: Path, indices: range, seconds: float, seed: int = 7) -> list[Path]:
    """MP3s named like FMA's in ``folder``, rendered in parallel."""
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(i, seed, seconds, str(folder / fma_name(i, ".mp3"))) for i in indices]
    with cf.ProcessPoolExecutor(os.cpu_count() or 1, mp_context=multiprocessing.get_context("fork")) as pool:
        return [Path(p) for p in pool.map(_render, jobs)]


def link_clips(sources: list[Path], folder: Path, count: int, start: int = 0) -> list[Path]:
    """Symlink ``count`` clips (cycling through ``sources``) into ``folder`` under FMA names."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(start, start + count):
        source = sources[i % len(sources)]
        link = folder / fma_name(i, source.suffix.lower())
        link.symlink_to(source.resolve())
        out.append(link)
    return out


def real_clips(audio_dir: Path, count: int | None) -> list[Path]:
    files = sorted(p for p in audio_dir.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        sys.exit(f"no audio files in {audio_dir}")
    if count is None or count >= len(files):
        return files
    picks = np.linspace(0, len(files) - 1, count).round().astype(int)  # spread over genres
    return [files[i] for i in picks]


# ----------------------------------------------------------------------------- measuring

def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def worker_pids() -> list[int]:
    """Pool workers: our grandchildren (forkserver workers are the forkserver's children)."""
    from fma_pipeline.core.procfs import children_by_parent

    children = children_by_parent()
    return sorted(pid for child in children.get(os.getpid(), []) for pid in children.get(child, []))


def peak_rss_mb(pid: int) -> float | None:
    """Peak resident memory (VmHWM) of a live process, from /proc."""
    from fma_pipeline.core.procfs import status_kib

    kib = status_kib(pid, "VmHWM")
    return None if kib is None else kib / 1024


class Recorder:
    """Progress callback: completion times, and each live worker's peak RSS.

    Workers stay alive until the pool closes, so their VmHWM read at the last
    completion covers all their work. (getrusage(RUSAGE_CHILDREN) cannot see them:
    forkserver workers are the forkserver's children, not ours.)
    """

    def __init__(self, pool: bool):
        self.pool = pool
        self.started = time.perf_counter()
        self.done: list[float] = []
        self.pids: list[int] = []
        self.peaks: dict[int, float] = {}

    def __call__(self, n: int) -> None:
        now = time.perf_counter() - self.started
        self.done.extend([now] * n)
        if self.pool:
            if not self.pids:
                self.pids = worker_pids()
            for pid in self.pids:
                mb = peak_rss_mb(pid)
                if mb is not None:
                    self.peaks[pid] = max(mb, self.peaks.get(pid, 0.0))


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def fmt_col(column: tuple[str, str, str]) -> str:
    return ".".join(column)


# ----------------------------------------------------------------------------- modes

def one_core(paths: list[Path], config, repeats: int) -> tuple[dict[str, list[float]], object, object]:
    """CPU time per clip of the project and of features.py's own calls, each from the file:
    decode + the 708 features + the 3 s windows' statistics. Passes alternate, so that
    load from other processes hits both alike. Returns the times and the clip tables."""
    import pandas as pd

    from fma_pipeline.core.audio.decode import decode
    from fma_pipeline.core.audio.features import feature_columns, frame_series, summarise, window_bounds
    from fma_pipeline.core.audio.windows import SegmentConfig, segment_rows
    from fma_pipeline_tests import reference_features as reference

    segments = SegmentConfig()
    length, hop = segments.frames(config)

    def project(path: Path) -> np.ndarray:
        series = frame_series(decode(path, sr=config.sr), config)
        segment_rows(series, segments, config)
        return summarise(series)

    def features_py(path: Path) -> np.ndarray:
        x, sr = reference.load(path)  # librosa.load(path, sr=None, mono=True)
        if sr != config.sr:
            sys.exit(f"{path.name} is {sr} Hz; run with --sr {sr} (FMA's features are at the file's rate)")
        series = reference.reference_series(x, sr)
        frames = series["spectral_centroid"].shape[1]
        reference.reference_window_features(series, window_bounds(frames, length, hop))
        return reference.reference_summary(series).to_numpy()

    runs = {"project": project, "features.py": features_py}
    for run in runs.values():  # numba JIT / caches / filter banks, not timed
        run(paths[0])
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    tables: dict[str, list[np.ndarray]] = {name: [] for name in runs}
    for repeat in range(repeats):
        for name, run in runs.items():
            for path in paths:
                started = time.process_time()
                row = run(path)
                cpu[name].append(time.process_time() - started)
                if repeat == 0:
                    tables[name].append(np.asarray(row, dtype=np.float64))
    frames = {name: pd.DataFrame(np.stack(rows), columns=feature_columns()) for name, rows in tables.items()}
    return cpu, frames["project"], frames["features.py"]


def mode_throughput(args, tmp: Path) -> None:
    from fma_pipeline.core.audio.decode import decode
    from fma_pipeline.core.audio.extraction import ExtractionSettings, extract_folders
    from fma_pipeline.core.audio.features import FeatureConfig
    from fma_pipeline_tests.reference_features import family_differences

    config = FeatureConfig(sr=args.sr)
    folder = tmp / "000"
    if args.audio:
        sources = real_clips(args.audio, args.clips)
        paths = link_clips(sources, folder, len(sources))
        print(f"clips: {len(paths)} real files from {args.audio} (symlinked as {paths[0].name}...)")
    else:
        started = time.perf_counter()
        paths = generate_clips(folder, range(args.clips), args.seconds)
        print(f"clips: {len(paths)} generated MP3s, {args.seconds:g} s 44.1 kHz stereo 128 kbps "
              f"({generator_name()}; {time.perf_counter() - started:.1f} s to make, not timed)")
    n = len(paths)
    decode_s, seconds = [], []
    for p in paths[:args.compare]:
        started = time.process_time()
        seconds.append(decode(p, sr=config.sr).size / config.sr)
        decode_s.append(time.process_time() - started)
    print(f"audio: {statistics.mean(seconds):.1f} s per clip on average (min {min(seconds):.1f}, max "
          f"{max(seconds):.1f}); analysis at {config.sr} Hz; decode {1e3 * statistics.median(decode_s):.1f} ms CPU")

    compare = paths[:args.compare]
    cpu, fast, ref = one_core(compare, config, args.repeats)
    project_ms, reference_ms = (1e3 * statistics.median(cpu[k]) for k in ("project", "features.py"))
    ratio = reference_ms / project_ms
    print(f"\n== one core, CPU time per clip: decode + 708 features + 3 s windows' statistics, "
          f"median of {args.repeats} alternating passes over {len(compare)} clips")
    print(f"project                      {project_ms:7.1f} ms/clip")
    print(f"features.py's calls (exact)  {reference_ms:7.1f} ms/clip   (fma_pipeline_tests/reference_features.py)")
    print(f"speed-up (CPU time)          {ratio:7.2f} x   target >= {TARGET_SPEEDUP:g} x  "
          f"{verdict(ratio >= TARGET_SPEEDUP)}   stretch >= {STRETCH_SPEEDUP:g} x  "
          f"{verdict(ratio >= STRETCH_SPEEDUP)}")
    table = family_differences(fast, ref)
    worst = table["worst_median"].max()
    print(f"agreement with features.py, per family: the worst column's median relative difference over "
          f"{len(compare)} clips (target <= {TARGET_FAMILY_RTOL:g}: {verdict(worst <= TARGET_FAMILY_RTOL)})")
    for family, row in table.iterrows():
        print(f"  {family:20s} {row['worst_median']:9.2e}  ({row['column']}; largest single {row['max']:.2e})")

    # end to end through extract_folders
    cache = tmp / "numba-cache"
    per_clip = project_ms / 1e3
    print(f"\n== end to end (hash + decode + features + windows) through extract_folders, {n} clips")
    results = {}
    for workers in (1, 2):
        settings = ExtractionSettings(features=config, workers=workers, numba_cache_dir=cache)
        if workers > 1:  # start a pool once on 3 files so every later worker loads a warm cache
            warm = tmp / "warm"
            link_clips(paths[:3], warm, 3)
            started = time.perf_counter()
            extract_folders({"warm": warm}, settings=settings)
            print(f"  (cache warm-up pool on 3 clips: {time.perf_counter() - started:.1f} s, not timed)")
        recorder = Recorder(pool=workers > 1)
        cpu = time.process_time()
        out = extract_folders({"000": folder}, settings=settings, progress=recorder)["000"]
        wall = time.perf_counter() - recorder.started
        cpu = time.process_time() - cpu  # in-process work only when workers == 1
        assert out.extracted == n, out.counts()
        # steady state: with k busy workers, completions i and i + k are one clip-time
        # apart; skip the first round (it carries the start-up)
        k = max(1, min(workers, n // 3))
        gaps = [recorder.done[i + k] - recorder.done[i] for i in range(k - 1, n - k)]
        steady = k / statistics.median(gaps) if gaps and statistics.median(gaps) > 0 else n / wall
        startup = max(0.0, recorder.done[0] - per_clip)  # first result: start-up + one clip
        results[workers] = steady
        line = (f"  workers={workers}: {steady:6.2f} clips/s steady ({n / wall:5.2f} clips/s incl. "
                f"start-up; wall {wall:.2f} s)")
        if workers > 1:
            line += f"; pool start-up ~{startup:.2f} s (first result after {recorder.done[0]:.2f} s)"
            print(line)
            if recorder.peaks:
                peaks = ", ".join(f"{mb:.0f}" for mb in recorder.peaks.values())
                worst = max(recorder.peaks.values())
                print(f"  peak RSS per worker: {peaks} MB   target < {TARGET_WORKER_MB:.0f} MB  "
                      f"{verdict(worst < TARGET_WORKER_MB)}")
            else:
                print("  peak RSS per worker: n/a (no pool below 3 files to extract)")
        else:
            print(line + " (in-process: no pool below 2 workers)")
            cpu_per_clip = cpu / n
            print(f"  CPU per clip in-process: {1e3 * cpu_per_clip:.1f} ms; two idle cores would "
                  f"give at most {2 / cpu_per_clip:.1f} clips/s")
    print(f"  2 workers: {results[2]:.2f} clips/s   target >= {TARGET_CLIPS_PER_S_2W} clips/s  "
          f"{verdict(results[2] >= TARGET_CLIPS_PER_S_2W)}   (scaling {results[2] / results[1]:.2f}x)")
    print("\n== at FMA size, 2 workers (pool start-up, a few seconds, not included)")
    for subset, clips in FMA_SIZES.items():
        by_rate, by_cpu = clips / results[2] / 60, clips * cpu_per_clip / 2 / 60
        target = (f"   target <= {TARGET_MEDIUM_MINUTES} min: {verdict(by_rate <= TARGET_MEDIUM_MINUTES)}"
                  if subset == "medium" else "")
        print(f"  {subset:6s} {clips:7,d} clips: {by_rate:6.1f} min at the measured steady rate; "
              f"{by_cpu:6.1f} min from CPU time per clip on 2 idle cores{target}")
    if statistics.mean(seconds) < 29:
        print(f"  note: clips average {statistics.mean(seconds):.1f} s; the clips/s target is for "
              f"FMA's 30 s clips")

    # segment_features come from the same extraction: their cost, side by side, alternating
    from fma_pipeline.core.audio.windows import SegmentConfig

    subset = tmp / "compare"
    link_clips(compare, subset, len(compare))
    timings: dict[str, list[float]] = {"windows": [], "clip only": []}
    for _ in range(args.repeats):
        for name, segments in (("windows", SegmentConfig()), ("clip only", None)):
            settings = ExtractionSettings(features=config, workers=1, numba_cache_dir=cache, segments=segments)
            started = time.process_time()
            extract_folders({"000": subset}, settings=settings)
            timings[name].append((time.process_time() - started) / len(compare))
    with_windows, clip_only = (statistics.median(timings[k]) for k in ("windows", "clip only"))
    ratio = with_windows / clip_only
    print(f"\n== segment windows (3 s), workers=1, CPU time, median of {args.repeats} alternating passes "
          f"over {len(compare)} clips")
    print(f"  with window statistics {1e3 * with_windows:.1f} ms/clip vs clip only {1e3 * clip_only:.1f} ms/clip: "
          f"{ratio:.3f}x   target <= {TARGET_SEGMENT_RATIO:.2f}x  {verdict(ratio <= TARGET_SEGMENT_RATIO)}")


def mode_incremental(args, tmp: Path) -> None:
    from fma_pipeline.core.audio.decode import decode
    from fma_pipeline.core.audio.extraction import ExtractionSettings, extract_folder
    from fma_pipeline.core.audio.features import FeatureConfig, extract

    config = FeatureConfig(sr=args.sr)
    settings = ExtractionSettings(features=config, numba_cache_dir=tmp / "numba-cache")
    folder = tmp / "000"
    size = 100
    spare = tmp / "spare"
    started = time.perf_counter()
    if args.audio:
        sources = real_clips(args.audio, None)
        link_clips(sources, folder, size)
        new = link_clips(sources, spare, 1, start=size)[0]
        what = f"real files from {args.audio}, symlinked (cycled) as 000002{sources[0].suffix}..."
    else:
        generate_clips(folder, range(size), args.seconds)
        new = generate_clips(spare, range(size, size + 1), args.seconds)[0]
        what = f"generated {args.seconds:g} s MP3s 000002.mp3...{fma_name(size - 1, '.mp3')}"
    print(f"folder: {size} clips, {what} ({time.perf_counter() - started:.1f} s to make)")
    started = time.perf_counter()
    extract(decode(new, sr=config.sr), config)  # JIT here and into the workers' disk cache
    print(f"warm-up (numba JIT into a fresh cache, not timed): {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    first = extract_folder(folder, settings=settings)
    print(f"first extraction ({settings.n_workers} workers, not timed): "
          f"{time.perf_counter() - started:.1f} s, {first.counts()}")
    previous, previous_errors = first.features, first.errors

    counts = {}

    def unchanged():
        counts["unchanged"] = extract_folder(folder, previous, previous_errors, settings).counts()

    t_unchanged = median_time(unchanged, args.repeats)
    target_name = folder / new.name
    os.replace(new, target_name)

    def one_new():
        counts["new"] = extract_folder(folder, previous, previous_errors, settings).counts()

    t_new = median_time(one_new, args.repeats)

    def one_clip():
        extract(decode(target_name, sr=config.sr), config)

    one_clip()  # warm
    t_clip = median_time(one_clip, args.repeats)
    print(f"\n== incremental re-materialisation, median of {args.repeats}")
    print(f"unchanged {size}-clip folder: {t_unchanged:.3f} s   target < {TARGET_UNCHANGED_S:g} s  "
          f"{verdict(t_unchanged < TARGET_UNCHANGED_S)}   {counts['unchanged']}")
    print(f"one new clip ({target_name.name}): {t_new:.3f} s   target < {TARGET_NEW_FILE_S:g} s + "
          f"{t_clip:.3f} s  {verdict(t_new < TARGET_NEW_FILE_S + t_clip)}   {counts['new']}")
    print(f"that clip alone (decode + extract, one core): {t_clip:.3f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audio", type=Path, help="folder of real clips (default: generate MP3s)")
    parser.add_argument("--clips", type=int, default=24, help="clips for the throughput mode (extract_folders)")
    parser.add_argument("--compare", type=int, default=24,
                        help="of which this many are timed on one core beside features.py's own calls")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the median is printed")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of generated clips")
    parser.add_argument("--sr", type=int, default=44_100,
                        help="the clips' rate in Hz: FMA's features are computed at the file's own rate")
    parser.add_argument("--incremental", action="store_true", help="time re-materialising a folder")
    args = parser.parse_args(argv)

    # The extraction workers run with the project's glibc malloc settings (set in their
    # environment by file_worker.configure_process_env); they are read at process start,
    # so re-run this process under them too: the one-core and workers=1 figures (measured
    # here) then use the same allocator as the pool's workers.
    from fma_pipeline.core.audio.file_worker import _MALLOC_VARS

    if argv is None and any(os.environ.get(k) != v for k, v in _MALLOC_VARS.items()):
        os.environ.update(_MALLOC_VARS)
        os.execv(sys.executable, [sys.executable, *sys.argv])

    with tempfile.TemporaryDirectory(prefix="fma-bench-") as name:
        tmp = Path(name)
        # Before numba is imported: a fresh numba cache that we warm ourselves.
        os.environ["NUMBA_CACHE_DIR"] = str(tmp / "numba-cache")
        sys.path.insert(0, str(REPO))  # for fma_pipeline_tests.reference_features
        import librosa

        print(f"fma_pipeline extraction benchmark: {platform.python_version()}, librosa "
              f"{librosa.__version__}, numpy {np.__version__}, {os.cpu_count()} CPUs, "
              f"{'--incremental' if args.incremental else 'throughput'} mode")
        print(f"threads: {', '.join(f'{k}={os.environ[k]}' for k in THREAD_VARS)}")
        print("allocator: " + " ".join(f"{k}={v}" for k, v in _MALLOC_VARS.items())
              + " (the workers' settings, in every process)")
        load = os.getloadavg()
        print(f"load average before: {load[0]:.2f} (1 min), {load[1]:.2f} (5 min)"
              + ("  -- other processes were busy: figures may be low" if load[0] > 0.5 else ""))
        if args.incremental:
            mode_incremental(args, tmp)
        else:
            mode_throughput(args, tmp)
        print(f"load average after: {os.getloadavg()[0]:.2f} (1 min; includes this benchmark)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
