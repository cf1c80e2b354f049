"""Bring any labelled audio collection into the FMA layout, so the pipeline runs on it.

Two layouts of the source folder:
- ``genre-folders``: ``SRC/rock/any/depth/song.mp3`` — the first folder is the genre;
- ``filename-prefix``: ``SRC/rock.00012.wav`` (GTZAN style) — the name up to the first
  ``.`` is the genre.

Each new file gets the next free track id, is copied (or converted to MP3) to
``<audio dir>/NNN/NNNNNN.<ext>`` and gets a ``tracks.csv`` row. A free id is one that is
neither in ``tracks.csv`` nor the name of any audio file already under the data root's
``fma_*`` folders (a root with audio but no ``tracks.csv`` keeps its files), and an
existing file is never overwritten. Genre names are matched to FMA's titles ignoring
case, width and punctuation (Unicode NFKC and case folding; the letters, digits and
combining marks of every script are kept, so ``hiphop`` → Hip-Hop, ``rnb`` → no match, and
ロック, ジャズ and Русский рок stay three genres); a file whose label keeps nothing (``---``)
is skipped with that reason rather than merged into a nameless genre;
a match takes FMA's title and id (a sub-genre match stays the track's class: ``metal`` →
``genre_top`` Metal, with Rock among its ``genres_all``, because a collection's labels are
the classes its user wants told apart), an unmatched name becomes a new top-level genre
(ids from 100000 up) added to ``genres.csv``. FMA's full genre table is used when the
data root has ``fma_metadata/genres.csv`` (e.g. after ``fma-pipeline download
--metadata-only``); otherwise FMA's 16 top-level genres and the sample's sub-genres.

Re-running imports only files not seen before: the manifest ``fma_metadata/imported.csv``
keys each imported file by the SHA-1 of its bytes (with its source folder and relative
path for people), so a second collection whose files share relative paths with the first
is imported, and the same bytes are never imported twice (a duplicate track could sit on
both sides of the train/test split). An earlier version's manifest (columns ``source,
track_id`` only, keyed by relative path) is read, not rejected: each of its rows is hashed
from its imported copy. A copy that is not an MP3 is a byte copy of its source, so that
hash stands for the row and is written back on the next import. A copy that is an MP3 may
have been converted (``--to-mp3``) and no longer holds its source's bytes, and a row whose
copy is gone has no hash at all: those rows also keep matching by relative path, as that
version did, so re-running the old collection imports nothing twice. The price, for those
rows only: another collection's file at the same relative path counts as already imported.

Nothing is written outside the data root: targets are built from track ids only,
and source symlinks that loop or point at non-files are reported, not followed.
"""

from __future__ import annotations

import shutil
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fma_pipeline.core.fma.genres import known_genres
from fma_pipeline.core.fma.layout import AUDIO_EXTENSIONS, audio_path, find_audio_dir, track_id_from_path
from fma_pipeline.core.fma.metadata import read_genres, read_tracks, write_genres_csv, write_tracks_csv
from fma_pipeline.core.catalogue import GENRES_CSV, TRACKS_CSV, DataRoot
from fma_pipeline.core.storage import atomic_path, file_hash

LAYOUTS = ("genre-folders", "filename-prefix")
FIRST_NEW_GENRE_ID = 100_000
MANIFEST = "imported.csv"


@dataclass
class ImportReport:
    """What one :func:`import_collection` call did.

    Parameters
    ----------
    imported : int, default 0
        Files imported as new tracks.
    already : int, default 0
        Files whose bytes (or, for an earlier version's rows, relative path) were imported before.
    skipped : list of tuple of (str, str), default []
        ``(path, reason)`` of each file not imported.
    genres : dict of str to str, default {}
        Source label -> the genre title it was given.
    """

    imported: int = 0
    already: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    genres: dict[str, str] = field(default_factory=dict)  # source label -> genre title


def normalise(name: str) -> str:
    """Case-, width- and punctuation-insensitive key of a genre name, in any script.

    Parameters
    ----------
    name : str
        A genre label as found in a folder or file name.

    Returns
    -------
    str
        The NFKC-normalised, case-folded letters and digits: ``'Hip-Hop' -> 'hiphop'``,
        ``'Русский рок' -> 'русскийрок'``; ``''`` when it holds none. Combining marks are
        kept too: in scripts such as Devanagari or Thai they are vowels (रॉक is not रक).
    """
    folded = unicodedata.normalize("NFKC", name).casefold()
    return "".join(c for c in folded if unicodedata.category(c)[0] in "LMN")


def content_hash(path: Path) -> str:
    """SHA-1 of a file's bytes, the import manifest's key.

    Parameters
    ----------
    path : pathlib.Path
        The file to hash.

    Returns
    -------
    str
        40 hex digits.

    Raises
    ------
    OSError
        When the file cannot be read.
    """
    return file_hash(path, "sha1")


def _ids_on_disk(data_dir: Path) -> set[int]:
    """Track ids named by audio files under any ``fma_*`` folder of the data root."""
    return {tid for path in data_dir.glob("fma_*/[0-9][0-9][0-9]/*")
            if path.suffix.lower() in AUDIO_EXTENSIONS and (tid := track_id_from_path(path)) is not None}


def _read_manifest(path: Path, audio_dir: Path) -> tuple[pd.DataFrame, set[str], set[str]]:
    """The manifest, the content hashes already imported, and the relative paths that still
    count as imported (rows of an earlier version whose source bytes are unknown).

    Rows without ``sha1`` (an earlier version's manifest) are hashed from their imported
    copy. Only a copy that is not an MP3 is certainly a byte copy: its hash is stored in the
    row. An MP3 copy's hash is only added to the hashes seen (it may be a conversion), and
    that row, like one whose copy is gone, keeps matching by relative path.
    """
    columns = {"sha1": str, "collection": str, "source": str, "track_id": np.int64}
    if not path.is_file():
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()}), set(), set()
    manifest = pd.read_csv(path, dtype={"source": str, "sha1": str, "collection": str})
    for column in ("sha1", "collection"):
        if column not in manifest:
            manifest[column] = None
    manifest = manifest[list(columns)].astype({"sha1": object, "collection": object})
    seen, by_path = set(manifest["sha1"].dropna()), set()
    for i in manifest.index[manifest["sha1"].isna()]:
        track_id = int(manifest.at[i, "track_id"])
        copies = sorted(p for p in audio_path(audio_dir, track_id).parent.glob(f"{track_id:06d}.*") if p.is_file())
        try:
            digest = content_hash(copies[0]) if copies else None
        except OSError:
            digest = None
        if digest is not None:
            seen.add(digest)
        if digest is not None and copies[0].suffix.lower() != ".mp3":
            manifest.at[i, "sha1"] = digest
        else:
            by_path.add(str(manifest.at[i, "source"]))
    return manifest, seen, by_path


def _label(path: Path, src: Path, layout: str) -> str | None:
    if layout == "genre-folders":
        parts = path.relative_to(src).parts
        return parts[0] if len(parts) > 1 else None
    return path.name.split(".", 1)[0] or None


def _genre_table(meta_dir: Path) -> pd.DataFrame:
    if (meta_dir / GENRES_CSV).is_file():
        return read_genres(meta_dir / GENRES_CSV).table.copy()
    return known_genres()


def _source_files(src: Path, report: ImportReport) -> list[Path]:
    files = []
    for path in sorted(src.rglob("*")):
        if path.suffix.lower() not in AUDIO_EXTENSIONS or path.name.startswith("."):
            continue
        try:
            if not path.is_file():  # dangling link, link loop, fifo ...
                report.skipped.append((str(path), "not a regular file"))
                continue
        except OSError as exc:
            report.skipped.append((str(path), f"cannot read: {exc.strerror or exc}"))
            continue
        files.append(path)
    return files


def import_collection(src: Path, data_dir: Path, layout: str = "genre-folders", *,
                      to_mp3: bool = False, progress: Callable[[int], None] | None = None) -> ImportReport:
    """Import ``src`` into the data root; see the module docstring.

    Files whose bytes are already in the manifest count as ``already``; a new file takes
    the lowest id above every id in ``tracks.csv`` and every audio file on disk, and never
    replaces a file. Unreadable files and labels with no letters or digits are reported in
    ``skipped``; the metadata and manifest are written once, at the end.

    Parameters
    ----------
    src : pathlib.Path
        The collection's folder.
    data_dir : pathlib.Path
        The data root to import into.
    layout : str, default "genre-folders"
        How labels are found: ``genre-folders`` or ``filename-prefix`` (see :data:`LAYOUTS`).
    to_mp3 : bool, default False
        Convert every file to MP3 instead of copying its bytes.
    progress : Callable[[int], None] or None, default None
        Called with 1 after each imported file.

    Returns
    -------
    ImportReport

    Raises
    ------
    ValueError
        When ``layout`` is not one of :data:`LAYOUTS`.
    FileNotFoundError
        When ``src`` is not a folder.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}; expected one of {LAYOUTS}")
    src, data_dir = Path(src).resolve(), Path(data_dir).resolve()
    if not src.is_dir():
        raise FileNotFoundError(f"source folder not found: {src}")
    meta_dir = DataRoot(data_dir).metadata_dir
    audio_dir = find_audio_dir(data_dir)
    if not audio_dir.exists():
        audio_dir = data_dir / "fma_large"
    subset = audio_dir.name.removeprefix("fma_").replace("full", "large")
    tracks = read_tracks(meta_dir / TRACKS_CSV) if (meta_dir / TRACKS_CSV).is_file() else None
    manifest_path = meta_dir / MANIFEST
    manifest, seen, by_path = _read_manifest(manifest_path, audio_dir)
    genres = _genre_table(meta_dir)
    by_key = {normalise(t): int(i) for i, t in genres["title"].items()}
    report = ImportReport()
    used = _ids_on_disk(data_dir) | (set() if tracks is None else {int(t) for t in tracks.index})
    next_id = max(used, default=1) + 1
    rows, new_manifest = [], []
    for path in _source_files(src, report):
        key = str(path.relative_to(src))
        try:
            digest = content_hash(path)
        except OSError as exc:
            report.skipped.append((key, f"cannot read: {exc.strerror or exc}"))
            continue
        if digest in seen or key in by_path:
            report.already += 1
            continue
        label = _label(path, src, layout)
        if not label:
            report.skipped.append((key, "no genre label in its path"))
            continue
        if not normalise(label):
            report.skipped.append((key, f"genre label {label!r} has no letters or digits"))
            continue
        gid = by_key.get(normalise(label))
        if gid is None:
            gid = max(FIRST_NEW_GENRE_ID - 1, int(genres.index.max())) + 1
            genres.loc[gid] = {"parent": 0, "title": label.strip().title(), "top_level": gid, "#tracks": 0}
            by_key[normalise(label)] = gid
        title = str(genres.at[gid, "title"])
        report.genres[label] = title
        while next_id in used or any(audio_path(audio_dir, next_id).parent.glob(f"{next_id:06d}.*")):
            next_id += 1  # never overwrite a file, whatever its extension
        target = audio_path(audio_dir, next_id, ".mp3" if to_mp3 else path.suffix.lower())
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            _copy_audio(path, target, to_mp3)
        except Exception as exc:  # noqa: BLE001 - one bad source file never stops the import
            report.skipped.append((key, f"cannot import: {str(exc).splitlines()[0][:160]}"))
            continue
        ancestors = read_path_to_root(genres, gid)
        # the label's own genre is the class, even an FMA sub-genre (GTZAN's metal stays Metal, not
        # Rock: a collection's labels are what its user wants to tell apart); genres_all holds the root
        rows.append({"track_id": next_id, "genre_top": title, "genres": [gid],
                     "genres_all": sorted(ancestors), "title": path.stem, "subset": subset})
        new_manifest.append({"sha1": digest, "collection": str(src), "source": key, "track_id": next_id})
        seen.add(digest)
        used.add(next_id)
        next_id += 1
        report.imported += 1
        if progress:
            progress(1)
    if rows:
        _write_metadata(tracks, rows, genres, meta_dir)
        manifest = pd.concat([manifest, pd.DataFrame(new_manifest)], ignore_index=True)
        with atomic_path(manifest_path) as tmp:
            manifest.to_csv(tmp, index=False)
    return report


def read_path_to_root(genres: pd.DataFrame, gid: int) -> list[int]:
    """``[gid, parent, …, root]`` in a genres table, at most 10 deep (a damaged table cannot loop it).

    Parameters
    ----------
    genres : pandas.DataFrame
        A genres table indexed by genre id, with a ``parent`` column.
    gid : int
        A genre id of the table.

    Returns
    -------
    list of int
    """
    path = [gid]
    while int(genres.at[path[-1], "parent"]) != 0 and len(path) < 10:
        path.append(int(genres.at[path[-1], "parent"]))
    return path


def _copy_audio(source: Path, target: Path, to_mp3: bool) -> None:
    with atomic_path(target) as tmp:
        if to_mp3:
            import soundfile as sf

            data, sr = sf.read(source, dtype="float32", always_2d=True)
            sf.write(tmp, data, sr, format="MP3", compression_level=0.65, bitrate_mode="CONSTANT")
        else:
            shutil.copyfile(source, tmp)


def _write_metadata(tracks: pd.DataFrame | None, rows: list[dict], genres: pd.DataFrame, meta_dir: Path) -> None:
    new = pd.DataFrame({
        ("track", "genre_top"): [r["genre_top"] for r in rows],
        ("track", "genres"): [r["genres"] for r in rows],
        ("track", "genres_all"): [r["genres_all"] for r in rows],
        ("track", "title"): [r["title"] for r in rows],
        ("set", "subset"): [r["subset"] for r in rows],
        ("set", "split"): [None] * len(rows),
        ("artist", "id"): [None] * len(rows),
    }, index=pd.Index([r["track_id"] for r in rows], name="track_id"))
    if tracks is not None:
        tracks = tracks.copy()
        for column in (("set", "subset"), ("set", "split")):
            tracks[column] = tracks[column].astype(object)
        new = pd.concat([tracks, new])
    counts = pd.Series([g for gs in new[("track", "genres_all")] for g in gs]).value_counts()
    genres = genres.copy()
    genres["#tracks"] = counts.reindex(genres.index).fillna(0).astype(int)
    meta_dir.mkdir(parents=True, exist_ok=True)
    write_genres_csv(genres, meta_dir / GENRES_CSV)
    write_tracks_csv(new, meta_dir / TRACKS_CSV)
