"""Benchmark of feature extraction: a plain command that prints figures (never a test).

    python bench/extract.py [--audio DIR] [--clips N] [--repeats R] [--seconds 30] [--sr 22050]
    python bench/extract.py --incremental [--audio DIR] [--repeats R] [--seconds 30] [--sr 22050]

Default mode, on the same clips in one run:
- one core: ms per clip and clips/s of the project's ``extract`` and of the plain
  librosa reference (``fma_pipeline_tests/reference_features.py``) on cached waveforms,
  their ratio and their largest disagreement;
- end to end (hash + decode + extract) through ``extract_folders`` with 1 and 2 workers:
  steady throughput, pool start-up (printed separately) and peak memory per worker.
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
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
for _var in THREAD_VARS:
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
AUDIO_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg", ".oga")

# Targets: (description, threshold); compared in the code that prints them.
TARGET_SPEEDUP = 2.5  # project vs reference, one core
TARGET_CLIPS_PER_S_2W = 13.0  # end to end with 2 workers
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

def mode_throughput(args, tmp: Path) -> None:
    from fma_pipeline.core.audio.decode import decode
    from fma_pipeline.core.audio.extraction import ExtractionSettings, extract_folders
    from fma_pipeline.core.audio.features import FeatureConfig, extract, feature_columns
    from fma_pipeline_tests.reference_features import reference_features

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

    # decode once, cache the waveforms
    decode_s, waves = [], []
    for p in paths:
        started = time.perf_counter()
        waves.append(decode(p, sr=config.sr))
        decode_s.append(time.perf_counter() - started)
    seconds = [w.size / config.sr for w in waves]
    n = len(waves)
    print(f"audio: {statistics.mean(seconds):.1f} s per clip on average "
          f"(min {min(seconds):.1f}, max {max(seconds):.1f}); analysis at {config.sr} Hz")
    print(f"decode (soundfile + soxr), once per clip: {1e3 * statistics.median(decode_s):.1f} ms median")

    # one core, cached waveforms
    started = time.perf_counter()
    extract(waves[0], config)  # numba JIT / cache warm-up, not timed
    reference_features(waves[0], config.sr)
    print(f"warm-up (numba JIT into a fresh cache, not timed): {time.perf_counter() - started:.1f} s")
    # alternate the two passes so that load from other processes hits both alike
    walls, cpus = {"fast": [], "ref": []}, {"fast": [], "ref": []}
    passes = {"fast": lambda: [extract(w, config) for w in waves],
              "ref": lambda: [reference_features(w, config.sr) for w in waves]}
    for _ in range(args.repeats):
        for key, run in passes.items():
            wall, cpu = time.perf_counter(), time.process_time()
            run()
            walls[key].append((time.perf_counter() - wall) / n)
            cpus[key].append((time.process_time() - cpu) / n)
    fast, ref = statistics.median(walls["fast"]), statistics.median(walls["ref"])
    speedup = ref / fast
    cpu_speedup = statistics.median(cpus["ref"]) / statistics.median(cpus["fast"])
    print(f"\n== one core, cached waveforms, median of {args.repeats} alternating passes over {n} clips")
    for label, key in (("project extract    ", "fast"), ("reference (librosa)", "ref")):
        wall, cpu = statistics.median(walls[key]), statistics.median(cpus[key])
        print(f"{label} {1e3 * wall:8.1f} ms/clip  {1 / wall:6.2f} clips/s   (CPU {1e3 * cpu:.1f} ms/clip)")
    print(f"speed-up            {speedup:8.2f} x (CPU time {cpu_speedup:.2f} x)   "
          f"target >= {TARGET_SPEEDUP} x  {verdict(speedup >= TARGET_SPEEDUP)}")

    columns = feature_columns()
    f = np.stack([extract(w, config) for w in waves]).astype(np.float64)
    r = np.stack([reference_features(w, config.sr).to_numpy() for w in waves])
    diff = np.abs(f - r)
    rel = diff / np.maximum(np.abs(r), 1e-9)
    not_stft = np.asarray(columns.get_level_values("feature") != "chroma_stft")
    print("disagreement (project vs reference, all clips):")
    for label, mask in ((f"all {len(columns)} columns", np.ones(len(columns), bool)),
                        ("without chroma_stft", not_stft)):
        a = np.unravel_index(np.argmax(np.where(mask, diff, -1)), diff.shape)
        b = np.unravel_index(np.argmax(np.where(mask, rel, -1)), rel.shape)
        print(f"  {label:20s} max abs {diff[a]:.3g} ({fmt_col(columns[a[1]])}), "
              f"max rel {rel[b]:.3g} ({fmt_col(columns[b[1]])})")
    stft_mean = [i for i, c in enumerate(columns) if c[0] == "chroma_stft" and c[1] == "mean"]
    print(f"  chroma_stft means: median abs gap {np.median(diff[:, stft_mean]):.3g} "
          f"(tuning estimated from |X| vs librosa's |X|^2)")

    # end to end through extract_folders
    cache = tmp / "numba-cache"
    per_clip = statistics.median(decode_s) + fast
    print(f"\n== end to end (hash + decode + extract) through extract_folders, {n} clips")
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
    if statistics.mean(seconds) < 29:
        print(f"  note: clips average {statistics.mean(seconds):.1f} s; the clips/s target is for "
              f"FMA's 30 s clips")

    # segment_features come from the same extraction: their cost, side by side, alternating
    from fma_pipeline.core.audio.windows import SegmentConfig

    timings: dict[str, list[float]] = {"windows": [], "clip only": []}
    for _ in range(args.repeats):
        for name, segments in (("windows", SegmentConfig()), ("clip only", None)):
            settings = ExtractionSettings(features=config, workers=1, numba_cache_dir=cache, segments=segments)
            started = time.perf_counter()
            extract_folders({"000": folder}, settings=settings)
            timings[name].append((time.perf_counter() - started) / n)
    with_windows, clip_only = (statistics.median(timings[k]) for k in ("windows", "clip only"))
    ratio = with_windows / clip_only
    print(f"\n== segment windows (3 s), workers=1, median of {args.repeats} alternating passes")
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
    parser.add_argument("--clips", type=int, default=24, help="clips for the throughput mode")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the median is printed")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of generated clips")
    parser.add_argument("--sr", type=int, default=22_050, help="analysis rate in Hz")
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
