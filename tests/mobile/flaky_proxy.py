"""A TCP proxy for the sync tests that breaks connections the way a weak mobile network does.

Every `drop_every`-th HTTP request it cuts the connection, alternately before the request reaches
the server (the request is lost) and after the server answered (the server did the work, the phone
never hears of it: the case exactly-once is about). Once, it cuts a large photo upload halfway
through its body; optionally it answers one request "503, come back in n seconds" itself. It runs its own asyncio loop in a thread.
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass, field
from typing import Self

REQUEST_LINE = re.compile(rb"(?:GET|POST|PUT|PATCH|DELETE) (\S+) HTTP/1\.1\r\n")


@dataclass
class Counts:
    requests: int = 0
    lost: int = 0  # cut before the server saw the request
    unanswered: int = 0  # cut after the server answered
    cut_uploads: int = 0
    busy: int = 0
    log: list[str] = field(default_factory=list)


class FlakyProxy:
    def __init__(self, upstream_port: int, *, drop_every: int = 7, cut_upload_over: int = 32_768,
                 busy: tuple[str, float] | None = None) -> None:
        """`busy` (path, seconds): the first request to that path is answered 503 with Retry-After."""
        self.upstream_port = upstream_port
        self.busy = busy
        self.drop_every = drop_every
        self.cut_upload_over = cut_upload_over
        self.counts = Counts()
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    async def _handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        state = {"cut_on_answer": False, "cut_body_after": None}

        def cut() -> None:
            client_w.transport.abort()
            server_w.transport.abort()

        async def upstream() -> None:
            while data := await client_r.read(65536):
                match = REQUEST_LINE.search(data)
                if match:
                    self.counts.requests += 1
                    n, path = self.counts.requests, match.group(1).decode()
                    if self.busy and path == self.busy[0] and not self.counts.busy:
                        self.counts.busy += 1
                        self.counts.log.append(f"{n} {path}: 503")
                        client_w.write(b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: %d\r\n"
                                       b"Content-Length: 0\r\nConnection: close\r\n\r\n" % self.busy[1])
                        await client_w.drain()
                        return cut()
                    if path == "/api/v1/photos" and not self.counts.cut_uploads and \
                            int(re.search(rb"content-length: (\d+)", data, re.IGNORECASE).group(1)) > self.cut_upload_over:
                        state["cut_body_after"] = len(data) + self.cut_upload_over // 2
                        self.counts.cut_uploads += 1
                        self.counts.log.append(f"{n} {path}: cut mid-upload")
                    elif n % self.drop_every == 0:
                        if (n // self.drop_every) % 2:
                            self.counts.lost += 1
                            self.counts.log.append(f"{n} {path}: lost")
                            return cut()
                        state["cut_on_answer"] = True
                        self.counts.unanswered += 1
                        self.counts.log.append(f"{n} {path}: unanswered")
                if state["cut_body_after"] is not None:
                    if len(data) >= state["cut_body_after"]:
                        server_w.write(data[:state["cut_body_after"]])
                        await server_w.drain()
                        await asyncio.sleep(0.05)
                        return cut()
                    state["cut_body_after"] -= len(data)
                server_w.write(data)
                await server_w.drain()
            server_w.close()

        async def downstream() -> None:
            while data := await server_r.read(65536):
                if state["cut_on_answer"]:
                    return cut()
                client_w.write(data)
                await client_w.drain()
            client_w.close()

        try:
            await asyncio.gather(upstream(), downstream())
        except (ConnectionError, OSError):
            cut()
