"""Fetch FMA's archives: resumable, SHA-1 verified, safely extracted, idempotent.

FMA's audio archives are large (``fma_large.zip`` is 93 GiB), so a download that
fails at 80 % must not start again from zero. Bytes go to ``<data_dir>/.downloads/<name>.part``;
the next call asks for the remainder with an HTTP ``Range`` request. A finished
archive is renamed to ``<name>`` only after its SHA-1 matches FMA's published one.

Extraction never trusts the archive's member names. Only FMA's own layout is unpacked —
``fma_<subset>/NNN/NNNNNN.mp3``, ``fma_<subset>/README.txt`` and ``checksums``, plain files
directly in ``fma_metadata/``, a top-level ``README.txt`` or ``checksums`` (see
:data:`EXPECTED_FILES`, :data:`EXPECTED_FOLDERS`). An archive holding anything else (absolute
names, ``..``, symlinks, a file named like a folder such as ``pipeline`` or ``fma_metadata``,
``.dagster/dagster.yaml``), or a member that clashes with the data root (a folder where FMA
has a file, a file where it needs a folder), is refused whole before anything is written,
with one :class:`DownloadError` naming the archive and the first offending members. Members
are streamed into a staging folder inside ``data_dir`` (removed on success and on failure)
and moved into place file by file with ``os.replace``: an existing folder is never deleted,
a file only replaced by the member of the same path. A ``<name>.done`` stamp is written
last, so a crash mid-extraction is simply redone next time and a
repeated call with everything in place makes no network request at all.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.client
import json
import os
import re
import shutil
import socket
import stat
import time
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from tqdm.auto import tqdm

from fma_pipeline.core.storage import atomic_path, file_hash

#: What to download for each ``subset`` argument, as FMA names its archives.
ARCHIVES: dict[str, str] = {
    "metadata": "fma_metadata.zip",
    "small": "fma_small.zip",
    "medium": "fma_medium.zip",
    "large": "fma_large.zip",
    "full": "fma_full.zip",
}

#: FMA's published SHA-1s (its ``checksums`` file); ``checksums=`` overrides entries.
CHECKSUMS: dict[str, str] = {
    "fma_metadata.zip": "f0df49ffe5f2a6008d7dc83c6915b31835dfe733",
    "fma_small.zip": "ade154f733639d52e35e32f5593efe5be76c6d70",
    "fma_medium.zip": "c67b69ea232021025fca9231fc1c7c1a063ab50b",
    "fma_large.zip": "497109f4dd721066b5ce5e5f250ec604dc78939e",
    "fma_full.zip": "0f0ace23fbe9ba30ecb7e95f763e435ea802b8ab",
}

DEFAULT_BASE_URL = "https://os.unil.cloud.switch.ch/fma/"
DOWNLOADS = ".downloads"
_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """A download, verification or extraction that cannot continue; the message is one line.

    Parameters
    ----------
    message : str
        The one-line reason (the exception's only argument).
    """


@dataclass
class DownloadReport:
    """What one :func:`download_fma` call did, archive by archive (file names).

    Parameters
    ----------
    downloaded : list of str, default []
        Archives downloaded from the start.
    resumed : list of str, default []
        Archives whose ``.part`` download was continued (or found complete).
    verified : list of str, default []
        Archives whose SHA-1 matched.
    extracted : list of str, default []
        Archives extracted into the data root.
    skipped : list of str, default []
        Archives already downloaded, verified and extracted (valid ``.done`` stamp).
    problems : list of str, default []
        One line per corrupt member left out of an extraction.
    """

    downloaded: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    verified: list[str] = field(default_factory=list)
    extracted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def nothing_to_do(self) -> bool:
        """True when every archive was already downloaded, verified and extracted.

        Returns
        -------
        bool
            True when nothing was downloaded, resumed, verified or extracted.
        """
        return not (self.downloaded or self.resumed or self.verified or self.extracted)

    def summary(self) -> str:
        """Human-readable lines for the CLI.

        Returns
        -------
        str
            One line per kind of action with its archives, then one ``problem: …`` line per problem.
        """
        if self.nothing_to_do:
            lines = [f"nothing to do: {', '.join(self.skipped) or 'no archive'} already downloaded, "
                     "verified and extracted"]
        else:
            lines = [f"{label}: {', '.join(names)}" for label, names in (
                ("downloaded", self.downloaded), ("resumed", self.resumed), ("verified", self.verified),
                ("extracted", self.extracted), ("already done", self.skipped)) if names]
        return "\n".join(lines + [f"problem: {p}" for p in self.problems])


def parse_checksums(text: str) -> dict[str, str]:
    """Read FMA's ``checksums`` file (``<sha1>  <filename>`` per line, as ``sha1sum`` writes it).

    Parameters
    ----------
    text : str
        Content of the file; blank lines are ignored, a leading ``*`` (binary mode) on a name is dropped.

    Returns
    -------
    dict of str to str
        File name to lower-case hex SHA-1.

    Raises
    ------
    DownloadError
        If a non-blank line is not ``<sha1>  <filename>``.
    """
    table = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 40:
            raise DownloadError(f"checksums line {number} is not '<sha1>  <filename>': {line!r}")
        table[parts[1].lstrip("*")] = parts[0].lower()
    return table


def archives_for(subset: str | None, metadata_only: bool = False) -> list[str]:
    """Archive names to fetch: metadata always, plus ``fma_<subset>.zip`` unless metadata only.

    Parameters
    ----------
    subset : str or None
        A key of :data:`ARCHIVES` (``"metadata"``, ``"small"``, ``"medium"``, ``"large"``,
        ``"full"``); None for the metadata alone.
    metadata_only : bool, default False
        Fetch the metadata alone whatever ``subset`` says.

    Returns
    -------
    list of str
        ``fma_metadata.zip`` first, then the subset's archive if any.

    Raises
    ------
    DownloadError
        If ``subset`` is not a key of :data:`ARCHIVES`.
    """
    if subset is not None and subset not in ARCHIVES:
        raise DownloadError(f"unknown FMA subset {subset!r}; expected one of {sorted(ARCHIVES)}")
    names = [ARCHIVES["metadata"]]
    if subset not in (None, "metadata") and not metadata_only:
        names.append(ARCHIVES[subset])
    return names


def download_fma(data_dir: Path, subset: str | None, *, metadata_only: bool = False,
                 base_url: str = DEFAULT_BASE_URL, checksums: dict[str, str] | None = None,
                 progress: bool = True, timeout: float = 60.0, keep_archives: bool = True) -> DownloadReport:
    """Download, verify and extract ``fma_metadata.zip`` and ``fma_<subset>.zip`` into ``data_dir``.

    ``subset`` None (or ``metadata_only``) fetches the metadata alone. ``checksums``
    maps file names to SHA-1s and overrides the built-in table entry by entry.
    ``keep_archives=False`` deletes each zip once extracted (the ``.done`` stamp still
    makes later calls skip it).

    Parameters
    ----------
    data_dir : pathlib.Path
        The data root; archives go to ``<data_dir>/.downloads``, their content to ``data_dir``.
    subset : str or None
        A key of :data:`ARCHIVES`, or None for the metadata alone.
    metadata_only : bool, default False
        Fetch the metadata alone whatever ``subset`` says.
    base_url : str, default DEFAULT_BASE_URL
        URL of the folder holding the archives (a trailing ``/`` is optional).
    checksums : dict of str to str or None, default None
        File name to SHA-1, overriding :data:`CHECKSUMS` entry by entry.
    progress : bool, default True
        Show a progress bar while downloading.
    timeout : float, default 60.0
        Socket timeout of each HTTP request, in seconds.
    keep_archives : bool, default True
        Keep each zip after extraction.

    Returns
    -------
    DownloadReport
        What was downloaded, resumed, verified, extracted or skipped, and any problems.

    Raises
    ------
    DownloadError
        With a one-line reason: unknown subset, no known SHA-1, network or HTTP failure,
        truncated download, SHA-1 mismatch, refused or unreadable archive, another process
        downloading the same archive.
    """
    data_dir = Path(data_dir)
    table = {**CHECKSUMS, **{k: v.lower() for k, v in (checksums or {}).items()}}
    report = DownloadReport()
    for name in archives_for(subset, metadata_only):
        expected = table.get(name)
        if expected is None:
            raise DownloadError(f"no SHA-1 known for {name}; pass it in checksums")
        _fetch_one(data_dir, name, expected, base_url, report, progress=progress, timeout=timeout,
                   keep_archives=keep_archives)
    return report


def _fetch_one(data_dir: Path, name: str, expected: str, base_url: str, report: DownloadReport, *,
               progress: bool, timeout: float, keep_archives: bool) -> None:
    """One archive through the stages it still needs: skip, fetch, verify, extract, stamp."""
    downloads = data_dir / DOWNLOADS
    archive, stamp = downloads / name, downloads / f"{name}.done"
    if _stamp_valid(data_dir, stamp, expected):
        report.skipped.append(name)
        return
    downloads.mkdir(parents=True, exist_ok=True)
    with _exclusive(downloads / f"{name}.lock"):
        if _stamp_valid(data_dir, stamp, expected):  # finished by another process since the first check
            report.skipped.append(name)
            return
        if not archive.exists():
            _download(base_url.rstrip("/") + "/" + name, archive, report, progress=progress, timeout=timeout)
        _verify_and_extract(data_dir, archive, stamp, expected, report, keep_archives=keep_archives)


@contextlib.contextmanager
def _exclusive(lock: Path) -> Iterator[None]:
    """One process per archive: two writers appending to one ``.part`` would corrupt it.

    ``flock`` is released by the kernel when its process dies, so there is no stale lock.
    """
    with open(lock, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DownloadError(f"another process is downloading {lock.stem} into {lock.parent}; "
                                "run again when it has finished") from None
        yield


def _verify_and_extract(data_dir: Path, archive: Path, stamp: Path, expected: str, report: DownloadReport, *,
                        keep_archives: bool) -> None:
    """Check the SHA-1, extract, then stamp: the stamp is the last write, so a crash means a redo."""
    name = archive.name
    actual = sha1_of(archive)
    if actual != expected:
        archive.unlink()
        raise DownloadError(f"SHA-1 mismatch for {name}: expected {expected}, got {actual}; "
                            "the file was deleted, run again to download it afresh")
    report.verified.append(name)
    top, problems = extract_safely(archive, data_dir)
    report.extracted.append(name)
    report.problems.extend(problems)
    with atomic_path(stamp) as tmp:
        tmp.write_text(json.dumps({"sha1": expected, "top": top, "problems": problems,
                                   "extracted_at": time.time()}, indent=1))
    if not keep_archives:
        archive.unlink()


def _stamp_valid(data_dir: Path, stamp: Path, expected: str) -> bool:
    """A stamp counts when it names the expected SHA-1 and what it extracted is still there."""
    try:
        done = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    return done.get("sha1") == expected and all((data_dir / t).exists() for t in done.get("top", []))


def sha1_of(path: Path) -> str:
    """Hex SHA-1 of a file (FMA's ``checksums`` are SHA-1).

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    str
        Lower-case hex digest (40 characters).
    """
    return file_hash(path, "sha1")


def _download(url: str, archive: Path, report: DownloadReport, *, progress: bool, timeout: float) -> None:
    """Fetch ``url`` into ``<archive>.part`` (continuing it if present), then rename to ``archive``."""
    part = archive.with_name(archive.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    response = _open(url, have, timeout)
    if response.status == 416:  # the .part is complete already, or longer than the file
        total = _range_total(response.headers.get("Content-Range", ""))
        response.close()
        if total == have and have:
            os.replace(part, archive)
            report.resumed.append(archive.name)
            return
        part.unlink()
        have, response = 0, _open(url, 0, timeout)
    if have and response.status == 206:
        start = _range_start(response.headers.get("Content-Range", ""))
        if start != have:
            response.close()
            raise DownloadError(f"{url}: asked to resume at byte {have}, server answered from byte {start}")
        report.resumed.append(archive.name)
    else:  # 200: a fresh download, or a server that ignores Range (start again)
        have = 0
        report.downloaded.append(archive.name)
    length = response.headers.get("Content-Length")
    total = have + int(length) if length is not None else None
    received = have
    with response, open(part, "ab" if have else "wb") as out, \
            tqdm(total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
                 desc=archive.name, disable=not progress, leave=False) as bar:
        try:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        except (OSError, http.client.HTTPException) as error:
            raise DownloadError(f"{archive.name}: connection lost after {received} of {total or '?'} bytes "
                                f"({error.__class__.__name__}); run again to resume from {part.name}") from error
        finally:
            out.flush()
            os.fsync(out.fileno())
    if total is not None and received < total:
        raise DownloadError(f"{archive.name}: truncated download, {received} of {total} bytes; "
                            f"run again to resume from {part.name}")
    os.replace(part, archive)


def _open(url: str, start: int, timeout: float) -> http.client.HTTPResponse:
    """GET ``url`` from byte ``start``; 416 is returned, other HTTP errors become DownloadError."""
    request = urllib.request.Request(url, headers={"User-Agent": "fma-pipeline"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http/https base URL)
    except urllib.error.HTTPError as error:
        if error.code == 416:
            return error  # type: ignore[return-value]  # has .status, .headers, .close()
        raise DownloadError(f"HTTP {error.code} {error.reason} for {url}") from error
    except urllib.error.URLError as error:
        raise DownloadError(f"cannot reach {url}: {error.reason}") from error
    except (socket.timeout, OSError) as error:
        raise DownloadError(f"cannot reach {url}: {error}") from error
    if getattr(response, "status", None) is None:  # file:// mirrors answer without a status
        response.status = 200
    return response


def _range_start(content_range: str) -> int | None:
    """First byte of ``Content-Range: bytes a-b/total``."""
    with contextlib.suppress(ValueError, IndexError):
        return int(content_range.split()[1].split("-")[0])
    return None


def _range_total(content_range: str) -> int | None:
    """Total size from ``Content-Range: bytes */total`` (a 416 answer)."""
    with contextlib.suppress(ValueError, IndexError):
        return int(content_range.rsplit("/", 1)[1])
    return None


_SUBSET = r"fma_(?:small|medium|large|full)"

#: The files FMA's archives hold: ``fma_<subset>/NNN/NNNNNN.mp3``, ``fma_<subset>/README.txt``
#: and ``checksums``, plain files directly in ``fma_metadata/`` (no dot files), and a
#: top-level ``README.txt`` or ``checksums``. ASCII digits only; no backslashes.
EXPECTED_FILES = re.compile(
    rf"README\.txt|checksums|fma_metadata/[^/\\.][^/\\]*"
    rf"|{_SUBSET}/(?:README\.txt|checksums)|{_SUBSET}/[0-9]{{3}}/[0-9]{{6}}\.mp3")

#: The folders FMA's archives may list as entries of their own (always with the trailing ``/``).
EXPECTED_FOLDERS = re.compile(rf"(?:fma_metadata|{_SUBSET}|{_SUBSET}/[0-9]{{3}})/")

_NOT_FMA = ("{names} not among FMA's members (fma_<subset>/NNN/NNNNNN.mp3, fma_metadata/<file>, "
            "README.txt, checksums)")
_SHOWN = 3  # offending members named per reason, and reasons named per message


def check_members(archive: zipfile.ZipFile, data_dir: Path) -> None:
    """Refuse the whole archive unless every member is one of FMA's and fits the data root.

    Reads only the archive's directory and the data root; writes nothing. A member is
    accepted when it is a regular entry (not a symbolic link), relative, lands inside
    ``data_dir``, matches :data:`EXPECTED_FILES` (a file) or :data:`EXPECTED_FOLDERS` (a
    folder entry), and does not clash with the data root: no folder where the member is
    a file, no file (or dangling link) where the member needs a folder.

    Parameters
    ----------
    archive : zipfile.ZipFile
        The open archive.
    data_dir : pathlib.Path
        The data root it would be extracted into.

    Raises
    ------
    DownloadError
        One line naming the archive and, for each kind of offence, its first few members;
        nothing has been extracted.
    """
    root, label = data_dir.resolve(), Path(str(archive.filename)).name
    offences: dict[str, list[str]] = {}  # message template -> offending members, in archive order
    seen: dict[str, bool | None] = {}  # data-root path -> a folder (True), missing (None), anything else (False)

    def kind(relative: str) -> bool | None:
        if relative not in seen:
            path = data_dir / relative
            seen[relative] = True if path.is_dir() else (False if path.is_symlink() or path.exists() else None)
        return seen[relative]

    for info in archive.infolist():
        name = info.filename
        if stat.S_ISLNK(info.external_attr >> 16):
            reason = "symbolic link{s} {names}"
        elif PurePosixPath(name).is_absolute() or PureWindowsPath(name).drive or name.startswith("\\"):
            reason = "member{s} with an absolute path {names}"
        elif not (root / name).resolve().is_relative_to(root):
            reason = f"member{{s}} {{names}} would land outside {root}"
        elif not (EXPECTED_FOLDERS if info.is_dir() else EXPECTED_FILES).fullmatch(name):
            reason = _NOT_FMA
        else:
            reason = _clash(PurePosixPath(name).parts, info.is_dir(), kind)
        if reason:
            offences.setdefault(reason, []).append(name)
    if offences:
        raise DownloadError(_refusal(label, offences))


def _clash(parts: tuple[str, ...], is_folder: bool, kind: Callable[[str], bool | None]) -> str | None:
    """The template refusing a member that does not fit the data root, or None when it fits."""
    for depth in range(1, len(parts) + is_folder):
        ancestor = "/".join(parts[:depth])
        if kind(ancestor) is False:
            return f"cannot extract {{names}}: a file is in the way where the folder {ancestor}/ must be"
    if not is_folder and kind("/".join(parts)) is True:
        return "cannot extract {first}: {a_folder} in the way ({names})"
    return None


def _refusal(label: str, offences: dict[str, list[str]]) -> str:
    """``refusing <archive>: <offence>; <offence>; nothing was extracted`` on one line."""
    parts = []
    for template, names in list(offences.items())[:_SHOWN]:
        many = len(names) > 1
        more = f" and {len(names) - _SHOWN} more" if len(names) > _SHOWN else ""
        parts.append(template.format(
            names=", ".join(repr(n) for n in names[:_SHOWN]) + more, s="s" if many else "",
            first=PurePosixPath(names[0]).name + (f" and {len(names) - 1} more" if many else ""),
            a_folder="folders of those names are" if many else "a folder of that name is"))
    rest = sum(len(names) for names in list(offences.values())[_SHOWN:])
    if rest:
        parts.append(f"{rest} more member{'s' if rest > 1 else ''} refused for other reasons")
    return f"refusing {label}: " + "; ".join(parts) + "; nothing was extracted"


def extract_safely(archive_path: Path, data_dir: Path) -> tuple[list[str], list[str]]:
    """Extract into ``data_dir`` via a staging folder; return (top-level names, problems).

    :func:`check_members` vets the whole archive first, so a refused archive writes
    nothing. Members are then streamed (never read whole into memory) into
    ``<data_dir>/.extracting-<archive>`` and moved into place file by file with
    ``os.replace``: folders are merged, never deleted, and an existing file is replaced
    only by the member of the same path. The staging folder is removed on success and
    on failure.

    A member whose data fails its CRC (or does not inflate) is left out and reported;
    the rest is extracted, since the archive's SHA-1 already matched the published one
    and downloading it again would give the same bytes.

    Parameters
    ----------
    archive_path : pathlib.Path
        The zip archive.
    data_dir : pathlib.Path
        The data root to extract into.

    Returns
    -------
    tuple of (list of str, list of str)
        The sorted top-level names extracted, and one line per corrupt member left out.

    Raises
    ------
    DownloadError
        If :func:`check_members` refuses the archive, it is not a readable zip archive, or a
        member cannot be moved into place.
    """
    data_dir = Path(data_dir)
    staging = data_dir / f".extracting-{archive_path.name}"
    _remove(staging)
    problems: list[str] = []
    try:
        with zipfile.ZipFile(archive_path) as archive:
            check_members(archive, data_dir)
            for info in archive.infolist():
                target = staging / info.filename
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    with archive.open(info) as source, open(target, "wb") as out:
                        shutil.copyfileobj(source, out, _CHUNK)
                except (zipfile.BadZipFile, zlib.error, EOFError) as error:
                    target.unlink(missing_ok=True)
                    problems.append(f"{archive_path.name}: corrupt member {info.filename} ({error})")
                    continue
                mtime = time.mktime(info.date_time + (0, 0, -1))
                os.utime(target, (mtime, mtime))  # stable mtimes keep the feature cache valid on re-extraction
        top = sorted(p.name for p in staging.iterdir()) if staging.exists() else []
        for name in top:
            _move_into(staging / name, data_dir / name)
    except zipfile.BadZipFile as error:
        raise DownloadError(f"{archive_path.name} is not a readable zip archive: {error}") from error
    finally:
        _remove(staging)
    return top, problems


def _remove(staging: Path) -> None:
    """Delete the staging folder (a link of that name is unlinked, never followed)."""
    if staging.is_symlink():
        staging.unlink()
    else:
        shutil.rmtree(staging, ignore_errors=True)


def _move_into(source: Path, target: Path) -> None:
    """Move ``source`` to ``target`` file by file (``os.replace``), merging into folders that exist.

    Never deletes a folder. :func:`check_members` has already refused any clash, so an
    error here means the data root changed meanwhile; it becomes a one-line
    :class:`DownloadError` (no ``.done`` stamp is written, so the next call redoes it).
    """
    try:
        if source.is_dir():
            if (target.exists() or target.is_symlink()) and not target.is_dir():
                raise DownloadError(f"cannot extract folder {target.name}/: a file of that name is in the way "
                                    f"({target})")
            target.mkdir(exist_ok=True)
            for child in source.iterdir():
                _move_into(child, target / child.name)
            return
        if target.is_dir():
            raise DownloadError(f"cannot extract {target.name}: a folder of that name is in the way ({target})")
        os.replace(source, target)
    except OSError as error:
        raise DownloadError(f"cannot move {source.name} into {target.parent}: {error.strerror or error}; "
                            "run again to finish the extraction") from error
