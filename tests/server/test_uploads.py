"""Upload limits against a real uvicorn server: a 2 GB upload is refused before it is read."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from server.main import create_app
from server.uploads import BodySizeLimit

LIMIT_MB = 1
PART_HEAD = b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="g.zip"\r\n\r\n'


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    import os

    from server.config import get_settings

    os.environ["GRIDOPS_MAX_UPLOAD_MB"] = str(LIMIT_MB)
    get_settings.cache_clear()
    try:
        app = create_app()
    finally:
        del os.environ["GRIDOPS_MAX_UPLOAD_MB"]
        get_settings.cache_clear()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield port
    server.should_exit = True
    thread.join(timeout=5)


def _response(sock: socket.socket) -> bytes:
    """Status line, headers and the whole body (by Content-Length)."""
    sock.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data or len(data) < _expected_length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _expected_length(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(head) + 4 + int(line.split(b":")[1])
    return 0


def test_declared_2gb_upload_refused_without_reading(server_port: int) -> None:
    with socket.create_connection(("127.0.0.1", server_port)) as sock:
        sock.sendall(b"POST /api/v1/grids/import HTTP/1.1\r\nHost: x\r\nContent-Type: application/zip\r\n"
                     b"Content-Length: 2147483648\r\n\r\n" + b"PK" * 10)
        head = _response(sock)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert b"upload_too_large" in head


def test_chunked_upload_stopped_at_limit(server_port: int) -> None:
    """No Content-Length: the server cuts the body off once the limit is passed."""
    sent = 0
    chunk = b"x" * 65536
    with socket.create_connection(("127.0.0.1", server_port)) as sock:
        sock.sendall(b"POST /api/v1/grids/import HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                     b"Content-Type: multipart/form-data; boundary=XyZ\r\n\r\n")
        sock.sendall(b"%x\r\n%s\r\n" % (len(PART_HEAD), PART_HEAD))
        try:
            while sent < 2 * 1024**3:  # would be 2 GB if the server kept reading
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                if sent > 64 * LIMIT_MB * 1024 * 1024:
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        head = _response(sock)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert b"upload_too_large" in head
    assert sent <= 64 * LIMIT_MB * 1024 * 1024 + len(chunk)


def test_middleware_reads_no_more_than_limit_plus_one_chunk() -> None:
    """The streaming path on its own: count what the app pulled from a 2 GB lazy body."""
    pulled = 0
    chunk = b"y" * (1 << 20)
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": pulled < 2 * 1024**3}

    async def app(scope, receive_, send_) -> None:  # type: ignore[no-untyped-def]
        while (await receive_()).get("more_body"):
            pass

    async def send(message: dict) -> None:
        sent.append(message)

    mw = BodySizeLimit(app, limit=4 * (1 << 20))
    asyncio.run(mw({"type": "http", "headers": []}, receive, send))
    assert sent[0]["status"] == 413
    assert pulled <= 5 * (1 << 20)
