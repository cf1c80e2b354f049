"""``download_fma`` against a real HTTP server on 127.0.0.1 serving small FMA-shaped archives."""

from __future__ import annotations

import hashlib
import io
import socket
import stat
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fma_pipeline.core.fma.download import ARCHIVES, DownloadError, download_fma, parse_checksums

MP3 = bytes(range(256)) * 256  # 64 KiB standing in for a clip
METADATA = {"fma_metadata/tracks.csv": b"track_id,genre\n2,Hip-Hop\n",
            "fma_metadata/genres.csv": b"genre_id,title\n21,Hip-Hop\n"}
SMALL = {"fma_small/000/000002.mp3": MP3}


def make_zip(members: dict[str, bytes], *, symlinks: dict[str, str] | None = None,
             compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """An in-memory zip; member names are written exactly as given (even ``../x`` or ``/x``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, (2019, 1, 1, 0, 0, 0)), data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


def sha1(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


@dataclass
class FakeFma:
    """What the server serves and what it was asked: ``log`` holds (file, Range header)."""

    base_url: str = ""
    files: dict[str, bytes] = field(default_factory=dict)
    log: list[tuple[str, str | None]] = field(default_factory=list)
    truncate: set[str] = field(default_factory=set)
    ignore_range: bool = False

    def serve(self, name: str, data: bytes) -> str:
        self.files[name] = data
        return sha1(data)


class _Handler(BaseHTTPRequestHandler):
    """GET with ``Range: bytes=N-``; can cut a body short once (then closes, HTTP/1.0)."""

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        fma: FakeFma = self.server.fma  # type: ignore[attr-defined]
        name, wanted = self.path.lstrip("/"), self.headers.get("Range")
        fma.log.append((name, wanted))
        data = fma.files.get(name)
        if data is None:
            self.send_error(404, "Not Found")
            return
        start = int(wanted.split("=")[1].split("-")[0]) if wanted and not fma.ignore_range else 0
        if start >= len(data) and start:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if name in fma.truncate:
            fma.truncate.discard(name)
            body = body[: len(body) // 2]
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def fma_server() -> Iterator[FakeFma]:
    fma = FakeFma()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.fma = fma  # type: ignore[attr-defined]
    fma.base_url = f"http://127.0.0.1:{server.server_address[1]}/fma/"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield fma
    server.shutdown()
    server.server_close()


def serve_fma(fma: FakeFma, small: bytes | None = None) -> dict[str, str]:
    """Serve the metadata and small archives under /fma/; return their checksums."""
    return {"fma_metadata.zip": fma.serve("fma/fma_metadata.zip", make_zip(METADATA)),
            "fma_small.zip": fma.serve("fma/fma_small.zip", small or make_zip(SMALL))}


def test_happy_path_then_second_call_makes_no_request(fma_server, tmp_path):
    sums = serve_fma(fma_server)
    data = tmp_path / "data"
    report = download_fma(data, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert report.downloaded == report.verified == report.extracted == ["fma_metadata.zip", "fma_small.zip"]
    assert report.problems == [] and report.resumed == [] and not report.nothing_to_do
    assert (data / "fma_metadata" / "tracks.csv").read_bytes() == METADATA["fma_metadata/tracks.csv"]
    assert (data / "fma_metadata" / "genres.csv").exists()
    assert (data / "fma_small" / "000" / "000002.mp3").read_bytes() == MP3
    assert not list(data.glob(".extracting-*"))
    requests = len(fma_server.log)
    assert requests == 2

    again = download_fma(data, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert len(fma_server.log) == requests, "an up-to-date data root must not touch the network"
    assert again.nothing_to_do and again.skipped == ["fma_metadata.zip", "fma_small.zip"]
    assert "nothing to do" in again.summary()


def test_metadata_only(fma_server, tmp_path):
    sums = serve_fma(fma_server)
    report = download_fma(tmp_path, "small", metadata_only=True, base_url=fma_server.base_url,
                          checksums=sums, progress=False)
    assert report.extracted == ["fma_metadata.zip"] and not (tmp_path / "fma_small").exists()
    assert [name for name, _ in fma_server.log] == ["fma/fma_metadata.zip"]


def test_lost_extraction_is_redone_from_the_archive_without_network(fma_server, tmp_path):
    sums = serve_fma(fma_server)
    download_fma(tmp_path, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    requests = len(fma_server.log)
    (tmp_path / ".downloads" / "fma_small.zip.done").unlink()  # as if the process died mid-extraction
    (tmp_path / "fma_small" / "000" / "000002.mp3").unlink()
    report = download_fma(tmp_path, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert len(fma_server.log) == requests
    assert report.skipped == ["fma_metadata.zip"] and report.extracted == ["fma_small.zip"]
    assert (tmp_path / "fma_small" / "000" / "000002.mp3").read_bytes() == MP3


def test_truncated_download_keeps_part_and_resumes_with_range(fma_server, tmp_path):
    sums = serve_fma(fma_server, small=make_zip(SMALL, compression=zipfile.ZIP_STORED))
    fma_server.truncate.add("fma/fma_small.zip")
    with pytest.raises(DownloadError, match=r"fma_small.zip: truncated download, \d+ of \d+ bytes.*resume"):
        download_fma(tmp_path, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    part = tmp_path / ".downloads" / "fma_small.zip.part"
    have = part.stat().st_size
    assert 0 < have < len(fma_server.files["fma/fma_small.zip"])
    assert not (tmp_path / "fma_small").exists()

    report = download_fma(tmp_path, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert fma_server.log[-1] == ("fma/fma_small.zip", f"bytes={have}-")
    assert report.resumed == ["fma_small.zip"] and report.skipped == ["fma_metadata.zip"]
    assert not part.exists()
    assert (tmp_path / "fma_small" / "000" / "000002.mp3").read_bytes() == MP3


def test_server_ignoring_range_restarts_the_download(fma_server, tmp_path):
    sums = serve_fma(fma_server)
    downloads = tmp_path / ".downloads"
    downloads.mkdir()
    (downloads / "fma_small.zip.part").write_bytes(b"stale bytes from another file")
    fma_server.ignore_range = True
    report = download_fma(tmp_path, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert fma_server.log[-1][1] == "bytes=29-"
    assert report.resumed == [] and "fma_small.zip" in report.downloaded
    assert (tmp_path / "fma_small" / "000" / "000002.mp3").read_bytes() == MP3


def test_wrong_checksum_raises_and_leaves_no_archive(fma_server, tmp_path):
    sums = serve_fma(fma_server)
    wrong = "0" * 40
    with pytest.raises(DownloadError) as raised:
        download_fma(tmp_path, "small", base_url=fma_server.base_url, progress=False,
                     checksums={**sums, "fma_small.zip": wrong})
    message = str(raised.value)
    assert "fma_small.zip" in message and wrong in message and sums["fma_small.zip"] in message
    assert "\n" not in message
    assert not (tmp_path / ".downloads" / "fma_small.zip").exists()
    assert not (tmp_path / ".downloads" / "fma_small.zip.part").exists()
    assert not (tmp_path / "fma_small").exists()


@pytest.mark.parametrize("evil", ["../evil.txt", "fma_small/../../evil.txt", "ABSOLUTE"])
def test_members_escaping_data_dir_are_refused(fma_server, tmp_path, evil):
    outside = tmp_path / "evil.txt"
    name = str(outside) if evil == "ABSOLUTE" else evil
    sums = serve_fma(fma_server, small=make_zip({**SMALL, name: b"pwned"}))
    data = tmp_path / "data"
    with pytest.raises(DownloadError, match="refusing fma_small.zip: member .*(outside|absolute)"):
        download_fma(data, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert not outside.exists()
    assert not (data / "fma_small").exists() and not list(data.glob(".extracting-*"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]


def test_symlink_member_is_refused(fma_server, tmp_path):
    sums = serve_fma(fma_server, small=make_zip(SMALL, symlinks={"fma_small/000/link.mp3": "/etc/passwd"}))
    with pytest.raises(DownloadError, match="symbolic link"):
        download_fma(tmp_path, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert not (tmp_path / "fma_small").exists()


def test_corrupt_member_is_reported_and_the_rest_extracted(fma_server, tmp_path):
    good = b"fine clip" * 100
    archive = bytearray(make_zip({**SMALL, "fma_small/000/000003.mp3": good}, compression=zipfile.ZIP_STORED))
    offset = archive.index(MP3[:64])
    archive[offset + 10] ^= 0xFF  # a flipped byte inside 000002.mp3's stored data: CRC error
    sums = serve_fma(fma_server, small=bytes(archive))
    report = download_fma(tmp_path, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert len(report.problems) == 1 and "000002.mp3" in report.problems[0] and "corrupt" in report.problems[0]
    assert (tmp_path / "fma_small" / "000" / "000003.mp3").read_bytes() == good
    assert not (tmp_path / "fma_small" / "000" / "000002.mp3").exists()


def test_connection_refused_is_one_clear_line(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DownloadError, match=rf"cannot reach http://127.0.0.1:{port}/fma_metadata.zip: .*refused"):
        download_fma(tmp_path, None, base_url=f"http://127.0.0.1:{port}/", progress=False, timeout=5)


def test_http_error_names_status_and_url(fma_server, tmp_path):
    with pytest.raises(DownloadError, match=r"HTTP 404 .* for http://127.0.0.1:\d+/fma/fma_metadata.zip"):
        download_fma(tmp_path, None, base_url=fma_server.base_url, progress=False)


def test_unknown_subset_and_checksum_file():
    with pytest.raises(DownloadError, match="unknown FMA subset 'tiny'"):
        download_fma(Path("unused"), "tiny")
    text = "".join(f"{sha}  {name}\n" for name, sha in [("fma_small.zip", "a" * 40), ("fma_full.zip", "b" * 40)])
    assert parse_checksums(text) == {"fma_small.zip": "a" * 40, "fma_full.zip": "b" * 40}
    assert set(ARCHIVES.values()) >= {"fma_metadata.zip", "fma_full.zip"}


def test_complete_part_answered_416_is_accepted(fma_server, tmp_path):
    sums = serve_fma(fma_server)
    downloads = tmp_path / ".downloads"
    downloads.mkdir()
    (downloads / "fma_small.zip.part").write_bytes(fma_server.files["fma/fma_small.zip"])  # died before the rename
    report = download_fma(tmp_path, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert report.resumed == ["fma_small.zip"] and report.verified[-1] == "fma_small.zip"
    assert (tmp_path / "fma_small" / "000" / "000002.mp3").read_bytes() == MP3


def test_concurrent_download_of_the_same_archive_is_refused(fma_server, tmp_path):
    import fcntl

    sums = serve_fma(fma_server)
    (tmp_path / ".downloads").mkdir()
    with open(tmp_path / ".downloads" / "fma_metadata.zip.lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as if another process were downloading
        with pytest.raises(DownloadError, match="another process is downloading fma_metadata.zip"):
            download_fma(tmp_path, None, base_url=fma_server.base_url, checksums=sums, progress=False)
    assert fma_server.log == []
    assert download_fma(tmp_path, None, base_url=fma_server.base_url, checksums=sums,
                        progress=False).extracted == ["fma_metadata.zip"]


# ---------------------------------------------------------------- only FMA's members (issue #16, item 11)

def test_a_top_level_file_named_like_a_folder_of_the_data_root_is_refused(fma_server, tmp_path):
    data = tmp_path / "data"
    (data / "pipeline").mkdir(parents=True)
    (data / "pipeline" / "tracks.parquet").write_bytes(b"results")
    sums = serve_fma(fma_server, small=make_zip({**SMALL, "pipeline": b"a file named like the folder"}))
    with pytest.raises(DownloadError, match=r"refusing fma_small.zip: 'pipeline' not among FMA's members"):
        download_fma(data, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert (data / "pipeline" / "tracks.parquet").read_bytes() == b"results"  # the folder survives
    assert not (data / "fma_small").exists() and not list(data.glob(".extracting-*"))


def test_an_archive_cannot_overwrite_the_dagster_configuration(fma_server, tmp_path):
    data = tmp_path / "data"
    (data / ".dagster").mkdir(parents=True)
    (data / ".dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    sums = serve_fma(fma_server, small=make_zip({**SMALL, ".dagster/dagster.yaml": b"run_launcher: evil"}))
    with pytest.raises(DownloadError, match=r"'\.dagster/dagster\.yaml' not among FMA's members"):
        download_fma(data, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert (data / ".dagster" / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"


def test_a_member_meeting_a_folder_gives_a_clear_error_not_file_exists(fma_server, tmp_path):
    data = tmp_path / "data"
    (data / "fma_small" / "000" / "000002.mp3").mkdir(parents=True)  # a folder where FMA has a file
    (data / "fma_small" / "000" / "000002.mp3" / "keep").write_bytes(b"kept")
    sums = serve_fma(fma_server)
    with pytest.raises(DownloadError, match=r"cannot extract 000002\.mp3: a folder of that name is in the way"):
        download_fma(data, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert (data / "fma_small" / "000" / "000002.mp3" / "keep").read_bytes() == b"kept"
    assert not list(data.glob(".extracting-*"))


def test_unexpected_members_are_named_and_nothing_is_written(fma_server, tmp_path):
    data = tmp_path / "data"
    extra = {f"fma_small/000/notes{i}.txt": b"x" for i in range(5)}
    sums = serve_fma(fma_server, small=make_zip({**SMALL, **extra}))
    with pytest.raises(DownloadError, match=r"'fma_small/000/notes0.txt', .* and 2 more not among FMA's members"):
        download_fma(data, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert not (data / "fma_small").exists()


# ------------------------- refused before anything is written: folder names as files, clashes with the data root

@pytest.mark.parametrize("name", ["fma_small", "fma_small/000", "fma_metadata"])
def test_a_file_member_named_like_an_fma_folder_is_refused(fma_server, tmp_path, name):
    sums = serve_fma(fma_server, small=make_zip({**SMALL, name: b"a file where FMA has a folder"}))
    with pytest.raises(DownloadError, match=rf"refusing fma_small\.zip: '{name}' not among FMA's members"):
        download_fma(tmp_path, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert (tmp_path / "fma_metadata" / "tracks.csv").read_bytes() == METADATA["fma_metadata/tracks.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".downloads", "fma_metadata"]


def test_a_folder_clash_is_refused_before_anything_is_moved(fma_server, tmp_path):
    (tmp_path / "fma_small" / "000" / "000003.mp3").mkdir(parents=True)  # a folder where FMA has a file
    (tmp_path / "fma_small" / "000" / "000003.mp3" / "keep").write_bytes(b"kept")
    small = make_zip({"README.txt": b"readme", **SMALL, "fma_small/000/000003.mp3": b"clip"})
    sums = serve_fma(fma_server, small=small)
    with pytest.raises(DownloadError) as raised:
        download_fma(tmp_path, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert str(raised.value) == ("refusing fma_small.zip: cannot extract 000003.mp3: a folder of that name is "
                                 "in the way ('fma_small/000/000003.mp3'); nothing was extracted")
    assert not (tmp_path / "README.txt").exists() and not (tmp_path / "fma_small" / "000" / "000002.mp3").exists()
    assert (tmp_path / "fma_small" / "000" / "000003.mp3" / "keep").read_bytes() == b"kept"
    assert not list(tmp_path.glob(".extracting-*"))


@pytest.mark.parametrize("blocker", ["fma_small", "fma_small/000"])
def test_a_file_where_fma_needs_a_folder_is_refused_before_anything_is_written(fma_server, tmp_path, blocker):
    in_the_way = tmp_path / blocker
    in_the_way.parent.mkdir(parents=True, exist_ok=True)
    if blocker == "fma_small":
        in_the_way.write_bytes(b"mine")
    else:
        in_the_way.symlink_to("gone")  # a dangling link: the old code's mkdir raised a raw FileExistsError
    sums = serve_fma(fma_server, small=make_zip({"README.txt": b"readme", **SMALL}))
    with pytest.raises(DownloadError, match=rf"refusing fma_small\.zip: cannot extract 'fma_small/000/000002\.mp3': "
                                            rf"a file is in the way where the folder {blocker}/ must be; nothing"):
        download_fma(tmp_path, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert not (tmp_path / "README.txt").exists() and not list(tmp_path.glob(".extracting-*"))
    if blocker == "fma_small":
        assert in_the_way.read_bytes() == b"mine"
    else:
        assert in_the_way.is_symlink() and str(in_the_way.readlink()) == "gone"


def test_every_kind_of_offence_is_named_in_one_line(fma_server, tmp_path):
    small = make_zip({**SMALL, "notes.txt": b"x", "fma_small/000/.hidden.mp3": b"x"},
                     symlinks={"fma_small/000/000004.mp3": "/etc/passwd"})
    sums = serve_fma(fma_server, small=small)
    with pytest.raises(DownloadError) as raised:
        download_fma(tmp_path, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    message = str(raised.value)
    assert message.startswith("refusing fma_small.zip: ") and message.endswith("; nothing was extracted")
    assert "'notes.txt', 'fma_small/000/.hidden.mp3' not among FMA's members" in message
    assert "symbolic link 'fma_small/000/000004.mp3'" in message and "\n" not in message
    assert not (tmp_path / "fma_small").exists()


def test_a_good_archive_replaces_only_its_own_files(fma_server, tmp_path):
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "pipeline" / "tracks.parquet").write_bytes(b"results")
    (tmp_path / ".dagster").mkdir()
    (tmp_path / ".dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    clips = tmp_path / "fma_small" / "000"
    clips.mkdir(parents=True)
    (clips / "000002.mp3").write_bytes(b"an older copy")
    (clips / "000009.mp3").write_bytes(b"not in the archive")
    small = make_zip({"README.txt": b"readme", "checksums": b"sums", "fma_small/": b"", "fma_small/000/": b"",
                      "fma_small/README.txt": b"small", "fma_small/checksums": b"sums", **SMALL,
                      "fma_small/155/155320.mp3": b"last clip"})
    sums = serve_fma(fma_server, small=small)
    report = download_fma(tmp_path, "small", base_url=fma_server.base_url, checksums=sums, progress=False)
    assert report.extracted == ["fma_metadata.zip", "fma_small.zip"] and report.problems == []
    assert (clips / "000002.mp3").read_bytes() == MP3
    assert (clips / "000009.mp3").read_bytes() == b"not in the archive"
    assert (tmp_path / "fma_small" / "155" / "155320.mp3").read_bytes() == b"last clip"
    assert (tmp_path / "README.txt").read_bytes() == b"readme"
    assert (tmp_path / "pipeline" / "tracks.parquet").read_bytes() == b"results"
    assert (tmp_path / ".dagster" / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
    assert not list(tmp_path.glob(".extracting-*"))
