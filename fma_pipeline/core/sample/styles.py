"""The sample's genres as sound: timbres, drum kits, parts and one :class:`Style` per FMA genre.

Pure data for :mod:`fma_pipeline.core.sample.engine`, which renders them: tempo, drum
patterns, swing, harmony, instrument timbres and mix of each genre (FMA ids), the genres a
clip may borrow from (crossover), and the parent of each sub-genre style.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

__all__ = ["STYLES", "STYLE_PARENT", "STYLE_TITLES", "DrumKit", "Part", "Style", "Timbre"]

# Scales as semitones above the tonic.
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
DORIAN = (0, 2, 3, 5, 7, 9, 10)
MIXOLYDIAN = (0, 2, 4, 5, 7, 9, 10)
PHRYGIAN = (0, 1, 3, 5, 7, 8, 10)
HARMONIC_MINOR = (0, 2, 3, 5, 7, 8, 11)
BLUES = (0, 3, 5, 6, 7, 10)
MAJOR_PENTATONIC = (0, 2, 4, 7, 9)
MINOR_PENTATONIC = (0, 3, 5, 7, 10)
HIJAZ = (0, 1, 4, 5, 7, 8, 10)
WHOLE_TONE = (0, 2, 4, 6, 8, 10)
CHROMATIC = tuple(range(12))

#: Chord qualities as just-intonation frequency ratios (periodic, hence one wavetable).

# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Timbre:
    """A pitched instrument: a harmonic spectrum and an amplitude envelope.

    ``shape`` names a harmonic law (sine, saw, square, triangle, organ, brass, reed,
    string, pluck, piano, epiano, flute, nasal, voice); ``tilt`` adds dB per octave;
    ``drive`` bakes saturation into the wavetable. ``pluck`` is the level of a bright,
    fast-decaying layer (``pluck_decay`` s) over the body: the spectral decay of a
    Karplus-Strong string. ``bend`` is the probability of scooping into a note from below
    (twang, blue notes); ``breath`` mixes envelope-following noise (flute, voice).

    Parameters
    ----------
    shape : str, default "saw"
        Harmonic law of the spectrum (one of the names above).
    harmonics : int, default 16
        Number of harmonics in the wavetable.
    tilt : float, default 0.0
        Spectral tilt added to the law, in dB per octave.
    drive : float, default 0.0
        Saturation baked into the wavetable (0 is clean).
    attack : float, default 0.005
        Attack time, in seconds.
    decay : float, default 0.4
        Time constant of the decay towards the sustain level, in seconds.
    sustain : float, default 0.5
        Sustain level, as a fraction of the peak.
    release : float, default 0.08
        Release time after the note is let go, in seconds.
    pluck : float, default 0.0
        Level of the bright, fast-decaying layer (0: none).
    pluck_decay : float, default 0.05
        Time constant of that layer, in seconds.
    vibrato : float, default 0.0
        Vibrato depth, in semitones.
    vibrato_rate : float, default 5.5
        Vibrato rate, in Hz.
    chorus : float, default 0.0
        Detune of a second copy on the other side, in cents (0: none).
    bend : float, default 0.0
        Probability of scooping into a note from below.
    breath : float, default 0.0
        Level of the envelope-following noise.
    """

    shape: str = "saw"
    harmonics: int = 16
    tilt: float = 0.0
    drive: float = 0.0
    attack: float = 0.005
    decay: float = 0.4
    sustain: float = 0.5
    release: float = 0.08
    pluck: float = 0.0
    pluck_decay: float = 0.05
    vibrato: float = 0.0
    vibrato_rate: float = 5.5
    chorus: float = 0.0
    bend: float = 0.0
    breath: float = 0.0


@dataclass(frozen=True)
class Part:
    """One musical role in a style.

    ``mode``: off | chord (hits on the pattern) | hold (one chord per change) | comp (jazz
    comping) | arp | bass (pattern letters R F O T 6 7 A S) | walk | melody | rap | drone.
    ``patterns`` are 16-step bars (a per-clip choice); ``register`` is the lowest MIDI note
    of the part; ``level`` dB; ``presence`` is the chance the part plays in a clip;
    ``density`` notes per step for melodies and comping; ``legato`` the held fraction of
    the gap to the next note; ``repetition`` how often a melodic motif comes back;
    ``leap`` the chance of melodic leaps; ``pan`` the spread of its stereo position.

    Parameters
    ----------
    timbres : tuple of Timbre, default ()
        Instruments the part may play; one is chosen per clip.
    mode : str, default "off"
        How the part plays (one of the modes above).
    patterns : tuple of str, default ("x...............",)
        16-step bar patterns; one is chosen per clip.
    register : int, default 48
        Lowest MIDI note of the part.
    level : float, default 0.0
        Level, in dB.
    presence : float, default 1.0
        Chance that the part plays in a clip.
    density : float, default 0.4
        Notes per step, for melodies and comping.
    legato : float, default 0.9
        Held fraction of the gap to the next note.
    repetition : float, default 0.5
        How often a melodic motif comes back.
    leap : float, default 0.15
        Chance of a melodic leap.
    pan : float, default 0.3
        Spread of the part's stereo position (0: centre).
    """

    timbres: tuple[Timbre, ...] = ()
    mode: str = "off"
    patterns: tuple[str, ...] = ("x...............",)
    register: int = 48
    level: float = 0.0
    presence: float = 1.0
    density: float = 0.4
    legato: float = 0.9
    repetition: float = 0.5
    leap: float = 0.15
    pan: float = 0.3


@dataclass(frozen=True)
class DrumKit:
    """Synthesis parameters of the drum one-shots (times in s, pitches in Hz).

    ``snare_kind`` is snare | clap | brush | rim; ``room`` and ``room_size`` give the
    short reverb baked into each one-shot.

    Parameters
    ----------
    kick_pitch : float, default 52.0
        Final pitch of the kick, in Hz.
    kick_sweep : float, default 3.0
        Start of the kick's downward pitch sweep, as a multiple of ``kick_pitch``.
    kick_decay : float, default 0.2
        Decay of the kick, in seconds.
    kick_click : float, default 0.3
        Level of the kick's attack click.
    kick_drive : float, default 0.0
        Saturation of the kick.
    snare_pitch : float, default 190.0
        Pitch of the snare's tonal body, in Hz.
    snare_noise : float, default 0.6
        Share of noise (against the tonal body) in the snare, 0..1.
    snare_decay : float, default 0.14
        Decay of the snare, in seconds.
    snare_kind : str, default "snare"
        snare, clap, brush or rim.
    hat_decay : float, default 0.045
        Decay of the closed hi-hat, in seconds.
    hat_bright : float, default 1.0
        Brightness of the hi-hats.
    ride_decay : float, default 0.9
        Decay of the ride cymbal, in seconds.
    perc_pitch : tuple of (float, float), default (170.0, 280.0)
        Pitches of the low and high hand drum, in Hz.
    perc_decay : float, default 0.16
        Decay of the hand drums, in seconds.
    room : float, default 0.2
        Level of the short reverb baked into each one-shot.
    room_size : float, default 0.2
        Size of that reverb.
    """

    kick_pitch: float = 52.0
    kick_sweep: float = 3.0
    kick_decay: float = 0.2
    kick_click: float = 0.3
    kick_drive: float = 0.0
    snare_pitch: float = 190.0
    snare_noise: float = 0.6
    snare_decay: float = 0.14
    snare_kind: str = "snare"
    hat_decay: float = 0.045
    hat_bright: float = 1.0
    ride_decay: float = 0.9
    perc_pitch: tuple[float, float] = (170.0, 280.0)
    perc_decay: float = 0.16
    room: float = 0.2
    room_size: float = 0.2


@dataclass(frozen=True)
class Style:
    """Everything that makes a genre sound like itself.

    Rhythm: ``tempo`` (BPM range), ``meters`` (beats per bar choices), ``swing`` (delay of
    off-beat 8ths, ``swing_unit`` 2, or 16ths, 1, as a fraction of the grid), ``humanize``
    (timing sd, s), ``free`` (0..1 irregular timing), ``tempo_drift`` (rubato),
    ``drums`` ((voice, pattern choices) pairs; voices kick snare hat open_hat ride perc
    tamb timpani), ``drum_presence``, ``drum_jitter`` (dropped and ghost hits), ``fill``
    and ``crash`` (chances per section). Harmony: ``scales``, ``progressions``
    ((semitones above the tonic, quality) per chord), ``bars_per_chord``,
    ``section_change`` (chance a section changes progression or key), ``breakdown``.
    Parts: ``bass``, ``chords``, ``lead``, ``pad``, ``voice``. Sound: ``texture`` (noise
    texture level), ``events`` (irregular events per second), ``reverb``, ``width``,
    ``loudness`` (RMS dBFS), ``compression``, ``pump`` (side-chain depth), ``dynamics``
    (slow swells), ``noise`` (hiss, dB under the signal), ``crackle``. ``neighbours`` and
    ``crossover``: genres a clip may borrow from, and how often.

    Parameters
    ----------
    title : str
        FMA title of the genre.
    tempo : tuple of (float, float)
        Range of the tempo, in BPM.
    meters : tuple of int, default (4,)
        Beats-per-bar choices.
    swing : float, default 0.0
        Delay of the off-beats, as a fraction of the grid.
    swing_unit : int, default 2
        What swings: 8ths (2) or 16ths (1).
    humanize : float, default 0.006
        Standard deviation of the timing, in seconds.
    free : float, default 0.0
        Irregular timing, 0..1.
    tempo_drift : float, default 0.0
        Rubato.
    drums : tuple of (str, tuple of str), default ()
        (voice, pattern choices) pairs.
    kit : DrumKit, default DrumKit()
        Synthesis parameters of the drum one-shots.
    drum_presence : float, default 1.0
        Chance that the drums play in a clip.
    drum_level : float, default 0.0
        Level of the drums, in dB.
    drum_jitter : float, default 0.05
        Chance of dropped and ghost hits.
    fill : float, default 0.3
        Chance of a drum fill per section.
    crash : float, default 0.5
        Chance of a crash per section.
    scales : tuple of tuple of int, default (MAJOR,)
        Scale choices, as semitones above the tonic.
    progressions : tuple of tuple of (int, str), default (((0, "maj"),),)
        Chord progressions: (semitones above the tonic, quality) per chord.
    bars_per_chord : tuple of float, default (1.0,)
        Choices of bars per chord.
    section_change : float, default 0.3
        Chance that a section changes progression or key.
    breakdown : float, default 0.15
        Chance that a section after the first is a breakdown, without drums and bass.
    bass, chords, lead, pad, voice : Part, default Part()
        The parts (off by default).
    texture : float, default 0.0
        Level of the noise texture.
    events : float, default 0.0
        Irregular events per second.
    reverb : float, default 0.25
        Reverb amount, 0..1.
    width : float, default 0.6
        Stereo width, 0..1.
    loudness : float, default -16.0
        Target RMS level, in dBFS.
    compression : float, default 0.4
        Compression amount, 0..1.
    pump : float, default 0.0
        Depth of the side-chain pumping.
    dynamics : float, default 0.1
        Depth of the slow swells.
    noise : float, default -60.0
        Hiss, in dB under the signal.
    crackle : float, default 0.0
        Level of vinyl crackle.
    neighbours : tuple of int, default ()
        FMA genre ids a clip may borrow from.
    crossover : float, default 0.3
        Chance that a clip borrows from a neighbour.
    """

    title: str
    tempo: tuple[float, float]
    meters: tuple[int, ...] = (4,)
    swing: float = 0.0
    swing_unit: int = 2
    humanize: float = 0.006
    free: float = 0.0
    tempo_drift: float = 0.0
    drums: tuple[tuple[str, tuple[str, ...]], ...] = ()
    kit: DrumKit = DrumKit()
    drum_presence: float = 1.0
    drum_level: float = 0.0
    drum_jitter: float = 0.05
    fill: float = 0.3
    crash: float = 0.5
    scales: tuple[tuple[int, ...], ...] = (MAJOR,)
    progressions: tuple[tuple[tuple[int, str], ...], ...] = (((0, "maj"),),)
    bars_per_chord: tuple[float, ...] = (1.0,)
    section_change: float = 0.3
    breakdown: float = 0.15
    bass: Part = Part()
    chords: Part = Part()
    lead: Part = Part()
    pad: Part = Part()
    voice: Part = Part()
    texture: float = 0.0
    events: float = 0.0
    reverb: float = 0.25
    width: float = 0.6
    loudness: float = -16.0
    compression: float = 0.4
    pump: float = 0.0
    dynamics: float = 0.1
    noise: float = -60.0
    crackle: float = 0.0
    neighbours: tuple[int, ...] = ()
    crossover: float = 0.3


def _drums(**voices: tuple[str, ...] | str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Drum patterns as a hashable tuple (a frozen dataclass field cannot hold a dict)."""
    return tuple((name, (p,) if isinstance(p, str) else tuple(p)) for name, p in voices.items() if p)


# --------------------------------------------------------------------------- the styles


_GUITAR = Timbre("pluck", 14, drive=0.55, attack=0.003, decay=1.2, sustain=0.6, release=0.05, pluck=0.6)
_CLEAN_GUITAR = Timbre("pluck", 12, attack=0.002, decay=0.6, sustain=0.15, release=0.06, pluck=0.8)
_LEAD_GUITAR = Timbre("saw", 14, drive=0.5, attack=0.005, decay=1.5, sustain=0.7, release=0.08, vibrato=0.25,
                      vibrato_rate=5.5, bend=0.25)
_ACOUSTIC = Timbre("pluck", 16, tilt=-1.0, attack=0.002, decay=0.7, sustain=0.05, release=0.1, pluck=0.9,
                   pluck_decay=0.04)
_ROUND_BASS = Timbre("saw", 8, tilt=-8.0, attack=0.004, decay=0.5, sustain=0.5, release=0.05)
_UPRIGHT = Timbre("pluck", 8, tilt=-8.0, attack=0.004, decay=0.45, sustain=0.2, release=0.08, pluck=0.4)
_SUB = Timbre("sine", 1, attack=0.005, decay=0.8, sustain=0.6, release=0.08)
_SYNTH_BASS = Timbre("saw", 16, tilt=-3.0, drive=0.2, attack=0.003, decay=0.25, sustain=0.4, release=0.03)
_SAW_LEAD = Timbre("saw", 20, attack=0.01, decay=0.3, sustain=0.7, release=0.1, vibrato=0.1, chorus=10.0)
_SQUARE_LEAD = Timbre("square", 16, attack=0.005, decay=0.2, sustain=0.6, release=0.05)
_STAB = Timbre("saw", 16, attack=0.003, decay=0.15, sustain=0.1, release=0.06, chorus=12.0)
_SAW_PAD = Timbre("saw", 12, tilt=-4.0, attack=0.8, decay=2.0, sustain=0.8, release=0.8, chorus=12.0)
_SOFT_PAD = Timbre("triangle", 9, attack=2.0, decay=3.0, sustain=0.9, release=2.0, chorus=8.0)
_BELL = Timbre("sine", 1, attack=0.002, decay=1.0, sustain=0.0, release=1.2, pluck=0.5, pluck_decay=0.02)
_PIANO = Timbre("piano", 16, attack=0.002, decay=0.9, sustain=0.15, release=0.25, pluck=0.5, pluck_decay=0.03)
_EPIANO = Timbre("epiano", 8, attack=0.003, decay=1.2, sustain=0.25, release=0.2, pluck=0.35, pluck_decay=0.015,
                 vibrato=0.04, vibrato_rate=4.5)
_ORGAN = Timbre("organ", 12, attack=0.01, decay=1.0, sustain=0.9, release=0.06, vibrato=0.06, vibrato_rate=6.5)
_VOICE = Timbre("voice", 24, attack=0.03, decay=0.6, sustain=0.8, release=0.12, vibrato=0.2, vibrato_rate=5.2,
                breath=0.08, bend=0.15)
_RAP_VOICE = Timbre("voice", 30, attack=0.01, decay=0.15, sustain=0.6, release=0.04, breath=0.3)
_STRINGS = Timbre("string", 16, attack=0.35, decay=2.0, sustain=0.85, release=0.5, vibrato=0.15, vibrato_rate=5.5,
                  chorus=7.0)
_VIOLIN = Timbre("string", 18, attack=0.06, decay=1.5, sustain=0.8, release=0.2, vibrato=0.3, vibrato_rate=5.8)
_CELLO = Timbre("string", 14, tilt=-3.0, attack=0.08, decay=2.0, sustain=0.85, release=0.3, vibrato=0.15)
_HARP = Timbre("pluck", 10, tilt=-3.0, attack=0.002, decay=1.2, sustain=0.0, release=0.6, pluck=0.5)
_BRASS = Timbre("brass", 18, tilt=2.0, drive=0.15, attack=0.04, decay=0.4, sustain=0.75, release=0.1, chorus=8.0,
                vibrato=0.08)
_TRUMPET = Timbre("brass", 18, tilt=3.0, drive=0.1, attack=0.03, decay=0.5, sustain=0.8, release=0.08, vibrato=0.15,
                  bend=0.15)
_SAX = Timbre("reed", 16, attack=0.03, decay=0.6, sustain=0.75, release=0.08, vibrato=0.2, breath=0.06, bend=0.2)
_FLUTE = Timbre("flute", 8, attack=0.05, decay=0.8, sustain=0.8, release=0.1, vibrato=0.12, breath=0.12)
_FIDDLE = Timbre("string", 16, tilt=1.0, attack=0.04, decay=0.8, sustain=0.7, release=0.1, vibrato=0.25, bend=0.2)
_TWANG = Timbre("pluck", 16, tilt=3.0, drive=0.1, attack=0.002, decay=0.5, sustain=0.2, release=0.06, pluck=0.9,
                pluck_decay=0.03, bend=0.45)
_HARMONICA = Timbre("reed", 14, tilt=1.0, drive=0.15, attack=0.03, decay=0.5, sustain=0.8, release=0.06,
                    vibrato=0.25, bend=0.5, breath=0.08)
_SITAR = Timbre("nasal", 28, attack=0.002, decay=1.0, sustain=0.1, release=0.2, pluck=0.7, pluck_decay=0.06,
                bend=0.5, vibrato=0.1)
_KOTO = Timbre("pluck", 14, tilt=1.0, attack=0.002, decay=0.8, sustain=0.0, release=0.3, pluck=0.8, bend=0.3)
_DRONE = Timbre("nasal", 20, tilt=-2.0, attack=1.0, decay=3.0, sustain=0.9, release=1.0, chorus=4.0)
_NOISE_DRONE = Timbre("square", 24, drive=0.4, attack=1.5, decay=3.0, sustain=0.9, release=1.5, chorus=20.0,
                      vibrato=0.3, vibrato_rate=0.15)
_GLASS = Timbre("triangle", 6, tilt=4.0, attack=0.01, decay=0.6, sustain=0.2, release=0.8, vibrato=0.4, vibrato_rate=3.0)

_ROCK = Style(
    "Rock", (100, 140),
    drums=_drums(kick=("x.......x.x.....", "x.....x.x.......", "x.......x......."),
                 snare=("....x.......x...", "....x.......x..g"),
                 hat=("x.x.x.x.x.x.x.x.", "x.o.x.o.x.o.x.o."), open_hat=("..............x.", "")),
    kit=DrumKit(kick_pitch=55, kick_decay=0.16, snare_pitch=200, room=0.3),
    scales=(MAJOR, MIXOLYDIAN, MINOR),
    progressions=(((0, "pow"), (10, "pow"), (5, "pow"), (0, "pow")), ((0, "pow"), (5, "pow"), (7, "pow"), (5, "pow")),
                  ((0, "min"), (8, "maj"), (10, "maj"), (0, "min")), ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj"))),
    bars_per_chord=(1.0, 2.0),
    bass=Part((_ROUND_BASS,), "bass", ("R.R.R.R.R.R.R.R.", "R...R.R.R...R.R.", "R.....R.R.....R."), register=36,
              level=-2.0, legato=0.8),
    chords=Part((_GUITAR, _GUITAR, _CLEAN_GUITAR), "chord",
                ("x.x.x.x.x.x.x.x.", "x.....x.x.....x.", "x..x..x.x..x..x."), register=48, level=0.0,
                legato=0.9, pan=0.6),
    lead=Part((_LEAD_GUITAR,), "melody", register=62, level=-3.0, presence=0.55, density=0.35, legato=0.9,
              repetition=0.5),
    reverb=0.25, width=0.6, loudness=-14.0, compression=0.5, noise=-60.0,
    neighbours=(25, 31, 10, 3),
)

_ELECTRONIC = Style(
    "Electronic", (118, 132), humanize=0.0005,
    drums=_drums(kick="x...x...x...x...", snare=("....x.......x...",),
                 hat=("xgxgxgxgxgxgxgxg", "..x...x...x...x.", "gxgxgxgxgxgxgxgx"), open_hat=("..x...x...x...x.", "")),
    kit=DrumKit(kick_pitch=50, kick_sweep=3.5, kick_decay=0.25, kick_drive=0.3, snare_kind="clap", snare_decay=0.12,
                hat_decay=0.03, hat_bright=1.3, room=0.1),
    drum_level=3.0, drum_jitter=0.02, fill=0.2, crash=0.3,
    scales=(MINOR, DORIAN),
    progressions=(((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")), ((0, "min"), (5, "min"), (8, "maj"), (7, "maj")),
                  ((0, "min7"), (10, "maj"))),
    bars_per_chord=(1.0, 2.0),
    bass=Part((_SYNTH_BASS,), "bass", ("..R...R...R...R.", "R.RR..R.R.RR..R.", "R..R..R.R..R..R."), register=36,
              level=-2.0, legato=0.6),
    chords=Part((_STAB, _SQUARE_LEAD), "chord", ("..x..x....x..x..", "x..x..x...x..x..", "..x...x...x...x."),
                register=48, level=-5.0, presence=0.8, legato=0.4, pan=0.4),
    lead=Part((_SAW_LEAD, _SQUARE_LEAD, _BELL), "melody", register=60, level=-4.0, presence=0.6, density=0.45,
              repetition=0.8),
    pad=Part((_SAW_PAD,), "hold", register=48, level=-8.0, presence=0.6),
    reverb=0.3, width=0.8, loudness=-12.0, compression=0.6, pump=0.5, noise=-70.0,
    neighbours=(181, 42, 10, 542),
)

_HIPHOP = Style(
    "Hip-Hop", (80, 100), swing=0.12, swing_unit=1, humanize=0.004,
    drums=_drums(kick=("x.....x...x.....", "x.x.......x..x..", "x......xx.x....."), snare="....x.......x...",
                 hat=("x.x.x.x.x.x.x.x.", "x.xxx.x.x.xxx.x.", "xgxgxgxgxgxgxgxg")),
    kit=DrumKit(kick_pitch=48, kick_decay=0.35, kick_drive=0.2, snare_pitch=180, snare_decay=0.18, room=0.15),
    drum_level=2.0, fill=0.1, crash=0.1,
    scales=(MINOR, DORIAN),
    progressions=(((0, "min7"), (5, "min7")), ((0, "min7"), (8, "maj7")), ((0, "min7"),), ((0, "min9"), (10, "maj"))),
    bars_per_chord=(1.0, 2.0), breakdown=0.05,
    bass=Part((_SUB,), "bass", ("R.....R...R.....", "R.......R.R.....", "R.........R....."), register=24, level=0.0,
              legato=1.0),
    chords=Part((replace(_EPIANO, tilt=-4.0), replace(_STRINGS, tilt=-5.0), replace(_PIANO, tilt=-5.0)), "chord",
                ("x...............", "x.......x.......", "x.....x........."), register=48, level=-3.0, legato=1.0),
    lead=Part((_FLUTE, _BELL), "melody", register=62, level=-8.0, presence=0.3, density=0.25, repetition=0.8),
    voice=Part((_RAP_VOICE,), "rap", register=48, level=0.0, presence=0.35, density=0.6, repetition=0.6, pan=0.0),
    reverb=0.15, width=0.5, loudness=-13.0, compression=0.6, noise=-50.0, crackle=0.5,
    neighbours=(539, 542, 14),
)

_FOLK = Style(
    "Folk", (80, 125), meters=(4, 4, 3), humanize=0.012,
    drums=_drums(kick="x.......x.......", snare="....x.......x...", tamb=("..x...x...x...x.", "x.x.x.x.x.x.x.x.")),
    kit=DrumKit(kick_pitch=60, kick_decay=0.15, kick_click=0.1, snare_kind="brush", snare_decay=0.15, room=0.4),
    drum_presence=0.35, drum_level=-5.0, crash=0.0, fill=0.1,
    scales=(MAJOR, MAJOR, MIXOLYDIAN, DORIAN),
    progressions=(((0, "maj"), (5, "maj"), (0, "maj"), (7, "maj")), ((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")),
                  ((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")), ((9, "min"), (7, "maj"), (5, "maj"), (7, "maj"))),
    bars_per_chord=(1.0, 2.0),
    bass=Part((_UPRIGHT, replace(_ACOUSTIC, tilt=-6.0)), "bass", ("R.......F.......", "R...F...R...F..."),
              register=36, level=-7.0, presence=0.6, legato=0.7),
    chords=Part((_ACOUSTIC,), "chord", ("x.x.x.xxx.x.x.xx", "x...x.x.x...x.x.", "x.......x.x.x..."),
                register=48, level=0.0, legato=1.0, pan=0.4),
    lead=Part((_FLUTE, _FIDDLE, _VOICE), "melody", register=62, level=-2.0, presence=0.8, density=0.35,
              repetition=0.6, leap=0.1),
    reverb=0.3, width=0.6, loudness=-18.0, compression=0.3, noise=-56.0, dynamics=0.2,
    neighbours=(9, 3, 2),
)

_JAZZ = Style(
    "Jazz", (100, 190), swing=0.3, swing_unit=2, humanize=0.012,
    drums=_drums(ride="x...x.x.x...x.x.", hat="....x.......x...", kick=("g...g...g...g...", "................"),
                 snare=("................", "......g.......g.")),
    kit=DrumKit(kick_pitch=58, kick_decay=0.2, kick_click=0.1, snare_kind="brush", snare_decay=0.2, hat_decay=0.03,
                ride_decay=1.1, room=0.35),
    drum_jitter=0.3, drum_level=-3.0, fill=0.15, crash=0.15,
    scales=(MAJOR, DORIAN, MIXOLYDIAN),
    progressions=(((2, "min7"), (7, "dom7"), (0, "maj7"), (0, "maj7")), ((0, "maj7"), (9, "min7"), (2, "min7"), (7, "dom7")),
                  ((2, "min7"), (7, "dom7"), (0, "min7"), (0, "min7")), ((0, "maj6"), (9, "dom7"), (2, "min7"), (7, "dom7"))),
    bars_per_chord=(1.0, 0.5, 2.0),
    bass=Part((_UPRIGHT,), "walk", register=36, level=-1.0, legato=0.85),
    chords=Part((_PIANO, _EPIANO), "comp", register=50, level=-3.0, density=0.3, legato=0.6, pan=0.5),
    lead=Part((_SAX, _TRUMPET, _PIANO), "melody", register=60, level=-1.0, presence=0.85, density=0.5,
              repetition=0.25, leap=0.3, legato=0.85),
    reverb=0.3, width=0.6, loudness=-19.0, compression=0.25, noise=-58.0, dynamics=0.3,
    neighbours=(179, 74, 3, 14),
)

_CLASSICAL = Style(
    "Classical", (60, 110), meters=(4, 3), humanize=0.01, tempo_drift=0.06,
    scales=(MAJOR, MINOR, HARMONIC_MINOR),
    progressions=(((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")), ((0, "maj"), (9, "min"), (5, "maj"), (7, "dom7")),
                  ((0, "min"), (5, "min"), (7, "maj"), (0, "min")), ((0, "maj"), (2, "min"), (7, "dom7"), (0, "maj")),
                  ((9, "min"), (2, "min"), (7, "dom7"), (0, "maj"))),
    bars_per_chord=(1.0, 2.0), breakdown=0.0,
    bass=Part((_CELLO,), "bass", ("R.......R.......", "R...............", "R.......F......."), register=36,
              level=-4.0, presence=0.8, legato=1.0),
    chords=Part((_HARP, _PIANO), "arp", ("x.x.x.x.x.x.x.x.", "x.xxx.xxx.xxx.xx"), register=48, level=-6.0,
                presence=0.4, legato=1.0, pan=0.5),
    lead=Part((_VIOLIN, _FLUTE, replace(_SAX, shape="reed", breath=0.02)), "melody", register=62, level=-1.0,
              presence=0.9, density=0.4, repetition=0.5, leap=0.12, legato=1.0),
    pad=Part((_STRINGS,), "hold", register=48, level=-3.0, presence=0.95),
    reverb=0.55, width=0.7, loudness=-22.0, compression=0.05, dynamics=0.8, noise=-68.0,
    neighbours=(442, 444, 1235),
)

_POP = Style(
    "Pop", (100, 128), humanize=0.002,
    drums=_drums(kick=("x.......x.......", "x.....x.x.......", "x...x...x...x..."), snare="....x.......x...",
                 hat=("x.x.x.x.x.x.x.x.", "xgxgxgxgxgxgxgxg")),
    kit=DrumKit(kick_pitch=52, kick_decay=0.2, snare_kind="clap", snare_decay=0.14, room=0.2),
    fill=0.3, crash=0.6,
    scales=(MAJOR,),
    progressions=(((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")), ((9, "min"), (5, "maj"), (0, "maj"), (7, "maj")),
                  ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")), ((5, "maj"), (0, "maj"), (7, "maj"), (9, "min"))),
    bass=Part((_SYNTH_BASS, _ROUND_BASS), "bass", ("R.R.R.R.R.R.R.R.", "R..R..R.R..R..R.", "R.......R.R....."),
              register=36, level=-3.0, legato=0.8),
    chords=Part((replace(_PIANO, tilt=2.0), _STAB, _CLEAN_GUITAR), "chord", ("x.x.x.x.x.x.x.x.", "x..x..x...x..x..", "x...x...x...x..."),
                register=48, level=-3.0, legato=0.8, pan=0.4),
    lead=Part((_VOICE,), "melody", register=60, level=0.0, presence=0.95, density=0.45, repetition=0.85, leap=0.1,
              pan=0.0),
    pad=Part((_SAW_PAD,), "hold", register=48, level=-9.0, presence=0.5),
    reverb=0.3, width=0.7, loudness=-12.0, compression=0.7, noise=-72.0,
    neighbours=(12, 15, 14),
)

_INSTRUMENTAL = Style(
    "Instrumental", (70, 115), humanize=0.008,
    drums=_drums(kick="x.......x.......", snare="....x.......x...", hat="x.x.x.x.x.x.x.x."),
    kit=DrumKit(kick_pitch=55, kick_decay=0.18, kick_click=0.1, snare_kind="brush", room=0.3),
    drum_presence=0.35, drum_level=-6.0, crash=0.1,
    scales=(MAJOR, MINOR, DORIAN),
    progressions=(((0, "maj"), (7, "maj"), (9, "min"), (5, "maj")), ((0, "maj7"), (5, "maj7")),
                  ((9, "min"), (5, "maj"), (0, "maj"), (7, "maj")), ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj"))),
    bars_per_chord=(1.0, 2.0),
    bass=Part((_ROUND_BASS, _CELLO), "bass", ("R.......R.......", "R.......F......."), register=36, level=-7.0,
              presence=0.5, legato=1.0),
    chords=Part((_PIANO,), "arp", ("x.x.x.x.x.x.x.x.", "x...x...x...x...", "x..x..x.x..x..x."), register=48,
                level=-2.0, presence=0.8, legato=1.0, pan=0.3),
    lead=Part((_PIANO, _GLASS, _FLUTE), "melody", register=64, level=-2.0, presence=0.7, density=0.35,
              repetition=0.6),
    pad=Part((_SOFT_PAD, _SAW_PAD), "hold", register=48, level=-5.0, presence=0.7),
    reverb=0.45, width=0.7, loudness=-19.0, compression=0.3, dynamics=0.4, noise=-64.0,
    neighbours=(5, 42, 10),
)

_EXPERIMENTAL = Style(
    "Experimental", (60, 160), free=0.8, humanize=0.03, tempo_drift=0.15,
    drums=_drums(kick="x.....x...x.....", snare="....x.......x...", hat="x.x.x.x.x.x.x.x."),
    kit=DrumKit(kick_pitch=45, kick_decay=0.3, kick_drive=0.8, snare_kind="rim", hat_decay=0.01, hat_bright=2.0,
                room=0.5),
    drum_presence=0.35, drum_jitter=0.3, crash=0.0,
    scales=(CHROMATIC, WHOLE_TONE, PHRYGIAN),
    progressions=(((0, "cluster"),), ((0, "cluster"), (6, "tritone")), ((0, "cluster2"), (1, "cluster"))),
    bars_per_chord=(2.0, 4.0), breakdown=0.3,
    chords=Part((_GLASS, _STAB), "comp", register=55, level=-6.0, presence=0.3, density=0.2, pan=0.9),
    lead=Part((_GLASS, _SAW_LEAD, _BELL), "melody", register=60, level=-6.0, presence=0.4, density=0.25,
              repetition=0.1, leap=0.6, pan=0.9),
    pad=Part((_NOISE_DRONE, _DRONE), "drone", register=36, level=-3.0, presence=0.75),
    texture=0.5, events=0.8, reverb=0.5, width=0.9, loudness=-20.0, compression=0.2, dynamics=0.8, noise=-40.0,
    neighbours=(42, 74, 15),
)

_BLUES = Style(
    "Blues", (65, 115), swing=0.3, swing_unit=2, humanize=0.01,
    drums=_drums(kick=("x.......x.......", "x.....x.x......."), snare="....x.......x...",
                 hat=("x.x.x.x.x.x.x.x.",), ride=("", "x.x.x.x.x.x.x.x.")),
    kit=DrumKit(kick_pitch=55, kick_decay=0.18, snare_decay=0.16, room=0.35),
    drum_level=-2.0, crash=0.3,
    scales=(BLUES, MINOR_PENTATONIC, MIXOLYDIAN),
    progressions=(((0, "dom7"),) * 4 + ((5, "dom7"),) * 2 + ((0, "dom7"),) * 2
                  + ((7, "dom7"), (5, "dom7"), (0, "dom7"), (7, "dom7")),
                  ((0, "dom7"), (5, "dom7"), (0, "dom7"), (0, "dom7"), (5, "dom7"), (5, "dom7"), (0, "dom7"), (0, "dom7"),
                   (7, "dom7"), (5, "dom7"), (0, "dom7"), (7, "dom7"))),
    bass=Part((_ROUND_BASS, _UPRIGHT), "bass", ("R.T.F.6.7.6.F.T.", "R...F...6...F...", "R.R.T.T.F.F.6.6."),
              register=36, level=-2.0, legato=0.8),
    chords=Part((replace(_GUITAR, drive=0.3), _CLEAN_GUITAR, _ORGAN), "chord",
                ("x.x.x.x.x.x.x.x.", "x...x...x...x...", "..x...x...x...x."), register=48, level=-2.0,
                legato=0.6, pan=0.5),
    lead=Part((replace(_LEAD_GUITAR, drive=0.35, bend=0.5), _HARMONICA, _VOICE), "melody", register=60, level=-1.0,
              presence=0.85, density=0.35, repetition=0.5, leap=0.15),
    section_change=0.0,
    reverb=0.3, width=0.5, loudness=-16.0, compression=0.35, noise=-54.0,
    neighbours=(9, 17, 4, 12),
)

_COUNTRY = Style(
    "Country", (100, 150), humanize=0.006,
    drums=_drums(kick="x.......x.......", snare=("....x.......x...", "..x...x...x...x."),
                 hat=("x.x.x.x.x.x.x.x.", "")),
    kit=DrumKit(kick_pitch=60, kick_decay=0.14, snare_kind="rim", room=0.25),
    drum_presence=0.85, drum_level=-4.0, crash=0.2,
    scales=(MAJOR, MAJOR_PENTATONIC),
    progressions=(((0, "maj"), (5, "maj"), (7, "maj"), (0, "maj")), ((0, "maj"), (0, "maj"), (5, "maj"), (7, "maj")),
                  ((0, "maj"), (7, "maj"), (5, "maj"), (0, "maj"))),
    bars_per_chord=(1.0, 2.0),
    bass=Part((_ROUND_BASS, _UPRIGHT), "bass", ("R.......F.......", "R...F...R...F..."), register=36, level=-2.0,
              legato=0.5),
    chords=Part((_ACOUSTIC, _TWANG), "chord", ("....x.......x...", "..x...x...x...x.", "x.x.x.x.x.x.x.x."),
                register=48, level=-2.0, legato=0.5, pan=0.5),
    lead=Part((_TWANG, _FIDDLE, _VOICE), "melody", register=62, level=-1.0, presence=0.85, density=0.4,
              repetition=0.6, leap=0.1),
    reverb=0.25, width=0.6, loudness=-16.0, compression=0.45, noise=-60.0,
    neighbours=(17, 3, 12),
)

_SOUL = Style(
    "Soul-RnB", (68, 100), swing=0.1, swing_unit=1, humanize=0.006,
    drums=_drums(kick=("x..x......x.....", "x.....x..x.x....", "x.......x..x...."), snare="....x.......x...",
                 hat=("xgxgxgxgxgxgxgxg", "x.x.x.x.x.x.x.x.")),
    kit=DrumKit(kick_pitch=54, kick_decay=0.22, snare_decay=0.14, room=0.25),
    drum_jitter=0.15, crash=0.2,
    scales=(DORIAN, MAJOR, MINOR),
    progressions=(((2, "min7"), (7, "dom7")), ((0, "maj7"), (5, "maj7")), ((0, "min7"), (5, "min7")),
                  ((9, "min7"), (2, "min7"), (7, "dom7"), (0, "maj7"))),
    bars_per_chord=(1.0, 2.0),
    bass=Part((_ROUND_BASS, _SYNTH_BASS), "bass", ("R..R..F.O..R.T..", "R.....R.F..R....", "R..R...RR..F..T."),
              register=36, level=-1.0, legato=0.6),
    chords=Part((_EPIANO, _ORGAN), "chord", ("x.....x...x.....", "x.......x.......", "..x...x...x...x."),
                register=48, level=-2.0, legato=0.9, pan=0.4),
    lead=Part((_VOICE,), "melody", register=57, level=0.0, presence=0.9, density=0.35, repetition=0.6, pan=0.0),
    pad=Part((_ORGAN, _STRINGS), "hold", register=48, level=-9.0, presence=0.4),
    reverb=0.3, width=0.6, loudness=-15.0, compression=0.5, noise=-62.0,
    neighbours=(21, 10, 4),
)

_INTERNATIONAL = Style(
    "International", (85, 130), humanize=0.01,
    drums=_drums(perc=("L..h..L.L..h.h..", "L.hhL.h.L.hhL.h.", "L..hL.h.h.L.h..h"), tamb=("", "x.x.x.x.x.x.x.x.")),
    kit=DrumKit(perc_pitch=(150.0, 330.0), perc_decay=0.14, room=0.35),
    drum_presence=0.9, drum_jitter=0.1,
    scales=(MAJOR_PENTATONIC, MINOR_PENTATONIC, HIJAZ, DORIAN),
    progressions=(((0, "pow"),), ((0, "pow"), (10, "pow")), ((0, "sus4"), (0, "pow"))),
    bars_per_chord=(2.0, 4.0),
    bass=Part((_UPRIGHT,), "bass", ("R.......F.......", "R..R....F..F...."), register=36, level=-5.0, presence=0.5,
              legato=0.8),
    chords=Part((_KOTO, _SITAR), "arp", ("x.x.x.x.x.x.x.x.", "x..x..x.x..x..x."), register=55, level=-4.0,
                presence=0.5, legato=1.0, pan=0.5),
    lead=Part((_FLUTE, _SITAR, _KOTO), "melody", register=62, level=0.0, presence=0.95, density=0.45, repetition=0.5,
              leap=0.12),
    pad=Part((_DRONE,), "drone", register=48, level=-5.0, presence=0.7),
    reverb=0.35, width=0.6, loudness=-17.0, compression=0.3, noise=-58.0,
    neighbours=(17, 38),
)

STYLES: dict[int, Style] = {
    12: _ROCK,
    25: replace(
        _ROCK, title="Punk", tempo=(160, 200), humanize=0.01,
        drums=_drums(kick=("x...x...x...x...", "x.x.x.x.x.x.x.x."), snare=("....x.......x...", "..x...x...x...x."),
                     hat="x.x.x.x.x.x.x.x.", open_hat=("x...x...x...x...", "")),
        kit=replace(_ROCK.kit, hat_decay=0.08, snare_decay=0.2, room=0.15), crash=0.9,
        progressions=(((0, "pow"), (5, "pow"), (7, "pow"), (5, "pow")), ((0, "pow"), (7, "pow"), (9, "pow"), (5, "pow"))),
        bass=replace(_ROCK.bass, patterns=("R.R.R.R.R.R.R.R.",), legato=0.95),
        chords=replace(_ROCK.chords, timbres=(replace(_GUITAR, drive=0.8, tilt=2.0),), patterns=("x.x.x.x.x.x.x.x.",),
                       legato=1.0),
        lead=replace(_ROCK.lead, presence=0.2),
        reverb=0.1, loudness=-11.0, compression=0.7, noise=-42.0, neighbours=(12, 31)),
    31: replace(
        _ROCK, title="Metal", tempo=(90, 170),
        drums=_drums(kick=("xxxxxxxxxxxxxxxx", "x.xxx.xxx.xxx.xx", "xx.xxx.xxx.xxx.x"),
                     snare=("....x.......x...", "........x......."), ride=("x.x.x.x.x.x.x.x.", "x...x...x...x...")),
        kit=replace(_ROCK.kit, kick_pitch=60, kick_decay=0.09, kick_click=0.8, kick_drive=0.3, room=0.2), crash=0.8,
        scales=(PHRYGIAN, MINOR, HARMONIC_MINOR),
        progressions=(((0, "pow"), (1, "pow"), (0, "pow"), (10, "pow")), ((0, "pow"), (8, "pow"), (10, "pow"), (0, "pow")),
                      ((0, "pow"), (6, "pow"), (5, "pow"), (3, "pow"))),
        bass=replace(_ROCK.bass, patterns=("RRR.RR.RRRR.RR.R", "R.RRR.RRR.RRR.RR"), register=28, legato=0.7),
        chords=replace(_ROCK.chords, timbres=(replace(_GUITAR, drive=1.0, tilt=1.0, decay=2.0, sustain=0.8),),
                       patterns=("xxx.xx.xxxx.xx.x", "x.xxx.xxx.xxx.xx", "x...x...x.x.x..."), register=40, legato=0.55),
        lead=replace(_ROCK.lead, timbres=(replace(_LEAD_GUITAR, drive=0.9),), presence=0.45, density=0.55, leap=0.3),
        reverb=0.2, loudness=-10.0, compression=0.8, noise=-55.0, neighbours=(12, 25)),
    15: _ELECTRONIC,
    181: replace(
        _ELECTRONIC, title="Techno", tempo=(125, 138),
        drums=_drums(kick="x...x...x...x...", snare=("....x.......x...", ""), hat=("xxxxxxxxxxxxxxxx", "xgxgxgxgxgxgxgxg"),
                     open_hat="..x...x...x...x.", perc=("..h..h....h..h..", "...h..h...h...h.")),
        kit=replace(_ELECTRONIC.kit, kick_pitch=48, kick_decay=0.3, kick_drive=0.6, perc_pitch=(300.0, 620.0),
                    perc_decay=0.05),
        progressions=(((0, "min"),), ((0, "min"), (10, "maj")), ((0, "min7"),)),
        bars_per_chord=(2.0, 4.0), section_change=0.1, breakdown=0.25,
        bass=replace(_ELECTRONIC.bass, timbres=(replace(_SYNTH_BASS, drive=0.5, tilt=0.0, decay=0.12),),
                     patterns=("..RR..RR..RR..RR", "RRRRRRRRRRRRRRRR", "..R...R...R...R."), legato=0.5),
        chords=replace(_ELECTRONIC.chords, timbres=(replace(_STAB, decay=0.08),), patterns=("x..x..x..x..x...", "..x..x..x..x..x."),
                       legato=0.3),
        lead=replace(_ELECTRONIC.lead, presence=0.15),
        pad=replace(_ELECTRONIC.pad, presence=0.3),
        loudness=-11.0, compression=0.75, pump=0.6, neighbours=(15, 542)),
    42: replace(
        _ELECTRONIC, title="Ambient Electronic", tempo=(60, 90), drums=(), drum_presence=0.0,
        scales=(MAJOR, DORIAN, MAJOR_PENTATONIC),
        progressions=(((0, "maj7"), (5, "maj7")), ((0, "min9"), (8, "maj7")), ((0, "sus4"), (0, "maj"))),
        bars_per_chord=(2.0, 4.0), breakdown=0.0,
        bass=replace(_ELECTRONIC.bass, timbres=(_SUB,), patterns=("R...............",), register=36, presence=0.5,
                     level=-8.0, legato=1.0),
        chords=replace(_ELECTRONIC.chords, timbres=(_BELL, _GLASS), mode="arp",
                       patterns=("x.....x.....x...", "x.......x.......", "x..x..x........."), presence=0.5, legato=1.0,
                       level=-9.0, register=60),
        lead=replace(_ELECTRONIC.lead, timbres=(_GLASS, _BELL), presence=0.3, density=0.15, level=-8.0),
        pad=replace(_ELECTRONIC.pad, timbres=(_SOFT_PAD, _SAW_PAD), presence=1.0, level=0.0),
        texture=0.25, reverb=0.7, width=1.0, loudness=-22.0, compression=0.2, pump=0.0, dynamics=0.5,
        neighbours=(15, 1235, 38)),
    21: _HIPHOP,
    539: replace(
        _HIPHOP, title="Rap",
        chords=replace(_HIPHOP.chords, level=-6.0),
        lead=replace(_HIPHOP.lead, presence=0.1),
        voice=replace(_HIPHOP.voice, presence=1.0, level=2.0, density=0.7),
        neighbours=(21, 14)),
    542: replace(
        _HIPHOP, title="Breakbeat", tempo=(125, 145), swing=0.0, humanize=0.003,
        drums=_drums(kick=("x.x.......x.....", "x.........x.x...", "x.x...x...xx...."),
                     snare=("....x..x.x..x..g", "....x.......x..x", "....x...g.x.x..."),
                     hat=("xgxgxgxgxgxgxgxg", "x.x.x.x.x.x.x.x."), open_hat=("......x.......x.", "")),
        kit=replace(_HIPHOP.kit, kick_decay=0.2, snare_decay=0.14, hat_decay=0.035),
        bass=replace(_HIPHOP.bass, timbres=(_SYNTH_BASS, _SUB), patterns=("R..R..R...R..R..", "R.....R.R...R..."),
                     register=36, legato=0.7),
        chords=replace(_HIPHOP.chords, timbres=(_STAB, replace(_STRINGS, tilt=-2.0)), patterns=("x.......x.......", "x..x..x........."),
                       legato=0.6),
        pad=replace(_ELECTRONIC.pad, presence=0.4),
        voice=replace(_HIPHOP.voice, presence=0.1),
        crackle=0.1, loudness=-12.0, neighbours=(21, 15, 181)),
    17: _FOLK,
    4: _JAZZ,
    74: replace(
        _JAZZ, title="Free-Jazz", tempo=(60, 220), free=0.7, humanize=0.05, tempo_drift=0.2,
        drums=_drums(ride="x...x.x.x...x.x.", snare="..g...g..g...g..", kick="x.....x.......x.", hat="....x.......x..."),
        drum_jitter=0.5, scales=(CHROMATIC, WHOLE_TONE),
        progressions=(((0, "cluster"), (6, "tritone"), (1, "cluster2")), ((0, "tritone"), (3, "cluster"))),
        bars_per_chord=(0.5, 1.0), section_change=0.6,
        bass=replace(_JAZZ.bass, mode="bass", patterns=("S..SS.S..S.SS...", "S.S...SS.S..S.S."), legato=0.7),
        chords=replace(_JAZZ.chords, density=0.5),
        lead=replace(_JAZZ.lead, timbres=(replace(_SAX, drive=0.3, bend=0.5), _TRUMPET), presence=1.0, density=0.7,
                     repetition=0.0, leap=0.6),
        dynamics=0.8, noise=-52.0, neighbours=(4, 38)),
    179: replace(
        _JAZZ, title="Big Band/Swing", tempo=(130, 200),
        drums=_drums(ride="x...x.x.x...x.x.", hat="....x.......x...", kick=("x.....x.....x...", "x...x...x...x..."),
                     snare=("..........x.....", "......x.......x.")),
        kit=replace(_JAZZ.kit, snare_kind="snare", snare_decay=0.12), drum_level=0.0, crash=0.6,
        chords=replace(_JAZZ.chords, timbres=(_BRASS,), mode="chord",
                       patterns=("x.....x...x.....", "..x...x.....x...", "x...........x..."), register=52, level=1.0,
                       legato=0.7),
        lead=replace(_JAZZ.lead, timbres=(_TRUMPET, _SAX), presence=0.8, repetition=0.5, leap=0.2),
        pad=Part((replace(_BRASS, attack=0.1, tilt=-1.0),), "hold", register=48, level=-8.0, presence=0.5),
        reverb=0.35, width=0.8, loudness=-14.0, compression=0.45, neighbours=(4,)),
    5: _CLASSICAL,
    442: replace(
        _CLASSICAL, title="Chamber Music",
        bass=replace(_CLASSICAL.bass, mode="bass", patterns=("R...F...R...T...", "R.T.F.T.R.T.F.T."), legato=0.9,
                     presence=0.9),
        chords=replace(_CLASSICAL.chords, timbres=(replace(_VIOLIN, vibrato=0.2), _PIANO),
                       patterns=("x.x.x.x.x.x.x.x.", "x...x...x...x..."), presence=0.7, level=-4.0),
        pad=replace(_CLASSICAL.pad, presence=0.25, level=-8.0),
        lead=replace(_CLASSICAL.lead, presence=1.0, density=0.5),
        reverb=0.3, width=0.5, loudness=-24.0, dynamics=0.5, neighbours=(5, 1235)),
    444: replace(
        _CLASSICAL, title="Symphony",
        drums=_drums(timpani=("x...............", "x.......x.......", "")), drum_presence=0.6, drum_level=-4.0,
        drum_jitter=0.1, fill=0.0, crash=0.0,
        chords=replace(_CLASSICAL.chords, timbres=(_BRASS,), mode="hold", presence=0.6, level=-7.0),
        pad=replace(_CLASSICAL.pad, timbres=(replace(_STRINGS, chorus=15.0),), level=0.0, presence=1.0),
        reverb=0.7, width=1.0, loudness=-19.0, dynamics=1.0, neighbours=(5,)),
    10: _POP,
    1235: _INSTRUMENTAL,
    38: _EXPERIMENTAL,
    3: _BLUES,
    9: _COUNTRY,
    14: _SOUL,
    2: _INTERNATIONAL,
}

#: Parent of each sub-genre the synthesiser renders (FMA's own hierarchy).
STYLE_PARENT: dict[int, int] = {25: 12, 31: 12, 181: 15, 42: 15, 539: 21, 542: 21, 74: 4, 179: 4, 442: 5, 444: 5}

#: FMA titles of every genre in :data:`STYLES`.
STYLE_TITLES: dict[int, str] = {gid: style.title for gid, style in STYLES.items()}
