"""The LISTEN connection of the live feeds notices a link that died silently (TCP keepalives)."""

from __future__ import annotations

import socket
from typing import Any

import psycopg
import pytest

from server.database import listen
from server.database.core import make_engine
from server.database.listen import Listener


def test_the_listen_connection_probes_an_idle_link(fresh_db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    if fresh_db_url.startswith("sqlite"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite polls")
    opened: list[psycopg.Connection[Any]] = []
    real_connect = psycopg.connect

    def connect(*args: Any, **kwargs: Any) -> psycopg.Connection[Any]:
        conn = real_connect(*args, **kwargs)
        opened.append(conn)
        return conn

    monkeypatch.setattr(listen.psycopg, "connect", connect)
    url = make_engine(fresh_db_url).url
    if not url.host or url.host.startswith("/"):
        pytest.skip("a Unix socket has no TCP keepalives")
    listener = Listener(url, lambda payload: None)
    listener.start()
    try:
        assert listener.connected.wait(10)
        sock = socket.socket(fileno=opened[0].pgconn.socket)  # a second object on the same descriptor
        try:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == listen.KEEPALIVE["keepalives_idle"]
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == listen.KEEPALIVE["keepalives_count"]
        finally:
            sock.detach()  # the descriptor stays the connection's
    finally:
        listener.stop()
