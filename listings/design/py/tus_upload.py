"""3.5 Resumable uploads from Python: tuspy, a tus client we did not write,
against the Rust server (`tus_server serve`), with an upload that is cut
off by a server crash and resumed from the offset the server reports.

Run `cargo build --bin tus_server` first; without the binary this exits 77.
"""

import hashlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import requests
from tusclient import client
from tusclient.uploader.uploader import Uploader

KIB = 1024
MIB = 1024 * KIB


def server_binary() -> Path | None:
    """target/debug/tus_server, under CARGO_TARGET_DIR if it is set."""
    root = Path(__file__).resolve().parents[3]
    target = Path(os.environ.get("CARGO_TARGET_DIR", root / "target"))
    binary = target / "debug" / "tus_server"
    return binary if binary.is_file() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    url: str
    process: "subprocess.Popen[str]"

    def crash(self) -> None:
        """SIGKILL: no shutdown and no cleanup (the OS keeps what was
        written, unlike a power loss)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=5)


@contextmanager
def tus_server(
    binary: Path, folder: Path, port: int, max_size: int = 64 * MIB
) -> Iterator[Server]:
    args = [str(binary), "serve", "--dir", str(folder), "--port", str(port)]
    args += ["--max-size", str(max_size)]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "listening on http://..."
        if not line.startswith("listening on "):
            raise RuntimeError(f"tus_server did not start: {line!r}")
        yield Server(line.split()[-1] + "/files", process)
    finally:
        process.kill()
        process.wait(timeout=5)


def photo(size: int) -> bytes:
    """Deterministic bytes that start like a PNG file."""
    body = hashlib.shake_256(b"holiday").digest(size - 8)
    return b"\x89PNG\r\n\x1a\n" + body


# ANCHOR: upload
def start_upload(
    server: str, data: bytes, chunk: int, name: str = "holiday.png"
) -> Uploader:
    """Creates the upload (POST) and returns tuspy's uploader for it.
    Every PATCH carries `Upload-Checksum: sha1 ...` of its chunk."""
    tus = client.TusClient(server)
    return tus.uploader(
        file_stream=BytesIO(data),
        chunk_size=chunk,
        metadata={"filename": name},
        upload_checksum=True,
        retries=0,
    )


def resume(server: str, upload_url: str, data: bytes, chunk: int) -> int:
    """A new client for an existing upload: tuspy asks the server for the
    offset (HEAD), then sends only the rest. Returns where it resumed."""
    tus = client.TusClient(server)
    uploader = tus.uploader(
        file_stream=BytesIO(data),
        chunk_size=chunk,
        url=upload_url,
        upload_checksum=True,
    )
    resumed_at: int = uploader.offset
    uploader.upload()
    return resumed_at


# ANCHOR_END: upload


def upload_url(uploader: Uploader) -> str:
    """The upload's URL (tuspy declares the attribute as None)."""
    url: object = uploader.url
    if not isinstance(url, str):
        raise RuntimeError("the upload has no URL yet")
    return url


def download(server: str, upload_url: str) -> requests.Response:
    origin = server.removesuffix("/files")
    path = upload_url[upload_url.index("/files/") :]
    return requests.get(origin + path, timeout=10)


# ANCHOR: main
def main() -> None:
    binary = server_binary()
    if binary is None:
        print("build it first: cargo build --bin tus_server", file=sys.stderr)
        sys.exit(77)
    data, chunk = photo(3 * MIB), 256 * KIB
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        with tus_server(binary, Path(folder), port) as first:
            uploader = start_upload(first.url, data, chunk)
            uploader.upload(stop_at=5 * chunk)  # 5 PATCH requests
            print(f"sent {uploader.offset} of {len(data)} bytes, then crash")
            first.crash()
        # A new process, the same folder: the uploads survive on disk.
        with tus_server(binary, Path(folder), port) as second:
            at = resume(second.url, upload_url(uploader), data, chunk)
            print(f"a new client resumed at offset {at}")
            got = download(second.url, upload_url(uploader))
    print(f"download: {got.status_code} {got.headers['Content-Type']}")
    print(f"  {got.headers['Content-Disposition']}")
    same = hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
    print(f"  SHA-256 equal to the original: {same}")


# ANCHOR_END: main


if __name__ == "__main__":
    main()
