"""Facts about the Free Music Archive layout: folders, track paths, subsets, broken clips.

FMA stores track 2 as ``fma_<subset>/000/000002.mp3``: the folder is the track id
divided by 1000, zero-padded to three digits; the file name is the id padded to six.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: The 156 folder keys ``000`` … ``155`` of every FMA audio archive.
FOLDERS: tuple[str, ...] = tuple(f"{i:03d}" for i in range(156))

#: Subsets from smallest to largest; each contains the ones before it (small ⊂ medium ⊂ large).
SUBSETS: tuple[str, ...] = ("small", "medium", "large")

#: Audio archive folder names, largest first, as FMA ships them.
AUDIO_DIR_NAMES: tuple[str, ...] = ("fma_full", "fma_large", "fma_medium", "fma_small")

#: Clips in FMA that hold no audio at all (FMA's own list of broken files).
NO_AUDIO_CLIPS: frozenset[int] = frozenset({99134, 108925, 133297})

#: Audio extensions the pipeline looks for inside a folder (soundfile decodes all of them).
AUDIO_EXTENSIONS: frozenset[str] = frozenset({".mp3", ".wav", ".flac", ".ogg", ".oga"})

#: A clip's stem is its track id in ASCII digits (``\d`` alone would also take ``٢٣٤`` or
#: full-width ``２``, and map a stray file onto a real track's id).
_TRACK_FILE = re.compile(r"^([0-9]{1,9})$")


def folder_of(track_id: int) -> str:
    """Folder key holding ``track_id`` (``2 -> '000'``, ``155320 -> '155'``).

    Parameters
    ----------
    track_id : int
        An FMA track id.

    Returns
    -------
    str
        Three digits: the id divided by 1000.

    Raises
    ------
    ValueError
        When ``track_id`` is negative.
    """
    if track_id < 0:
        raise ValueError(f"track id must be >= 0, got {track_id}")
    return f"{track_id // 1000:03d}"


def audio_path(audio_dir: Path, track_id: int, suffix: str = ".mp3") -> Path:
    """Path of a track's clip: ``audio_dir/000/000002.mp3``.

    Parameters
    ----------
    audio_dir : pathlib.Path
        The audio archive folder (``fma_<subset>``).
    track_id : int
        An FMA track id.
    suffix : str, default ".mp3"
        The file's extension.

    Returns
    -------
    pathlib.Path
    """
    return Path(audio_dir) / folder_of(track_id) / f"{track_id:06d}{suffix}"


def track_id_from_path(path: Path) -> int | None:
    """Track id encoded in a clip's file name, or None when the name is not an FMA id.

    Parameters
    ----------
    path : pathlib.Path
        A clip's path (only its stem is read).

    Returns
    -------
    int or None
    """
    match = _TRACK_FILE.match(Path(path).stem)
    return int(match.group(1)) if match else None


def printable(path: Path | str) -> str:
    """``path`` as text that any output accepts: bytes that are not UTF-8 are escaped (``\\xff``).

    POSIX file names are bytes; Python keeps the bytes that are not UTF-8 as lone surrogates,
    which Parquet, CSV and the terminal refuse (``UnicodeEncodeError``). The escaped form
    shows the user which bytes are wrong.

    Parameters
    ----------
    path : pathlib.Path or str
        A path or file name as the OS gave it.

    Returns
    -------
    str
        The same text when it is valid UTF-8; else with each bad byte written ``\\xNN``.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def subsets_within(subset: str) -> tuple[str, ...]:
    """The ``('set', 'subset')`` values that belong to ``subset`` (FMA's subsets nest).

    Parameters
    ----------
    subset : str
        ``small``, ``medium``, ``large`` or ``full``.

    Returns
    -------
    tuple of str
        ``subset`` and the smaller subsets it contains.

    Raises
    ------
    ValueError
        When ``subset`` is not an FMA subset.
    """
    if subset == "full":
        return SUBSETS
    if subset not in SUBSETS:
        raise ValueError(f"unknown FMA subset {subset!r}; expected one of {SUBSETS + ('full',)}")
    return SUBSETS[: SUBSETS.index(subset) + 1]


def find_audio_dir(data_dir: Path, subset: str | None = None) -> Path:
    """The audio archive folder under ``data_dir``.

    With ``subset`` given, ``fma_<subset>``; else the largest archive present, because
    a larger archive holds every track of the smaller ones. Falls back to ``fma_small``
    (which may not exist yet) so a fresh data root still has a well-defined path.

    Parameters
    ----------
    data_dir : pathlib.Path
        The data root.
    subset : str or None, default None
        The subset whose archive to name; None picks the largest present.

    Returns
    -------
    pathlib.Path
    """
    data_dir = Path(data_dir)
    if subset is not None:
        return data_dir / f"fma_{subset}"
    for name in AUDIO_DIR_NAMES:
        if (data_dir / name).is_dir():
            return data_dir / name
    return data_dir / "fma_small"


def list_audio_files(folder: Path) -> list[Path]:
    """Audio files directly inside one folder, sorted; missing folder means no files.

    Symlinks are followed only when they resolve to a regular file: a dangling link or a
    link loop is still listed, so that extraction records it as a failed file instead of
    silently losing it.

    Parameters
    ----------
    folder : pathlib.Path
        One FMA audio folder (``fma_<subset>/NNN``).

    Returns
    -------
    list of pathlib.Path
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir()
        if p.suffix.lower() in AUDIO_EXTENSIONS and not p.name.startswith(".") and not p.is_dir()
    )
