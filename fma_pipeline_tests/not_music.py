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
