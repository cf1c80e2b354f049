"""Audio that is not music, made here (no downloads): what tagging must answer ``unsure`` to.

Each maker returns ``(samples, rate)``: a steady test tone, white noise, birdsong-like
chirps (fast frequency sweeps between 2 and 8 kHz with silences) and speech-like sound
(formant-filtered glottal pulses: vowel sequences at a talking pitch with pauses between
syllables; a stand-in for recorded speech, which this offline machine does not have).
"""

from __future__ import annotations

import numpy as np
from scipy import signal

SR = 22_050


def tone(seconds: float = 20.0, hz: float = 440.0) -> tuple[np.ndarray, int]:
    t = np.arange(int(seconds * SR)) / SR
    return 0.5 * np.sin(2 * np.pi * hz * t).astype(np.float32), SR


def noise(seconds: float = 20.0, seed: int = 0) -> tuple[np.ndarray, int]:
    return (0.3 * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32), SR


def chirps(seconds: float = 20.0, seed: int = 0) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * SR), np.float32)
    at = 0
    while at < len(out):
        n = int(rng.uniform(0.05, 0.25) * SR)
        t = np.arange(n) / SR
        f0, f1 = rng.uniform(2000, 8000, size=2)
        sweep = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t ** 2 / (2 * t[-1])))
        piece = (0.4 * sweep * np.hanning(n)).astype(np.float32)[: len(out) - at]
        out[at: at + len(piece)] = piece
        at += n + int(rng.uniform(0.05, 0.6) * SR)
    return out, SR


FORMANTS = {"a": (730, 1090, 2440), "i": (270, 2290, 3010), "u": (300, 870, 2240),
            "e": (530, 1840, 2480), "o": (570, 840, 2410)}


def speech(seconds: float = 20.0, seed: int = 0) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * SR), np.float32)
    at = 0
    while at < len(out):
        n = int(rng.uniform(0.12, 0.3) * SR)  # one syllable
        pitch = rng.uniform(100, 220) * np.linspace(1.1, 0.9, n)  # falling intonation
        phase = np.cumsum(pitch / SR)
        pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(np.float64)
        voiced = pulses + 0.02 * rng.standard_normal(n)
        for formant in FORMANTS[rng.choice(list(FORMANTS))]:
            b, a = signal.iirpeak(formant, 8, SR)
            voiced = voiced + signal.lfilter(b, a, voiced)
        piece = (voiced * np.hanning(n))
        piece = (0.3 * piece / (np.abs(piece).max() + 1e-9)).astype(np.float32)[: len(out) - at]
        out[at: at + len(piece)] = piece
        at += n + int(rng.uniform(0.03, 0.4) * SR)
    return out, SR


MAKERS = {"tone": tone, "noise": noise, "chirps": chirps, "speech": speech}


# ------------------------------------------------------------------ real synthetic speech and sox sounds

#: Short texts to read (written for this project, free to use), one per voice language.
TEXTS = {
    "en": ("Chapter one. The house stood at the end of a quiet street, and nobody had lived in it for years. "
           "Every morning the old woman walked past it with her dog, and every morning she stopped, looked at "
           "the dark windows, and shook her head. Then one day, in the middle of winter, a light came on."),
    "de": ("Erstes Kapitel. Das Haus stand am Ende einer ruhigen Strasse, und seit Jahren wohnte niemand mehr "
           "darin. Jeden Morgen ging die alte Frau mit ihrem Hund daran vorbei und blieb einen Moment stehen."),
    "fr": ("Chapitre premier. La maison se trouvait au bout d'une rue tranquille, et personne n'y habitait "
           "depuis des annees. Chaque matin, la vieille femme passait devant avec son chien et s'arretait."),
    "es": ("Capitulo uno. La casa estaba al final de una calle tranquila, y nadie vivia en ella desde hacia "
           "anos. Cada manana la anciana pasaba por delante con su perro, y cada manana se detenia a mirar."),
    "it": ("Capitolo primo. La casa si trovava alla fine di una strada tranquilla, e nessuno ci abitava da "
           "anni. Ogni mattina la vecchia signora passava davanti con il suo cane e si fermava a guardare."),
}
#: espeak-ng voices (language, variant) read at talking speeds and pitches.
VOICES = [("en-us", ""), ("en-gb", "+f3"), ("en-us", "+m3"), ("de", ""), ("fr-fr", "+f2"), ("es", "+m2"),
          ("it", ""), ("en-gb-x-rp", "+f4")]
#: sox effect chains that make speech sound recorded: a telephone band, a room, a slower reader.
SPEECH_EFFECTS = {"plain": [], "phone": ["highpass", "300", "lowpass", "3400"], "room": ["reverb", "40"],
                  "slow": ["tempo", "0.85"]}
#: sox-made sounds that are not music (``sox -n out.wav synth ...`` arguments).
SOX_SOUNDS = {
    "white": ["synth", "18", "whitenoise", "vol", "0.3"],
    "pink": ["synth", "18", "pinknoise", "vol", "0.4"],
    "brown": ["synth", "18", "brownnoise", "vol", "0.5"],
    "sweep": ["synth", "18", "sine", "100-6000", "vol", "0.4"],
    "hum": ["synth", "18", "sine", "50", "sine", "100", "vol", "0.4"],
    "engine": ["synth", "18", "brownnoise", "lowpass", "300", "tremolo", "25", "90"],
    "wind": ["synth", "18", "pinknoise", "bandpass", "500", "2q", "tremolo", "0.3", "80"],
    "beeps": ["synth", "0.3", "sine", "1000", "pad", "0", "0.7", "repeat", "17", "vol", "0.4"],
}


def tool(name: str) -> str | None:
    """Path of an external program (``espeak-ng``, ``sox``) or None when it is not installed."""
    import shutil

    return shutil.which(name)


def speech_files(folder, seconds: float = 18.0) -> list:
    """Real synthetic speech: every voice of :data:`VOICES` reads its language's text, once per effect
    of :data:`SPEECH_EFFECTS` (needs ``espeak-ng`` and ``sox``); returns the WAV paths (22.05 kHz mono)."""
    import subprocess
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (voice, variant) in enumerate(VOICES):
        raw = folder / f"raw{i}.wav"
        text = TEXTS[voice.split("-")[0]]
        speed = str(140 + 12 * (i % 4))
        subprocess.run(["espeak-ng", "-w", str(raw), "-v", voice + variant, "-s", speed, "-g", str(2 + i % 3), text],
                       check=True, capture_output=True)
        for effect, chain in SPEECH_EFFECTS.items():
            out = folder / f"speech-{voice}{variant.replace('+', '-')}-{effect}.wav"
            subprocess.run(["sox", str(raw), "-r", str(SR), "-c", "1", str(out), *chain, "trim", "0", str(seconds)],
                           check=True, capture_output=True)
            paths.append(out)
        raw.unlink()
    return paths


def sox_files(folder) -> list:
    """Non-music made by sox (:data:`SOX_SOUNDS`: noises, a sweep, mains hum, an engine, wind, beeps)."""
    import subprocess
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, args in SOX_SOUNDS.items():
        out = folder / f"sox-{name}.wav"
        subprocess.run(["sox", "-n", "-r", str(SR), "-c", "1", str(out), *args], check=True, capture_output=True)
        paths.append(out)
    return paths
