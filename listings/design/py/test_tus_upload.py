"""tuspy 1.1 against the Rust tus server, started as a child process: a
whole upload with per-chunk SHA-1 checksums, a resume after a server crash,
a resume after the network cuts a PATCH in half, and the refusals."""

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from tus_upload import (
    KIB,
    MIB,
    Server,
    download,
    free_port,
    photo,
    resume,
    server_binary,
    start_upload,
    tus_server,
    upload_url,
)
from tusclient import client
from tusclient.exceptions import TusCommunicationError, TusUploadFailed


@pytest.fixture
def binary() -> Path:
    found = server_binary()
    if found is None:
        pytest.skip("tus_server is not built: cargo build --bin tus_server")
    return found


@pytest.fixture
def server(binary: Path, tmp_path: Path) -> Iterator[Server]:
    with tus_server(binary, tmp_path, free_port(), max_size=8 * MIB) as s:
        yield s


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_whole_upload_with_checksums_and_a_safe_download(
    server: Server,
) -> None:
    data = photo(2 * MIB + 123)
    uploader = start_upload(server.url, data, 256 * KIB)
    uploader.upload()
    assert uploader.offset == len(data)
    got = download(server.url, upload_url(uploader))
    assert got.status_code == 200
    assert sha256(got.content) == sha256(data)
    assert got.headers["Content-Type"] == "image/png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    disposition = got.headers["Content-Disposition"]
    assert disposition == 'attachment; filename="holiday.png"'


def test_options_as_a_client_sees_them(server: Server) -> None:
    r = requests.options(server.url, timeout=5)
    assert r.status_code == 204
    assert r.headers["Tus-Version"] == "1.0.0"
    assert "checksum" in r.headers["Tus-Extension"].split(",")
    assert "sha1" in r.headers["Tus-Checksum-Algorithm"].split(",")
    assert r.headers["Tus-Max-Size"] == str(8 * MIB)


# ANCHOR: crash
def test_resume_after_the_server_crashes(binary: Path, tmp_path: Path) -> None:
    data, chunk, port = photo(3 * MIB), 256 * KIB, free_port()
    with tus_server(binary, tmp_path, port) as first:
        uploader = start_upload(first.url, data, chunk)
        uploader.upload(stop_at=4 * chunk)
        first.crash()
        with pytest.raises(TusCommunicationError):
            uploader.upload_chunk()  # type: ignore[no-untyped-call]
    with tus_server(binary, tmp_path, port) as second:
        assert (
            resume(second.url, upload_url(uploader), data, chunk) == 4 * chunk
        )
        got = download(second.url, upload_url(uploader))
    assert sha256(got.content) == sha256(data)


# ANCHOR_END: crash


class CuttingProxy:
    """Forwards one connection to the server and closes it after
    `budget` bytes from the client: a network that fails mid-request."""

    def __init__(self, target_port: int, budget: int) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.target_port, self.budget = target_port, budget
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        conn, _ = self.listener.accept()
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        sent = 0
        with conn, upstream:
            while sent < self.budget:
                data = conn.recv(min(64 * KIB, self.budget - sent))
                if not data:
                    break
                upstream.sendall(data)
                sent += len(data)
        self.listener.close()


def test_resume_after_the_network_cuts_a_patch(server: Server) -> None:
    data, chunk = photo(2 * MIB), 2 * MIB
    uploader = start_upload(server.url, data, chunk)
    uploader.set_url(uploader.create_url())
    port = int(server.url.split(":")[-1].split("/")[0])
    proxy = CuttingProxy(port, budget=700 * KIB)
    url = upload_url(uploader)
    path = url[url.index("/files/") :]
    # tuspy talks to the proxy for the PATCH, so the cut hits it mid-body.
    uploader.set_url(f"http://127.0.0.1:{proxy.port}{path}")
    uploader.upload_checksum = False  # a checksum would void the part
    with pytest.raises(TusUploadFailed):
        uploader.upload_chunk()  # type: ignore[no-untyped-call]
    proxy.thread.join(timeout=5)
    direct = server.url.removesuffix("/files") + path
    kept, deadline = 0, time.monotonic() + 5
    while kept == 0 and time.monotonic() < deadline:
        # Under load the server may not have run the cut PATCH yet.
        head = requests.head(
            direct, headers={"Tus-Resumable": "1.0.0"}, timeout=5
        )
        kept = int(head.headers["Upload-Offset"])
        time.sleep(0.05)
    assert 0 < kept < 700 * KIB, "the bytes that arrived are kept"
    assert resume(server.url, direct, data, 256 * KIB) == kept
    assert sha256(download(server.url, direct).content) == sha256(data)


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd", "..\\..\\win.ini", "/etc/shadow", ".bashrc"],
)
def test_path_traversal_names_are_refused(server: Server, name: str) -> None:
    uploader = start_upload(server.url, photo(1000), 1000, name=name)
    with pytest.raises(TusCommunicationError) as refused:
        uploader.upload()
    assert refused.value.status_code == 400


def test_too_large_and_disallowed_types_are_refused(server: Server) -> None:
    big = start_upload(server.url, photo(8 * MIB + 1), MIB)
    with pytest.raises(TusCommunicationError) as refused:
        big.upload()
    assert refused.value.status_code == 413
    elf = b"\x7fELF\x02\x01\x01\x00" + bytes(1000)
    script = start_upload(server.url, elf, 1000, name="photo.png")
    with pytest.raises(TusUploadFailed) as failed:
        script.upload()
    assert failed.value.status_code == 422
    assert script.get_offset() == 0


def test_another_protocol_version_is_refused(server: Server) -> None:
    tus = client.TusClient(server.url, headers={"Tus-Resumable": "0.2.2"})
    uploader = tus.uploader(file_stream=None, file_path=__file__)
    with pytest.raises(TusCommunicationError) as refused:
        uploader.upload()
    assert refused.value.status_code == 412
