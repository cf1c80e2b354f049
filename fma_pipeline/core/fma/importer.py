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

One import at a time per data root, and a killed import is finished by the next one. An
import holds an exclusive lock (``fma_metadata/.import.lock``, :mod:`~fma_pipeline.core.locking`;
a second import waits, then sees the first one's rows). Before it copies anything it writes
a journal (``fma_metadata/.import-journal.jsonl``, atomically): every planned track id with
its source hash, target and ``tracks.csv`` row. Each copy is written under a temporary name,
hashed, recorded in the journal (one appended line), then renamed into place; ``tracks.csv``,
``genres.csv`` and the manifest are then written (each atomically) and the journal removed.
The next import, before anything else, reads a journal left behind by a killed one: a
planned track whose row is in ``tracks.csv`` gets its manifest row; one whose copy is on
disk with the hash its journal line records gets its rows (finished); a copy whose bytes
differ from its line is removed, as are temporary files (undone). A file at a planned target
without a journal line was not written by the import (the line precedes the rename) and is
left alone. So no audio file is left without its ``tracks.csv`` row, and no row points at
other audio.
"""

from __future__ import annotations

import contextlib
import json
import os
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
from fma_pipeline.core.locking import exclusive_lock

LAYOUTS = ("genre-folders", "filename-prefix")
FIRST_NEW_GENRE_ID = 100_000
MANIFEST = "imported.csv"
#: Held for a whole import: one import at a time per data root.
IMPORT_LOCK = ".import.lock"
#: What an import in progress plans and has written; left behind only by a killed import.
JOURNAL = ".import-journal.jsonl"


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
    finished : int, default 0
        Tracks of a killed earlier import that this one committed (their copies were complete).
    undone : int, default 0
        Files of a killed earlier import that this one removed (incomplete copies, temporary files).
    """

    imported: int = 0
    already: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    genres: dict[str, str] = field(default_factory=dict)  # source label -> genre title
    finished: int = 0
    undone: int = 0


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
                      to_mp3: bool = False, progress: Callable[[int], None] | None = None,
                      log: Callable[[str], None] | None = None) -> ImportReport:
    """Import ``src`` into the data root; see the module docstring.

    Holds the data root's import lock throughout and first finishes or undoes an import
    that was killed (see the module docstring). Files whose bytes are already in the
    manifest count as ``already``; a new file takes the lowest id above every id in
    ``tracks.csv`` and every audio file on disk, and never replaces a file. Unreadable
    files and labels with no letters or digits are reported in ``skipped``; the metadata
    and manifest are written once, at the end.

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
    log : Callable[[str], None] or None, default None
        Told when another import holds the lock (this one waits) and when it is acquired.

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
    with exclusive_lock(meta_dir / IMPORT_LOCK, log=log):
        report = ImportReport()
        report.finished, report.undone = recover_import(data_dir)
        plan, genres = _plan(src, data_dir, layout, to_mp3, report)
        if plan:
            report.skipped += _run_plan(plan, genres, data_dir, progress)
            report.imported, _ = _commit_journal(data_dir)
        return report


def _audio_dir(data_dir: Path) -> Path:
    audio_dir = find_audio_dir(data_dir)
    return audio_dir if audio_dir.exists() else data_dir / "fma_large"


def _plan(src: Path, data_dir: Path, layout: str, to_mp3: bool,
          report: ImportReport) -> tuple[list[dict], pd.DataFrame]:
    """Each new file's journal entry (id, hashes, target, row) and the genre table with new genres."""
    meta_dir = DataRoot(data_dir).metadata_dir
    audio_dir = _audio_dir(data_dir)
    subset = audio_dir.name.removeprefix("fma_").replace("full", "large")
    tracks = read_tracks(meta_dir / TRACKS_CSV) if (meta_dir / TRACKS_CSV).is_file() else None
    _, seen, by_path = _read_manifest(meta_dir / MANIFEST, audio_dir)
    genres = _genre_table(meta_dir)
    by_key = {normalise(t): int(i) for i, t in genres["title"].items()}
    used = _ids_on_disk(data_dir) | (set() if tracks is None else {int(t) for t in tracks.index})
    next_id = max(used, default=1) + 1
    plan = []
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
        # the label's own genre is the class, even an FMA sub-genre (GTZAN's metal stays Metal, not
        # Rock: a collection's labels are what its user wants to tell apart); genres_all holds the root
        plan.append({"track_id": next_id, "source_path": str(path), "to_mp3": to_mp3,
                     "target": str(target.relative_to(data_dir)),
                     "row": {"genre_top": title, "genres": [gid], "genres_all": sorted(read_path_to_root(genres, gid)),
                             "title": path.stem, "subset": subset},
                     "manifest": {"sha1": digest, "collection": str(src), "source": key}})
        seen.add(digest)
        used.add(next_id)
        next_id += 1
    return plan, genres


def _run_plan(plan: list[dict], genres: pd.DataFrame, data_dir: Path,
              progress: Callable[[int], None] | None) -> list[tuple[str, str]]:
    """Write the journal, then each copy: temporary name, hash, journal line, rename.
    Returns ``(source, reason)`` of each file that could not be copied."""
    journal = DataRoot(data_dir).metadata_dir / JOURNAL
    new_genres = genres[genres.index >= FIRST_NEW_GENRE_ID].reset_index(names="genre_id")
    header = {"entries": plan, "genres": json.loads(new_genres.to_json(orient="records"))}
    with atomic_path(journal) as tmp:
        tmp.write_text(json.dumps(header) + "\n")
    failures = []
    with open(journal, "a") as lines:
        for entry in plan:
            target = data_dir / entry["target"]
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with atomic_path(target) as tmp:
                    _copy_audio(Path(entry["source_path"]), tmp, entry["to_mp3"])
                    # the line precedes the rename: a file at a target without one is not this import's
                    lines.write(json.dumps({"done": entry["track_id"], "sha1": content_hash(tmp)}) + "\n")
                    lines.flush()
                    os.fsync(lines.fileno())
            except Exception as exc:  # noqa: BLE001 - one bad source file never stops the import
                failures.append((entry["manifest"]["source"], f"cannot import: {str(exc).splitlines()[0][:160]}"))
                continue
            if progress:
                progress(1)
    return failures


def _read_journal(path: Path) -> tuple[dict, dict[int, str]]:
    """The journal's header and ``{track_id: sha1}`` of the copies written; a line cut short by a
    kill is ignored."""
    text = path.read_text().splitlines()
    header = json.loads(text[0])
    done = {}
    for line in text[1:]:
        with contextlib.suppress(ValueError, KeyError, TypeError):
            record = json.loads(line)
            done[int(record["done"])] = str(record["sha1"])
    return header, done


def _commit_journal(data_dir: Path) -> tuple[int, int]:
    """Commit every journal entry whose copy is on disk as recorded; remove its other copies and
    temporary files; remove the journal. Returns (tracks committed, files removed)."""
    meta_dir = DataRoot(data_dir).metadata_dir
    audio_dir = _audio_dir(data_dir)
    journal = meta_dir / JOURNAL
    try:
        header, done = _read_journal(journal)
    except (OSError, ValueError, IndexError):  # no journal, or an unreadable one (its writes are atomic)
        with contextlib.suppress(FileNotFoundError):
            journal.unlink()
        return 0, 0
    tracks = read_tracks(meta_dir / TRACKS_CSV) if (meta_dir / TRACKS_CSV).is_file() else None
    committed = set() if tracks is None else {int(t) for t in tracks.index}
    rows, manifest_rows, removed = [], [], 0
    for entry in header["entries"]:
        track_id, target = int(entry["track_id"]), data_dir / entry["target"]
        for stale in target.parent.glob(f".tmp-*-{target.name}"):  # a killed copy; only imports write these
            stale.unlink(missing_ok=True)
            removed += 1
        if track_id in committed:  # killed between tracks.csv and the manifest
            manifest_rows.append({**entry["manifest"], "track_id": track_id})
        elif track_id in done and target.is_file() and content_hash(target) == done[track_id]:
            rows.append({"track_id": track_id, **entry["row"]})
            manifest_rows.append({**entry["manifest"], "track_id": track_id})
        elif track_id in done and target.exists():
            target.unlink()  # this import's copy, not as recorded (a crash mid-write): undone
            removed += 1
    genres = _genre_table(meta_dir)
    for genre in header["genres"]:  # genres this import added; absent if it was killed before committing
        gid = int(genre.pop("genre_id"))
        if gid not in genres.index:
            genres.loc[gid] = genre
    if rows:
        _write_metadata(tracks, rows, genres, meta_dir)
    if manifest_rows:
        manifest, _, _ = _read_manifest(meta_dir / MANIFEST, audio_dir)
        new = pd.DataFrame(manifest_rows)
        new = new[~new["track_id"].isin(manifest["track_id"])]
        if len(new):
            with atomic_path(meta_dir / MANIFEST) as tmp:
                pd.concat([manifest, new], ignore_index=True).to_csv(tmp, index=False)
    journal.unlink()
    return len(rows), removed


def recover_import(data_dir: Path) -> tuple[int, int]:
    """Finish or undo an import killed in this data root (see the module docstring); call it with
    the import lock held (:func:`import_collection` does).

    Parameters
    ----------
    data_dir : pathlib.Path
        The data root.

    Returns
    -------
    finished : int
        Tracks whose complete copies were committed (rows in ``tracks.csv`` and the manifest).
    undone : int
        Files removed: temporary copies, and copies whose bytes differ from the journal.
    """
    return _commit_journal(Path(data_dir).resolve())


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


def audit_imports(data_dir: Path) -> dict[str, list]:
    """Check an imported data root against its manifest: what a killed or concurrent import
    must never leave behind once the next import has run.

    Each track row's audio file must be its own source's: a byte copy has the SHA-1 its
    manifest row records; an MP3 made by ``--to-mp3`` has the bytes that converting that
    source gives again (libsndfile's encoder is deterministic). Used by the tests and by
    ``bench/soak.py``.

    Parameters
    ----------
    data_dir : pathlib.Path
        An imported data root.

    Returns
    -------
    dict of str to list
        ``files_without_row`` and ``rows_without_file`` (track ids), ``duplicate_rows`` (track
        ids twice in tracks.csv or the manifest, bytes imported twice), ``not_its_audio``
        (track ids whose file is not their source's), ``no_manifest_row`` (track ids), and
        ``pending`` (a journal left by a killed import, finished by the next one).
    """
    import tempfile

    data_dir = Path(data_dir).resolve()
    meta_dir = DataRoot(data_dir).metadata_dir
    files: dict[int, list[Path]] = {}
    for path in data_dir.glob("fma_*/[0-9][0-9][0-9]/*"):
        track_id = track_id_from_path(path)
        if path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".") and track_id is not None:
            files.setdefault(track_id, []).append(path)
    tracks = read_tracks(meta_dir / TRACKS_CSV) if (meta_dir / TRACKS_CSV).is_file() else None
    rows = [] if tracks is None else [int(t) for t in tracks.index]
    manifest = pd.read_csv(meta_dir / MANIFEST) if (meta_dir / MANIFEST).is_file() else pd.DataFrame(
        {"sha1": [], "collection": [], "source": [], "track_id": []})
    out: dict[str, list] = {
        "files_without_row": sorted(set(files) - set(rows)),
        "rows_without_file": sorted(set(rows) - set(files)),
        "duplicate_rows": sorted({*pd.Index(rows)[pd.Index(rows).duplicated()],
                                  *manifest["track_id"][manifest["track_id"].duplicated()],
                                  *manifest["track_id"][manifest["sha1"].duplicated()]}),
        "not_its_audio": [], "no_manifest_row": [],
        "pending": [str(meta_dir / JOURNAL)] if (meta_dir / JOURNAL).exists() else [],
    }
    by_id = manifest.drop_duplicates("track_id").set_index("track_id")
    with tempfile.TemporaryDirectory() as tmp:
        for track_id in sorted(set(rows) & set(files)):
            if track_id not in by_id.index:
                out["no_manifest_row"].append(track_id)
                continue
            entry = by_id.loc[track_id]
            path = files[track_id][0]
            if path.suffix.lower() == ".mp3" and not str(entry["source"]).lower().endswith(".mp3"):
                expected = Path(tmp) / f"{track_id}.mp3"  # converted: convert the source again
                try:
                    _copy_audio(Path(entry["collection"]) / entry["source"], expected, True)
                    digest = content_hash(expected)
                except Exception:  # noqa: BLE001 - a source gone since: cannot tell
                    continue
            else:
                digest = entry["sha1"]
            if len(files[track_id]) > 1 or content_hash(path) != digest:
                out["not_its_audio"].append(track_id)
    return out
