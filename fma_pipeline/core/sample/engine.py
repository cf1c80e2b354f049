"""Deterministic procedural music: stereo clips whose character depends on an FMA genre.

The built-in sample dataset needs audio that a genre classifier on librosa features can
learn, without shipping recordings. Each FMA genre id maps to a :class:`Style` (tempo,
drum patterns, swing, harmony, instrument timbres, mix); :func:`render_clip` turns a
style and a random generator into audio. The task is kept from being trivial by variation
inside a genre (key, tempo, kit, timbre, levels, arrangement, noise) and by crossover:
now and then a clip borrows its drums, harmony or an instrument from a neighbouring genre
(Rock/Punk/Metal, Electronic/Techno, Folk/Country/Blues, Classical/Instrumental ...).

Speed (a 30 s 44.1 kHz stereo clip in a few tens of milliseconds) comes from
- wavetable oscillators with 32-bit integer phase that wraps for free (one table lookup
  per sample per note);
- just-intonation chords: a chord whose tones are in integer ratios is periodic, so a
  whole chord, distortion included, is a single table and a single lookup;
- drum one-shots synthesised once per clip and added by slicing;
- reverb from a few delayed copies, compression on 512-sample blocks.

Everything random is drawn from the ``rng`` passed in; the module keeps no state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from types import MappingProxyType

import numpy as np
from scipy import signal

from fma_pipeline.core.sample.styles import STYLES, DrumKit, Part, Style, Timbre

__all__ = ["render_clip"]

_TABLE_BITS = 14
_TABLE_SIZE = 1 << _TABLE_BITS
_SHIFT = 32 - _TABLE_BITS
_TWO32 = float(1 << 32)
_BLOCK = 512  # samples per block of the master gain (compression, pumping, swells)
_NOISE_LEN = 1 << 17  # samples of the per-clip noise block that drums and breath slice from

#: Velocity of a pattern character. l/h (and L/H) are the low and high hand drum.
_VEL = MappingProxyType({"x": 1.0, "X": 1.0, "o": 0.6, "g": 0.3, "L": 1.0, "l": 0.55, "H": 1.0, "h": 0.55})

CHORD_RATIOS: MappingProxyType[str, tuple[int, ...]] = MappingProxyType({
    "maj": (4, 5, 6, 8), "min": (10, 12, 15, 20), "dom7": (4, 5, 6, 7), "maj7": (8, 10, 12, 15),
    "min7": (10, 12, 15, 18), "maj6": (12, 15, 18, 20), "pow": (2, 3, 4), "sus4": (6, 8, 9, 12),
    "dim": (5, 6, 7), "min9": (20, 24, 30, 36, 45), "cluster": (16, 17, 19, 23),
    "cluster2": (12, 17, 18, 25), "tritone": (10, 14, 19),
})
#: The same qualities as equal-tempered semitones, for bass lines, arpeggios and melodies.
CHORD_TONES: MappingProxyType[str, tuple[int, ...]] = MappingProxyType({
    "maj": (0, 4, 7), "min": (0, 3, 7), "dom7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11),
    "min7": (0, 3, 7, 10), "maj6": (0, 4, 7, 9), "pow": (0, 7), "sus4": (0, 5, 7),
    "dim": (0, 3, 6), "min9": (0, 3, 7, 10, 14), "cluster": (0, 1, 3, 7), "cluster2": (0, 6, 7, 13),
    "tritone": (0, 6, 11),
})

#: Formants (centre Hz, bandwidth Hz, gain) of five vowels, for the sung and rapped voices.
_FORMANTS: tuple[tuple[tuple[float, float, float], ...], ...] = (
    ((730, 90, 1.0), (1090, 110, 0.5), (2440, 170, 0.25)),  # a
    ((530, 60, 1.0), (1840, 100, 0.45), (2480, 150, 0.3)),  # e
    ((300, 50, 1.0), (2200, 120, 0.35), (3000, 170, 0.3)),  # i
    ((570, 70, 1.0), (840, 80, 0.6), (2410, 170, 0.15)),  # o
    ((320, 50, 1.0), (870, 80, 0.35), (2240, 150, 0.12)),  # u
)


# --------------------------------------------------------------------------- wavetables


def _harmonic_amps(shape: str, k: np.ndarray) -> np.ndarray:
    """Amplitude of harmonic ``k`` for a named harmonic law: the instrument's colour."""
    k = k.astype(np.float64)
    odd = (k % 2) == 1
    if shape == "sine":
        return np.where(k == 1, 1.0, 0.0)
    if shape == "saw":
        return 1.0 / k
    if shape == "square":
        return np.where(odd, 1.0 / k, 0.05 / k)
    if shape == "triangle":
        return np.where(odd, 1.0 / k**2, 0.0)
    if shape == "organ":
        bars = {1: 1.0, 2: 0.8, 3: 0.6, 4: 0.45, 6: 0.3, 8: 0.25, 10: 0.1, 12: 0.08}
        return np.array([bars.get(int(i), 0.0) for i in k])
    if shape == "brass":
        return k**1.3 * np.exp(-k / 2.6)
    if shape == "reed":
        return np.where(odd, 1.0, 0.35) / k
    if shape == "string":
        return k**-0.9 * (0.55 + 0.45 * np.abs(np.sin(0.9 * k + 0.3)))
    if shape == "pluck":
        return np.abs(np.sin(np.pi * k * 0.17)) / k**0.9 + 0.02 / k
    if shape == "piano":
        return k**-1.5 * (0.7 + 0.3 * np.cos(1.7 * k))
    if shape == "epiano":
        return np.where(k == 2, 0.3, k**-3.0)
    if shape == "flute":
        return np.exp(-(k - 1) * 1.1)
    if shape == "nasal":
        return k**-0.5 * (0.4 + 0.6 * np.abs(np.sin(0.6 * k)))
    raise ValueError(f"unknown timbre shape {shape!r}")


def _vowel_amps(vowel: int, k: np.ndarray, f0: float) -> np.ndarray:
    """Glottal-source harmonics shaped by a vowel's formants: a sung or spoken voice."""
    f = k * f0
    gain = np.full(k.shape, 0.02)
    for centre, width, g in _FORMANTS[vowel]:
        gain += g / (1.0 + ((f - centre) / width) ** 2)
    return gain / k**0.8


def _build_table(amps: np.ndarray, ratios: tuple[int, ...], drive: float, max_hz: float, sr: int,
                 rng: np.random.Generator) -> np.ndarray:
    """One period of a (chord) waveform, band-limited for fundamentals up to ``max_hz``.

    Voice ``j`` of the chord contributes harmonic ``k`` at table harmonic ``ratios[j] * k``;
    ``max_hz`` is the highest table fundamental it will be played at, so nothing above
    0.45 sr aliases. Saturation is applied to the whole chord (as an amplifier would) and
    band-limited again. Normalised to RMS 0.3 so chord qualities mix at one level.
    """
    half = _TABLE_SIZE // 2
    limit = int(max(1, min(half - 1, 0.45 * sr / max(max_hz, 1e-3))))
    spec = np.zeros(half + 1, np.complex128)
    k = np.arange(1, amps.size + 1)
    for j, r in enumerate(ratios):
        m = r * k
        keep = m <= limit
        phase = rng.uniform(0.0, 2.0 * np.pi, int(keep.sum()))
        np.add.at(spec, m[keep], amps[keep] * (1.0 if j == 0 else 0.8) * np.exp(1j * phase))
    if not np.any(spec):
        spec[min(ratios[0], limit)] = 1.0
    table = np.fft.irfft(spec, _TABLE_SIZE)
    if drive > 0:
        gain = 1.0 + 14.0 * drive
        table = np.tanh(gain * table / np.abs(table).max())
        spec = np.fft.rfft(table)
        spec[0] = 0.0
        spec[limit + 1:] = 0.0
        table = np.fft.irfft(spec, _TABLE_SIZE)
    table *= 0.3 / math.sqrt(float(np.mean(table**2)) + 1e-12)
    return table.astype(np.float32)


@dataclass(frozen=True)
class _Env:
    """Precomputed envelope pieces of one timbre at one sample rate."""

    body: np.ndarray  # attack, then decay towards the sustain level
    bright: np.ndarray  # decay of the plucked layer (empty if none)
    release: np.ndarray  # 1 -> 0 after the note is let go


def _make_env(t: Timbre, sr: int) -> _Env:
    """Envelope curves computed once per part, so a note only slices them."""
    n_att = max(1, int(t.attack * sr))
    n_dec = max(1, int(5.0 * t.decay * sr))
    attack = np.linspace(0.0, 1.0, n_att, endpoint=False)
    decay = t.sustain + (1.0 - t.sustain) * np.exp(-np.arange(n_dec) / (t.decay * sr))
    body = np.concatenate((attack, decay)).astype(np.float32)
    if t.pluck > 0:
        n_b = max(1, int(5.0 * t.pluck_decay * sr))
        bright = (t.pluck * np.exp(-np.arange(n_b) / (t.pluck_decay * sr))).astype(np.float32)
    else:
        bright = np.zeros(0, np.float32)
    release = (np.linspace(1.0, 0.0, max(2, int(t.release * sr))) ** 2).astype(np.float32)
    return _Env(body, bright, release)


def _note_env(env: _Env, n_on: int, n_total: int) -> np.ndarray:
    """Amplitude envelope of a note held ``n_on`` samples and rendered ``n_total``."""
    body = env.body
    if n_on <= body.size:
        head = body[:n_on]
    else:
        head = np.concatenate((body, np.full(n_on - body.size, body[-1], np.float32)))
    if n_total <= n_on:
        return head[:n_total]
    return np.concatenate((head, env.release[: n_total - n_on] * head[-1]))


# --------------------------------------------------------------------------- clip context


@dataclass
class _Clip:
    """Per-render working state (never shared between calls)."""

    sr: int
    n: int
    seconds: float
    rng: np.random.Generator
    style: Style
    bpm: float
    spb: int  # 16th steps per bar
    times: np.ndarray  # onset (s) of every step, swing and drift applied
    n_bars: int
    tonic: int  # pitch class
    scale: tuple[int, ...]
    chord_of_step: np.ndarray  # index into chords
    chords: list[tuple[int, str]]  # (root pitch class, quality)
    sections: list[int]  # first bar of each section
    active: dict[str, np.ndarray]  # part -> bool per bar
    noise: np.ndarray  # uniform noise block
    hp_noise: np.ndarray  # high-passed noise block
    ramp: np.ndarray  # 0, 1, 2 ... as uint32 (oscillator phase)
    tuning: float  # global detune factor
    width: float

    @property
    def step_dur(self) -> float:
        return 15.0 / self.bpm

    def noise_slice(self, length: int, hp: bool = False) -> np.ndarray:
        """A random stretch of the noise block (tiled if longer) instead of fresh noise."""
        src = self.hp_noise if hp else self.noise
        if length >= src.size:
            return np.resize(src, length)
        start = int(self.rng.integers(0, src.size - length))
        return src[start:start + length]


def _grid(style: Style, rng: np.random.Generator, seconds: float) -> tuple[float, int, np.ndarray]:
    """Tempo, steps per bar and the time of every 16th step (swing, rubato applied)."""
    bpm = float(rng.uniform(*style.tempo))
    meter = int(style.meters[rng.integers(len(style.meters))])
    spb = 4 * meter
    step = 15.0 / bpm
    n_steps = int(seconds / (step * (1 - style.tempo_drift) + 1e-9)) + 2 * spb + 2
    durs = np.full(n_steps, step)
    if style.tempo_drift > 0:
        n_bars = n_steps // spb + 2
        wobble = np.cumsum(rng.normal(0.0, 1.0, n_bars))
        wobble = style.tempo_drift * np.tanh(wobble / 2.0)
        durs *= 1.0 + np.repeat(wobble, spb)[:n_steps]
    times = np.concatenate(([0.0], np.cumsum(durs)[:-1]))
    pos = np.arange(n_steps)
    if style.swing > 0:
        if style.swing_unit == 1:
            times = times + np.where(pos % 2 == 1, style.swing * durs, 0.0)
        else:
            times = times + np.where(pos % 4 == 2, style.swing * 2.0 * durs, 0.0)
    return bpm, spb, times


def _arrangement(style: Style, rng: np.random.Generator, n_bars: int) -> tuple[list[int], dict[str, np.ndarray]]:
    """Sections of 4 or 8 bars and which parts play in each: intros, breakdowns, drop-outs."""
    sec_len = int(rng.choice((4, 8)))
    starts = list(range(0, n_bars, sec_len))
    present = {
        "drums": bool(style.drums) and rng.random() < style.drum_presence,
        "bass": style.bass.mode != "off" and rng.random() < style.bass.presence,
        "chords": style.chords.mode != "off" and rng.random() < style.chords.presence,
        "lead": style.lead.mode != "off" and rng.random() < style.lead.presence,
        "pad": style.pad.mode != "off" and rng.random() < style.pad.presence,
        "voice": style.voice.mode != "off" and rng.random() < style.voice.presence,
    }
    if not any(present[p] for p in ("chords", "lead", "pad", "voice")):
        for name in ("chords", "pad", "lead", "voice"):
            if getattr(style, name).mode != "off":
                present[name] = True
                break
    active = {name: np.zeros(n_bars, bool) for name in present}
    for i, s in enumerate(starts):
        bars = slice(s, s + sec_len)
        breakdown = i > 0 and rng.random() < style.breakdown
        intro = i == 0 and len(starts) > 1 and rng.random() < 0.35
        for name, on in present.items():
            play = on and rng.random() < 0.92
            if breakdown and name in ("drums", "bass"):
                play = False
            if intro and name in ("drums", "voice", "lead") and rng.random() < 0.7:
                play = False
            active[name][bars] = play
        if not any(active[p][s] for p in ("chords", "lead", "pad", "voice")):
            for name in ("chords", "pad", "lead", "voice"):
                if present[name]:
                    active[name][bars] = True
                    break
    return starts, active


def _harmony(style: Style, rng: np.random.Generator, tonic: int, spb: int, n_bars: int,
             starts: list[int]) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Chord of every step: a progression per section, sometimes changed or modulated."""
    n_steps = n_bars * spb
    chord_of_step = np.zeros(n_steps, np.int64)
    chords: list[tuple[int, str]] = []
    index: dict[tuple[int, str], int] = {}
    prog = style.progressions[rng.integers(len(style.progressions))]
    bpc = float(style.bars_per_chord[rng.integers(len(style.bars_per_chord))])
    shift = 0
    for i, s in enumerate(starts):
        if i > 0 and rng.random() < style.section_change:
            if rng.random() < 0.25:
                shift += int(rng.choice((2, 5, -2, 3)))
            else:
                prog = style.progressions[rng.integers(len(style.progressions))]
        first, last = s * spb, min(n_bars, starts[i + 1] if i + 1 < len(starts) else n_bars) * spb
        per_chord = max(1, round(bpc * spb))
        ids = []
        for deg, quality in prog:
            key = ((tonic + deg + shift) % 12, quality)
            if key not in index:
                index[key] = len(chords)
                chords.append(key)
            ids.append(index[key])
        local = (np.arange(last - first) // per_chord) % len(ids)
        chord_of_step[first:last] = np.asarray(ids)[local]
    return chord_of_step, chords


# --------------------------------------------------------------------------- scores


Event = tuple[float, float, float, float, object, float]  # onset s, held s, Hz, velocity, table key, bend


def _pattern_steps(patterns: tuple[str, ...], spb: int, rng: np.random.Generator) -> str:
    """A pattern fitted to the bar length (a 16-step pattern cut to 12 for 3/4)."""
    pat = patterns[rng.integers(len(patterns))] or "."
    return (pat * (spb // len(pat) + 1))[:spb]


def _gaps(steps: np.ndarray, times: np.ndarray, cap: float) -> np.ndarray:
    """Time from each onset step to the next, capped: how long a note may ring."""
    t = times[steps]
    nxt = np.append(t[1:], t[-1] + cap) if t.size else t
    return np.minimum(nxt - t, cap)


def _onsets_from_pattern(pat: str, clip: _Clip, bars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global step indices and characters of a bar pattern repeated over active bars."""
    idx = np.array([i for i, c in enumerate(pat) if c != "."], np.int64)
    if idx.size == 0 or not bars.any():
        return np.zeros(0, np.int64), np.zeros(0, "<U1")
    bar_ids = np.nonzero(bars)[0]
    steps = (bar_ids[:, None] * clip.spb + idx[None, :]).ravel()
    chars = np.tile(np.array([pat[i] for i in idx]), bar_ids.size)
    return steps, chars


def _humanize(clip: _Clip, t: np.ndarray) -> np.ndarray:
    """Loosen timing: a little for a band, a lot for free styles."""
    sd = clip.style.humanize + clip.style.free * clip.step_dur * 0.6
    return np.maximum(0.0, t + clip.rng.normal(0.0, sd, t.size))


def _chord_events(part: Part, clip: _Clip, bars: np.ndarray) -> list[Event]:
    """Chord hits, held chords, jazz comping or arpeggios from the clip's harmony."""
    rng, spb = clip.rng, clip.spb
    beat = 4 * clip.step_dur
    mode = part.mode
    if mode == "hold" or mode == "drone":
        change = np.ones(clip.n_bars * spb, bool)
        change[1:] = clip.chord_of_step[1:] != clip.chord_of_step[:-1]
        if mode == "drone":
            change[:] = False
        change[np.array(clip.sections) * spb] = True
        play = np.repeat(bars, spb)
        steps = np.nonzero(change & play)[0]
        stops = np.nonzero(np.diff(play.astype(np.int8), append=np.int8(0)) < 0)[0] + 1  # part drops out
        bounds = np.union1d(steps, stops)
        gaps = bounds[np.minimum(np.searchsorted(bounds, steps, side="right"), bounds.size - 1)] - steps
        gaps = np.where(gaps > 0, gaps, clip.n_bars * spb - steps)
        events = []
        for st, g in zip(steps, gaps):
            root, quality = clip.chords[clip.chord_of_step[st]]
            if mode == "drone":
                root, quality = clip.tonic, "pow"
            t0 = clip.times[st]
            dur = clip.times[min(st + g, clip.times.size - 1)] - t0
            hz = _midi_hz(part.register + root) * clip.tuning
            events.append((t0, dur, hz / CHORD_RATIOS[quality][0], 0.9, quality, 0.0))
        return events
    if mode == "comp":
        prob = np.tile(np.where(np.arange(spb) % 4 == 2, 1.4, 0.7) * (np.arange(spb) % 2 == 0), clip.n_bars)
        on = (rng.random(prob.size) < part.density * prob) & np.repeat(bars, spb)
        steps = np.nonzero(on)[0]
        chars = np.full(steps.size, "x")
    else:
        steps, chars = _onsets_from_pattern(_pattern_steps(part.patterns, spb, rng), clip, bars)
    if steps.size == 0:
        return []
    gaps = _gaps(steps, clip.times, 2 * beat if mode != "comp" else beat)
    t0 = _humanize(clip, clip.times[steps])
    vel = np.array([_VEL.get(c, 1.0) for c in chars]) * rng.uniform(0.85, 1.0, steps.size)
    events = []
    if mode == "arp":
        order_kind = rng.integers(3)
        for i, st in enumerate(steps):
            root, quality = clip.chords[clip.chord_of_step[st]]
            tones = CHORD_TONES[quality]
            ladder = list(tones) + [t + 12 for t in tones]
            if order_kind == 0:
                semis = ladder[i % len(ladder)]
            elif order_kind == 1:
                cyc = ladder + ladder[-2:0:-1]
                semis = cyc[i % len(cyc)]
            else:
                semis = ladder[rng.integers(len(ladder))]
            hz = _midi_hz(part.register + root + semis) * clip.tuning
            events.append((t0[i], gaps[i] * part.legato, hz, vel[i], "note", 0.0))
        return events
    for i, st in enumerate(steps):
        root, quality = clip.chords[clip.chord_of_step[st]]
        hz = _midi_hz(part.register + root) * clip.tuning / CHORD_RATIOS[quality][0]
        events.append((t0[i], gaps[i] * part.legato, hz, vel[i], quality, 0.0))
    return events


def _bass_events(part: Part, clip: _Clip, bars: np.ndarray) -> list[Event]:
    """Bass lines: pattern letters pick chord tones; 'walk' builds a walking line."""
    rng, spb = clip.rng, clip.spb
    beat = 4 * clip.step_dur
    pat = "W..." * (spb // 4) if part.mode == "walk" else _pattern_steps(part.patterns, spb, rng)
    steps, chars = _onsets_from_pattern(pat, clip, bars)
    if steps.size == 0:
        return []
    gaps = _gaps(steps, clip.times, 4 * beat)
    t0 = _humanize(clip, clip.times[steps])
    vel = rng.uniform(0.8, 1.0, steps.size)
    events = []
    prev = None
    for i, (st, ch) in enumerate(zip(steps, chars)):
        root, quality = clip.chords[clip.chord_of_step[st]]
        tones = CHORD_TONES[quality]
        nxt_step = steps[i + 1] if i + 1 < steps.size else st + 4
        nxt_root = clip.chords[clip.chord_of_step[min(nxt_step, clip.chord_of_step.size - 1)]][0]
        changes = nxt_root != root
        if ch == "W":
            if prev is None or st == 0 or clip.chord_of_step[st] != clip.chord_of_step[st - 1]:
                semis = 0
            elif changes:
                semis = (nxt_root - root) % 12 + int(rng.choice((-1, 1)))
            else:
                cand = [t for t in (*tones, 2, 5, 9, 12) if t != prev]
                semis = int(cand[rng.integers(len(cand))])
        else:
            semis = {"R": 0, "F": 7 if 7 in tones else tones[-1], "O": 12, "T": tones[1] if len(tones) > 1 else 7,
                     "6": 9, "7": 11 if quality == "maj7" else 10,
                     "A": (nxt_root - root) % 12 - 1,
                     "S": int(clip.scale[rng.integers(len(clip.scale))])}.get(ch, 0)
        prev = semis
        hz = _midi_hz(part.register + root + semis) * clip.tuning
        events.append((t0[i], gaps[i] * part.legato, hz, vel[i], "note", 0.0))
    return events


def _melody_events(part: Part, timbre: Timbre, clip: _Clip, bars: np.ndarray) -> list[Event]:
    """A melody of repeated and varied motifs; strong beats lean on chord tones."""
    rng, spb, scale = clip.rng, clip.spb, clip.scale
    n_deg = len(scale)
    pos = np.arange(spb)
    strength = np.where(pos == 0, 1.0, np.where(pos % 4 == 0, 0.75, np.where(pos % 2 == 0, 0.45, 0.2)))
    strength = strength ** (1.0 - 0.8 * clip.style.free)
    p_on = np.clip(part.density * strength * 1.6, 0.0, 0.95)
    motif_bars = 2 if rng.random() < 0.6 else 1
    span = motif_bars * spb
    lo, hi = 0, 2 * n_deg + 1
    moves = np.array([-2, -1, -1, 0, 1, 1, 2])
    leaps = np.array([-5, -4, -3, 3, 4, 5])

    def phrase(start: float) -> tuple[np.ndarray, np.ndarray]:
        on = rng.random(span) < np.tile(p_on, motif_bars)
        step = np.where(rng.random(span) < part.leap, rng.choice(leaps, span), rng.choice(moves, span))
        deg = start + np.cumsum(step)
        deg = np.abs(deg - lo) + lo  # reflect at the bottom ...
        deg = hi - np.abs(hi - deg)  # ... and at the top of the range
        return on, np.clip(deg, lo, hi)

    motif = phrase(n_deg)
    all_steps, all_deg = [], []
    for bar0 in range(0, clip.n_bars, motif_bars):
        if not bars[bar0]:
            continue
        r = rng.random()
        if r < part.repetition:
            on, deg = motif
        elif r < part.repetition + 0.25:
            on, deg = motif[0].copy(), motif[1].copy()
            flip = rng.random(span) < 0.2
            on[flip] = ~on[flip]
            deg = np.clip(deg + rng.integers(-1, 2, span) * (rng.random(span) < 0.3), lo, hi)
        else:
            on, deg = phrase(float(rng.integers(lo + 2, hi - 2)))
            if rng.random() < 0.3:
                motif = (on, deg)
        if rng.random() < 0.25:
            on = on.copy()
            on[span // 2:] = False
        idx = np.nonzero(on)[0]
        idx = idx[bar0 * spb + idx < clip.n_bars * spb]
        idx = idx[bars[bar0 + idx // spb]]  # a two-bar motif stops where the part drops out
        all_steps.append(bar0 * spb + idx)
        all_deg.append(deg[idx])
    if not all_steps:
        return []
    steps = np.concatenate(all_steps)
    degs = np.concatenate(all_deg).astype(np.int64)
    if steps.size == 0:
        return []
    beat = 4 * clip.step_dur
    gaps = _gaps(steps, clip.times, 2 * beat)
    t0 = _humanize(clip, clip.times[steps])
    vel = 0.7 + 0.25 * strength[steps % spb] + rng.normal(0.0, 0.05, steps.size)
    base = part.register + clip.tonic
    semis = np.array(scale)[degs % n_deg] + 12 * (degs // n_deg)
    events = []
    for i, st in enumerate(steps):
        midi = base + int(semis[i])
        if strength[st % spb] >= 0.75 and rng.random() < 0.7:
            root, quality = clip.chords[clip.chord_of_step[st]]
            pcs = [(root + t) % 12 for t in CHORD_TONES[quality]]
            cands = [midi + d for d in (0, -1, 1, -2, 2) if (midi + d) % 12 in pcs]
            if cands:
                midi = cands[0]
        bend = float(rng.choice((1.0, 2.0))) if rng.random() < timbre.bend else 0.0
        hz = _midi_hz(midi) * clip.tuning
        events.append((t0[i], gaps[i] * part.legato, hz, float(vel[i]), "note", -bend))
    return events


def _rap_events(part: Part, clip: _Clip, bars: np.ndarray) -> list[Event]:
    """Syllables on the 16th grid in repeated flows, with speech-like falling pitch."""
    rng, spb = clip.rng, clip.spb
    pos = np.arange(spb)
    strength = np.where(pos % 4 == 0, 1.0, np.where(pos % 2 == 0, 0.8, 0.55))
    f0 = float(rng.uniform(95.0, 175.0))
    flow = rng.random(2 * spb) < part.density * np.tile(strength, 2)
    all_steps = []
    for bar0 in range(0, clip.n_bars, 2):
        if not bars[bar0]:
            continue
        if rng.random() > part.repetition:
            flow = rng.random(2 * spb) < part.density * np.tile(strength, 2)
        on = flow.copy()
        if (bar0 // 2) % 2 == 1:
            on[-3:] = False  # breathe at the end of a 4-bar line
        idx = np.nonzero(on)[0]
        all_steps.append(bar0 * spb + idx[bar0 * spb + idx < clip.n_bars * spb])
    if not all_steps:
        return []
    steps = np.concatenate(all_steps)
    if steps.size == 0:
        return []
    gaps = _gaps(steps, clip.times, 0.3)
    t0 = _humanize(clip, clip.times[steps])
    vel = 0.65 + 0.35 * strength[steps % spb] * rng.uniform(0.7, 1.0, steps.size)
    hz = f0 * 2.0 ** (rng.normal(0.0, 1.5, steps.size) / 12.0)
    vowels = rng.integers(0, len(_FORMANTS), steps.size)
    falls = rng.uniform(1.0, 3.5, steps.size)
    return [(t0[i], min(gaps[i] * 0.85, 0.25), hz[i], vel[i], int(vowels[i]), falls[i]) for i in range(steps.size)]


# --------------------------------------------------------------------------- rendering


def _midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69.0) / 12.0)


def _pan_gains(p: float) -> np.ndarray:
    """Left/right gains for a position in [-1, 1]; 1, 1 in the centre."""
    p = float(np.clip(p, -1.0, 1.0))
    return np.array([math.sqrt(1.0 - p), math.sqrt(1.0 + p)], np.float32)


def _vary_timbre(t: Timbre, rng: np.random.Generator) -> Timbre:
    """Per-clip instrument variation: brighter or darker, snappier or softer, more or less drive."""
    jitter = lambda sd: float(np.exp(rng.normal(0.0, sd)))  # noqa: E731
    return replace(
        t, tilt=t.tilt + float(rng.normal(0.0, 2.0)), attack=t.attack * jitter(0.25),
        decay=t.decay * jitter(0.25), release=t.release * jitter(0.2),
        drive=max(0.0, t.drive + float(rng.normal(0.0, 0.08))) if t.drive > 0 else 0.0,
        vibrato=t.vibrato * jitter(0.2), chorus=t.chorus * jitter(0.2),
    )


def _render_part(bus: np.ndarray, events: list[Event], timbre: Timbre, level: float, pan: float,
                 clip: _Clip, speech: bool = False) -> None:
    """Render notes with wavetable oscillators and add them, panned, to the stereo bus.

    Plain notes use integer phase ``ramp * increment`` (wraps mod 2**32 by itself); notes
    with vibrato or a bend accumulate a modulated increment instead. A detuned copy on the
    other side (``chorus``) widens pads and sections.
    """
    if not events:
        return
    sr, n, rng = clip.sr, clip.n, clip.rng
    env = _make_env(timbre, sr)
    voice = timbre.shape == "voice"
    k = np.arange(1, max(1, timbre.harmonics) + 1)
    if voice:
        f_ref = float(np.median([e[2] for e in events]))
    tilt = k ** (timbre.tilt / 6.02)
    # One table per key (chord quality or vowel), band-limited for its highest note.
    tables: dict[object, np.ndarray] = {}
    brights: dict[object, np.ndarray] = {}
    keys: list[object] = []
    for e in events:
        key = int(rng.integers(len(_FORMANTS))) if voice and not isinstance(e[4], int) else e[4]
        keys.append(key)
    for key in dict.fromkeys(keys):
        max_hz = max(e[2] for e, kk in zip(events, keys) if kk == key) * 1.15
        ratios = CHORD_RATIOS.get(key, (1,)) if isinstance(key, str) else (1,)
        amps = (_vowel_amps(key, k, f_ref) if voice else _harmonic_amps(timbre.shape, k)) * tilt
        tables[key] = _build_table(amps, ratios, timbre.drive, max_hz, sr, rng)
        if timbre.pluck > 0:
            brights[key] = _build_table(amps * k**1.2, ratios, timbre.drive * 0.5, max_hz, sr, rng)
    gains = _pan_gains(pan) * (10.0 ** (level / 20.0))
    gains2 = _pan_gains(-pan if abs(pan) > 0.1 else 0.6 * clip.width) * (10.0 ** (level / 20.0))
    detune = 2.0 ** (timbre.chorus / 1200.0)
    vib = None
    if timbre.vibrato > 0:
        t = np.arange(n, dtype=np.float32) * np.float32(2.0 * np.pi * timbre.vibrato_rate / sr)
        vib = np.sin(t + np.float32(rng.uniform(0, 2 * np.pi))) * np.float32(2.0 ** (timbre.vibrato / 12.0) - 1.0)
    n_rel = env.release.size
    for (t0, held, hz, vel, _, bend), key in zip(events, keys):
        s = int(t0 * sr)
        if s >= n or hz <= 0 or hz >= 0.45 * sr:
            continue
        n_on = max(1, int(held * sr))
        length = min(n_on + n_rel, n - s)
        table = tables[key]
        amp = _note_env(env, n_on, length) * np.float32(vel)
        copies = ((1.0, gains),) if timbre.chorus <= 0 else ((1.0, gains), (detune, gains2))
        for ratio, g in copies:
            inc = hz * ratio / sr * _TWO32
            start = np.uint32(rng.integers(0, 1 << 32))
            if vib is not None or bend:
                mod = vib[s:s + length] + np.float32(1.0) if vib is not None else np.ones(length, np.float32)
                if bend:
                    nb = min(length, n_on if speech else int(0.09 * sr))
                    mod[:nb] *= (2.0 ** (bend * (1.0 - np.arange(nb, dtype=np.float32) / nb) / 12.0)).astype(np.float32)
                phase = np.cumsum((mod * np.float32(inc)).astype(np.uint32), dtype=np.uint32) + start
            else:
                phase = clip.ramp[:length] * np.uint32(int(inc)) + start
            idx = phase >> _SHIFT
            y = table[idx] * amp
            if timbre.pluck > 0:
                nb = min(length, env.bright.size)
                y[:nb] += brights[key][idx[:nb]] * env.bright[:nb] * np.float32(vel)
            if timbre.breath > 0:
                y += clip.noise_slice(length) * amp * np.float32(timbre.breath)
            bus[:, s:s + length] += g[:, None] * y[None, :]
        if speech:  # consonant: a burst of hiss at the start of the syllable
            m = min(int(rng.uniform(0.015, 0.05) * sr), n - s)
            burst = clip.noise_slice(m, hp=True) * np.exp(-np.arange(m, dtype=np.float32) / np.float32(0.3 * m + 1))
            bus[:, s:s + m] += (gains * np.float32(0.5 * vel * rng.uniform(0.3, 1.0)))[:, None] * burst[None, :]


def _room(y: np.ndarray, amount: float, size: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Stereo one-shot with a short room baked in (decaying noise impulse responses)."""
    if amount <= 0:
        return np.stack((y, y)).astype(np.float32)
    m = max(8, int(size * sr))
    env = np.exp(-np.arange(m) / (m / 5.0))
    irs = (rng.uniform(-1.0, 1.0, (2, m)) * env)
    irs[:, : int(0.004 * sr)] *= 0.1  # pre-delay: the first reflections arrive late
    irs *= amount / math.sqrt(float(np.sum(irs[0] ** 2)))
    wet = signal.fftconvolve(irs, y[None, :], axes=1)
    wet[:, : y.size] += y
    return wet.astype(np.float32)


def _drum_samples(kit: DrumKit, names: set[str], clip: _Clip, tonic_hz: float) -> dict[str, np.ndarray]:
    """Synthesise the kit's one-shots once per clip (kick sweep, noisy snare, metallic hats ...)."""
    sr, rng = clip.sr, clip.rng

    def t_axis(seconds: float) -> np.ndarray:
        return np.arange(int(seconds * sr), dtype=np.float32) / np.float32(sr)

    def metal(t: np.ndarray, scale: float) -> np.ndarray:
        """Six detuned square waves (the 808 cymbal recipe): the top bit of an integer phase."""
        acc = np.zeros(t.size, np.uint32)
        ramp = np.arange(t.size, dtype=np.uint32)
        for hz in (205.3, 304.4, 369.6, 522.7, 540.0, 800.0):
            acc += (ramp * np.uint32(min(hz * scale, 0.49 * sr) / sr * _TWO32)) >> 31
        return (acc.astype(np.float32) - np.float32(3.0)) / np.float32(3.0)

    def noise(m: int, hp: bool = True) -> np.ndarray:
        return clip.noise_slice(m, hp=hp)

    out: dict[str, np.ndarray] = {}
    for name in sorted(names):
        if name == "kick":
            t = t_axis(min(1.2, 6 * kit.kick_decay + 0.02))
            f = kit.kick_pitch * (1.0 + (kit.kick_sweep - 1.0) * np.exp(-t / 0.025))
            y = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / kit.kick_decay)
            y += kit.kick_click * noise(t.size, hp=False) * np.exp(-t / 0.0015)
            if kit.kick_drive > 0:
                y = np.tanh((1.0 + 8.0 * kit.kick_drive) * y)
            gain, room = 1.0, 0.0
        elif name == "snare":
            t = t_axis(min(1.0, 5 * kit.snare_decay + 0.05))
            if kit.snare_kind == "clap":
                bursts = sum(np.exp(-np.maximum(t - d, 0) / 0.004) * (t >= d) for d in (0.0, 0.011, 0.022))
                env = bursts + 0.6 * np.exp(-np.maximum(t - 0.03, 0) / kit.snare_decay) * (t >= 0.03)
                y = noise(t.size) * env
            elif kit.snare_kind == "brush":
                env = (1 - np.exp(-t / 0.015)) * np.exp(-t / kit.snare_decay)
                y = 0.6 * noise(t.size, hp=False) * env + 0.4 * noise(t.size) * env
            elif kit.snare_kind == "rim":
                y = np.sin(2 * np.pi * 820 * t) * np.exp(-t / 0.012) + 0.5 * noise(t.size) * np.exp(-t / 0.008)
            else:
                tone = (np.sin(2 * np.pi * kit.snare_pitch * t) + 0.4 * np.sin(2 * np.pi * 1.47 * kit.snare_pitch * t))
                y = (1 - kit.snare_noise) * tone * np.exp(-t / 0.05) \
                    + 1.5 * kit.snare_noise * noise(t.size) * np.exp(-t / kit.snare_decay)
            gain, room = 0.8, 1.0
        elif name in ("hat", "open_hat"):
            t = t_axis(0.12 if name == "hat" else 0.6)
            decay = kit.hat_decay if name == "hat" else 6 * kit.hat_decay
            y = np.diff(0.5 * metal(t, kit.hat_bright) + noise(t.size), prepend=0.0) * np.exp(-t / decay)
            gain, room = (0.28, 0.0) if name == "hat" else (0.22, 0.5)
        elif name == "ride":
            t = t_axis(min(2.0, 3 * kit.ride_decay))
            partials = np.array([1.0, 1.47, 2.09, 2.56, 3.2, 4.1]) * rng.uniform(380, 480)
            y = (np.sin(2 * np.pi * partials[:, None] * t[None, :]) * np.exp(-t[None, :] / (kit.ride_decay * np.linspace(1, 0.3, 6))[:, None])).sum(0) / 6
            y += 0.5 * np.diff(metal(t, 1.3), prepend=0.0) * np.exp(-t / (0.3 * kit.ride_decay))
            gain, room = 0.22, 0.0
        elif name == "crash":
            t = t_axis(1.6)
            y = (noise(t.size) + 0.3 * np.diff(metal(t, 1.1), prepend=0.0)) * np.exp(-t / 0.8)
            gain, room = 0.3, 0.0
        elif name in ("perc_lo", "perc_hi"):
            t = t_axis(min(1.0, 5 * kit.perc_decay))
            f0 = kit.perc_pitch[0 if name == "perc_lo" else 1] * rng.uniform(0.94, 1.06)
            f = f0 * (1.0 + 0.6 * np.exp(-t / 0.01))
            y = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / kit.perc_decay)
            y += 0.3 * noise(t.size) * np.exp(-t / 0.005)
            gain, room = 0.7, 0.8
        elif name == "tamb":
            t = t_axis(0.25)
            y = np.diff(noise(t.size), prepend=0.0) * np.exp(-t / 0.06) * (1 + 0.5 * np.sin(2 * np.pi * 40 * t))
            gain, room = 0.25, 0.6
        elif name == "timpani":
            t = t_axis(2.5)
            ratios = np.array([1.0, 1.5, 1.98, 2.44])
            decays = np.array([0.9, 0.6, 0.45, 0.3])
            y = (np.sin(2 * np.pi * tonic_hz * ratios[:, None] * t[None, :])
                 * np.exp(-t[None, :] / decays[:, None]) * np.array([1, 0.5, 0.35, 0.2])[:, None]).sum(0)
            y += 0.2 * noise(t.size, hp=False) * np.exp(-t / 0.01)
            gain, room = 0.9, 1.0
        else:
            raise ValueError(f"unknown drum voice {name!r}")
        y = y / (np.abs(y).max() + 1e-9) * gain
        out[name] = _room(y, kit.room * room, kit.room_size, sr, rng)
    return out


def _drum_hits(style: Style, clip: _Clip, bars: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Hit times and velocities per drum voice: patterns, fills, crashes, ghost and dropped hits."""
    rng, spb = clip.rng, clip.spb
    n_steps = clip.n_bars * spb
    play = np.repeat(bars, spb)
    grids: dict[str, np.ndarray] = {}
    for voice, choices in style.drums:
        pat = _pattern_steps(choices, spb, rng)
        alt = _pattern_steps(choices, spb, rng)
        vel_a = np.array([_VEL.get(c, 0.0) for c in pat])
        vel_b = np.array([_VEL.get(c, 0.0) for c in alt])
        use_alt = np.repeat(rng.random(clip.n_bars) < 0.25, spb)
        vel = np.where(use_alt, np.tile(vel_b, clip.n_bars), np.tile(vel_a, clip.n_bars))
        if style.free > 0:  # keep the density, scatter the positions
            density = (vel > 0).mean()
            free_vel = (rng.random(n_steps) < density) * rng.uniform(0.3, 1.0, n_steps)
            vel = np.where(rng.random(n_steps) < style.free, free_vel, vel)
        vel = vel * (rng.random(n_steps) >= style.drum_jitter * 0.5)
        if voice in ("snare", "kick"):
            ghost = (vel == 0) & (rng.random(n_steps) < style.drum_jitter * (0.3 if voice == "snare" else 0.12))
            vel = np.where(ghost, 0.25, vel)
        if voice == "perc":
            chars_a = np.tile(np.array(list(pat)), clip.n_bars)
            chars_b = np.tile(np.array(list(alt)), clip.n_bars)
            chars = np.where(use_alt, chars_b, chars_a)
            hi = np.isin(chars, ["h", "H"])
            grids["perc_hi"] = np.where(hi, vel, 0.0) * play
            grids["perc_lo"] = np.where(~hi, vel, 0.0) * play
        else:
            grids[voice] = vel * play
    if "snare" in grids or "perc_lo" in grids:
        target = "snare" if "snare" in grids else "perc_lo"
        for s in clip.sections[1:]:
            last = s - 1
            if bars[last] and rng.random() < style.fill:
                first = last * spb + spb - (4 if rng.random() < 0.6 else 8)
                ramp = np.linspace(0.5, 1.0, last * spb + spb - first)
                grids[target][first:last * spb + spb] = ramp
    if style.crash > 0 and any(v in grids for v in ("kick", "snare")):
        crash = np.zeros(n_steps)
        for s in clip.sections:
            if bars[s] and (s == 0 or not bars[s - 1] or rng.random() < style.crash):
                crash[s * spb] = 1.0
        if crash.any():
            grids["crash"] = crash
    hits = {}
    for voice, vel in grids.items():
        steps = np.nonzero(vel > 0)[0]
        if steps.size:
            v = vel[steps] * rng.uniform(0.85, 1.0, steps.size)
            hits[voice] = (_humanize(clip, clip.times[steps]), v)
    return hits


def _render_drums(bus: np.ndarray, style: Style, clip: _Clip, bars: np.ndarray) -> np.ndarray:
    """Place the one-shots; return the kick times (for side-chain pumping)."""
    hits = _drum_hits(style, clip, bars)
    if not hits:
        return np.zeros(0)
    rng, sr, n = clip.rng, clip.sr, clip.n
    kit = style.kit
    kit = replace(kit, kick_pitch=kit.kick_pitch * rng.uniform(0.9, 1.1),
                  kick_decay=kit.kick_decay * rng.uniform(0.8, 1.25), snare_pitch=kit.snare_pitch * rng.uniform(0.85, 1.15),
                  snare_decay=kit.snare_decay * rng.uniform(0.8, 1.25), hat_decay=kit.hat_decay * rng.uniform(0.7, 1.4),
                  hat_bright=kit.hat_bright * rng.uniform(0.8, 1.25), room=kit.room * rng.uniform(0.6, 1.4))
    tonic_hz = _midi_hz(36 + clip.tonic) * (2.0 if clip.tonic < 5 else 1.0)
    samples = _drum_samples(kit, set(hits), clip, tonic_hz)
    level = 10.0 ** ((style.drum_level + rng.normal(0.0, 1.5)) / 20.0)
    pans = {"hat": 0.35, "open_hat": 0.35, "ride": -0.45, "perc_hi": 0.5, "perc_lo": -0.3, "tamb": -0.5,
            "crash": -0.3}
    for voice, (times, vel) in hits.items():
        sample = samples[voice] * _pan_gains(pans.get(voice, 0.0) * clip.width)[:, None] * np.float32(level)
        starts = (times * sr).astype(np.int64)
        for s, v in zip(starts, vel):
            if s >= n:
                continue
            m = min(sample.shape[1], n - s)
            bus[:, s:s + m] += np.float32(v) * sample[:, :m]
    kick = hits.get("kick")
    return kick[0] if kick is not None else np.zeros(0)


def _upsample_linear(x: np.ndarray, factor: int, n: int) -> np.ndarray:
    """Piecewise-linear upsampling of the last axis by an integer factor, cut to ``n``.

    np.interp and inner broadcasting are slow at this size; small factors fill one
    strided column per sub-step, large ones (control curves) interpolate to a 16-sample
    grid and repeat, which is indistinguishable for gains.
    """
    if factor >= 32 and factor % 16 == 0:
        r = np.arange(factor // 16, dtype=np.float32) / np.float32(factor // 16)
        fine = (x[..., :-1, None] + (x[..., 1:] - x[..., :-1])[..., None] * r).reshape(*x.shape[:-1], -1)
        return np.repeat(fine, 16, axis=-1)[..., :n]
    y = np.empty((*x.shape[:-1], x.shape[-1] - 1, factor), np.float32)
    step = x[..., 1:] - x[..., :-1]
    for k in range(factor):
        y[..., k] = x[..., :-1] + step * np.float32(k / factor)
    return y.reshape(*x.shape[:-1], -1)[..., :n]


def _texture(bus: np.ndarray, level: float, clip: _Clip) -> None:
    """Noise textures: wind-like low-passed noise, sometimes a band swept by ring modulation."""
    rng, n, sr = clip.rng, clip.n, clip.sr
    factor = int(rng.choice((4, 8, 16, 32)))
    low = rng.random((2, n // factor + 2), np.float32) * np.float32(2.0) - np.float32(1.0)
    tex = _upsample_linear(low, factor, n)
    swell = _upsample_linear(rng.uniform(0.2, 1.0, n // 4096 + 2).astype(np.float32), 4096, n)
    if rng.random() < 0.5:  # ring-modulate with a wandering sine: a swept noise band
        inc = _upsample_linear(rng.uniform(200.0, 3000.0, n // 8192 + 2).astype(np.float32), 8192, n)
        phase = np.cumsum((inc * np.float32(_TWO32 / sr)).astype(np.uint32), dtype=np.uint32)
        sine = np.sin(np.arange(_TABLE_SIZE, dtype=np.float32) * np.float32(2 * np.pi / _TABLE_SIZE))
        tex = tex * (sine[phase >> _SHIFT] * np.float32(1.5))
    bus += tex * (swell * np.float32(level * 0.6))


def _events(bus: np.ndarray, rate: float, clip: _Clip) -> None:
    """Irregular sound events: noise bursts, sweeps, glitch stutters, metallic clangs."""
    rng, n, sr = clip.rng, clip.n, clip.sr
    for _ in range(int(rng.poisson(rate * clip.seconds))):
        s = int(rng.integers(0, n))
        kind = int(rng.integers(4))
        dur = float(rng.uniform(0.05, 1.2))
        m = min(int(dur * sr), n - s)
        if m < 8:
            continue
        t = np.arange(m, dtype=np.float32) / np.float32(sr)
        if kind == 0:
            y = clip.noise_slice(m, hp=bool(rng.random() < 0.5)) * np.exp(-t / np.float32(dur / 3))
        elif kind == 1:
            f0, f1 = rng.uniform(80, 4000, 2)
            f = np.float32(f0) * np.float32(f1 / f0) ** (t / np.float32(dur))
            y = np.sin(np.cumsum(f) * np.float32(2 * np.pi / sr)) * np.sin(np.pi * t / np.float32(dur))
        elif kind == 2:
            g = max(16, int(rng.uniform(0.005, 0.04) * sr))
            grain = clip.noise_slice(g) * np.hanning(g).astype(np.float32)
            period = g + int(rng.uniform(0.0, 0.05) * sr)
            y = np.zeros(m, np.float32)
            for start in range(0, m - g, period):
                y[start:start + g] += grain
        else:
            f0, f1 = rng.uniform(150, 2500, 2)
            y = np.sin(2 * np.pi * np.float32(f0) * t) * np.sin(2 * np.pi * np.float32(f1) * t) \
                * np.exp(-t / np.float32(dur / 2))
        g = _pan_gains(rng.uniform(-1, 1) * clip.width) * np.float32(rng.uniform(0.2, 0.6))
        bus[:, s:s + m] += g[:, None] * y.astype(np.float32)[None, :]


def _reverb(bus: np.ndarray, amount: float, clip: _Clip) -> None:
    """Reverb-ish smearing: a darkened mono send through short diffusing taps, then
    different long taps per side (which also widens the image)."""
    if amount <= 0:
        return
    rng, sr, n = clip.rng, clip.sr, clip.n
    send = (bus[0] + bus[1]) * np.float32(0.5)
    send[1:] += send[:-1]  # two-tap average: the room absorbs the highs
    for _ in range(2):
        diffused = send.copy()
        for d_ms, g in zip(rng.uniform(5, 31, 3), (0.6, 0.5, 0.4)):
            d = int(d_ms * sr / 1000)
            if 0 < d < n:
                diffused[d:] += np.float32(g) * send[:-d]
        send = diffused * np.float32(0.45)
    decay = 0.15 + 0.5 * amount
    for c in (0, 1):
        for d_s in rng.uniform(0.03, 0.06 + 0.3 * amount, 4):
            d = int(d_s * sr)
            if 0 < d < n:
                bus[c, d:] += np.float32(amount * 0.45 * math.exp(-d_s / decay)) * send[:-d]


def _master(bus: np.ndarray, style: Style, clip: _Clip, kick_times: np.ndarray, loudness: float,
            compression: float) -> np.ndarray:
    """Compression, side-chain pumping and slow swells on 512-sample blocks; loudness;
    hiss and crackle; width; a soft limiter so the peak stays <= 0.99."""
    rng, sr, n = clip.rng, clip.sr, clip.n
    nb = -(-n // _BLOCK)
    energy = np.zeros(nb)
    full = n // _BLOCK
    for c in (0, 1):  # block energies without full-length temporaries
        blocks = bus[c, : full * _BLOCK].reshape(full, _BLOCK)
        energy[:full] += np.einsum("ij,ij->i", blocks, blocks)
        if full < nb:
            tail = bus[c, full * _BLOCK:]
            energy[full] += float(np.einsum("i,i->", tail, tail))
    level_db = 10.0 * np.log10(energy / (2 * _BLOCK) + 1e-10)
    smooth = signal.lfilter([0.2], [1.0, -0.8], level_db - level_db[0]) + level_db[0]
    gain_db = np.zeros(nb)
    if compression > 0:
        threshold = np.percentile(smooth, 90) - 14.0 * compression
        gain_db -= np.maximum(smooth - threshold, 0.0) * (1.0 - 1.0 / (1.0 + 6.0 * compression))
    if style.dynamics > 0:
        walk = signal.lfilter([0.02], [1.0, -0.98], rng.normal(0.0, 1.0, nb))
        walk /= np.abs(walk).max() + 1e-9
        gain_db += style.dynamics * 9.0 * walk
    if style.pump > 0 and kick_times.size:
        tb = (np.arange(nb) + 0.5) * _BLOCK / sr
        last = np.searchsorted(kick_times, tb) - 1
        since = np.where(last >= 0, tb - kick_times[np.maximum(last, 0)], 10.0)
        gain_db += 20.0 * np.log10(1.0 - style.pump * 0.8 * np.exp(-since / 0.12))
    gain = (10.0 ** (np.append(gain_db, gain_db[-1]) / 20.0)).astype(np.float32)
    bus *= _upsample_linear(gain, _BLOCK, n)
    # Width: L' = mid + w * side, done in place as L += (w - 1) / 2 * (L - R).
    side = bus[0] - bus[1]
    side *= np.float32((clip.width / 0.6 - 1.0) * 0.5)
    bus[0] += side
    bus[1] -= side
    del side
    # einsum, not np.dot: BLAS threads oversubscribe a machine rendering clips in parallel.
    rms = math.sqrt(float(np.einsum("ij,ij->", bus, bus, dtype=np.float64)) / (2 * n)) + 1e-9
    target = 10.0 ** (loudness / 20.0)
    bus *= np.float32(target / rms)
    hiss = np.float32(10.0 ** (style.noise / 20.0) * target * 1.7)
    for c in (0, 1):
        for start in range(0, n, _NOISE_LEN):
            chunk = clip.noise_slice(min(_NOISE_LEN - 1, n - start))
            bus[c, start:start + chunk.size] += chunk * hiss
    if style.crackle > 0:
        k = int(rng.poisson(style.crackle * 6 * clip.seconds))
        pos = rng.integers(0, max(1, n - 2), k)
        amp = (rng.exponential(1.0, k) * target * 1.5 * style.crackle).astype(np.float32)
        bus[:, pos] += amp
        bus[:, np.minimum(pos + 1, n - 1)] -= amp * np.float32(0.6)
    peak = max(float(bus.max()), -float(bus.min()))
    if peak > 0.98:
        np.tanh(bus, out=bus)
        peak = max(float(bus.max()), -float(bus.min()))
    if peak > 0.98:
        bus *= np.float32(0.98 / peak)
    return bus


# --------------------------------------------------------------------------- entry point


#: Groups of style fields a crossover clip may take from a neighbouring genre.
_CROSSOVER_GROUPS: tuple[tuple[str, ...], ...] = (
    ("drums", "kit", "drum_presence", "drum_jitter", "fill", "swing", "swing_unit"),
    ("scales", "progressions", "bars_per_chord"),
    ("bass",), ("chords",), ("lead",), ("pad",), ("voice",),
    ("reverb", "compression", "pump", "noise", "crackle", "texture", "events"),
)


def _crossover(style: Style, rng: np.random.Generator) -> Style:
    """Sometimes borrow a few field groups from a neighbouring genre: genres overlap."""
    if not style.neighbours or rng.random() >= style.crossover:
        return style
    other = STYLES[int(style.neighbours[rng.integers(len(style.neighbours))])]
    changes: dict[str, object] = {}
    for group in _CROSSOVER_GROUPS:
        if rng.random() < 0.3:
            changes.update({name: getattr(other, name) for name in group})
    return replace(style, **changes)


def render_clip(genre_id: int, rng: np.random.Generator, *, sr: int = 44_100, seconds: float = 30.0) -> np.ndarray:
    """Render one stereo clip in the style of FMA genre ``genre_id``.

    The clip is deterministic given the state of ``rng``: every random choice (crossover, tempo,
    key, arrangement, timbres, levels, noise) is drawn from it, in a fixed order.

    Parameters
    ----------
    genre_id : int
        FMA genre id; one of the keys of :data:`~fma_pipeline.core.sample.styles.STYLES`.
    rng : numpy.random.Generator
        Source of every random draw; advanced by the call.
    sr : int, default 44_100
        Sample rate of the clip, in Hz.
    seconds : float, default 30.0
        Length of the clip, in seconds.

    Returns
    -------
    numpy.ndarray
        float32 array of shape (n_samples, 2), ``n_samples = round(seconds * sr)`` (at least 1),
        C-contiguous, peak <= 0.99.

    Raises
    ------
    KeyError
        If ``genre_id`` has no synthesiser style.
    ValueError
        If ``sr`` or ``seconds`` is not positive.
    """
    if genre_id not in STYLES:
        raise KeyError(f"no synthesiser style for genre id {genre_id}; known: {sorted(STYLES)}")
    if sr <= 0 or seconds <= 0:
        raise ValueError("sr and seconds must be positive")
    style = _crossover(STYLES[genre_id], rng)
    n = max(1, int(round(seconds * sr)))
    bpm, spb, times = _grid(style, rng, seconds)
    n_bars = max(1, (times.size - 1) // spb)
    starts, active = _arrangement(style, rng, n_bars)
    tonic = int(rng.integers(12))
    scale = style.scales[rng.integers(len(style.scales))]
    chord_of_step, chords = _harmony(style, rng, tonic, spb, n_bars, starts)
    noise = rng.uniform(-1.0, 1.0, _NOISE_LEN).astype(np.float32)
    hp_noise = np.diff(noise, prepend=np.float32(0.0)) * np.float32(0.7)
    width = float(np.clip(style.width * rng.uniform(0.75, 1.25), 0.0, 1.0))
    clip = _Clip(sr=sr, n=n, seconds=seconds, rng=rng, style=style, bpm=bpm, spb=spb, times=times,
                 n_bars=n_bars, tonic=tonic, scale=scale, chord_of_step=chord_of_step, chords=chords,
                 sections=starts, active=active, noise=noise, hp_noise=hp_noise,
                 ramp=np.arange(n, dtype=np.uint32), tuning=2.0 ** (rng.normal(0.0, 8.0) / 1200.0),
                 width=width)
    bus = np.zeros((2, n), np.float32)
    for name in ("bass", "chords", "pad", "lead", "voice"):
        part: Part = getattr(style, name)
        bars = active[name]
        if part.mode == "off" or not part.timbres or not bars.any():
            continue
        timbre = _vary_timbre(part.timbres[rng.integers(len(part.timbres))], rng)
        if part.mode in ("bass", "walk"):
            events = _bass_events(part, clip, bars)
        elif part.mode == "melody":
            events = _melody_events(part, timbre, clip, bars)
        elif part.mode == "rap":
            events = _rap_events(part, clip, bars)
        else:
            events = _chord_events(part, clip, bars)
        level = part.level + float(rng.normal(0.0, 2.5))
        pan = float(rng.uniform(-1.0, 1.0)) * part.pan * width
        _render_part(bus, events, timbre, level, pan, clip, speech=part.mode == "rap")
    if style.texture > 0:
        _texture(bus, style.texture * float(rng.uniform(0.5, 1.5)), clip)
    if style.events > 0:
        _events(bus, style.events * float(rng.uniform(0.5, 1.5)), clip)
    kick_times = np.zeros(0)
    if active["drums"].any():
        kick_times = _render_drums(bus, style, clip, active["drums"])
    _reverb(bus, float(np.clip(style.reverb * rng.uniform(0.7, 1.3), 0.0, 1.0)), clip)
    loudness = style.loudness + float(rng.normal(0.0, 1.5))
    compression = float(np.clip(style.compression + rng.normal(0.0, 0.08), 0.0, 1.0))
    out = _master(bus, style, clip, kick_times, loudness, compression)
    return np.ascontiguousarray(out.T)
