"""PostgreSQL LISTEN in one thread per server process, for the live feeds' shared readers.

psycopg 3's `Connection.notifies(timeout=…)` blocks its thread until notifications arrive (those
received between two calls wait in the connection's backlog, psycopg ≥ 3.2), so a daemon thread
holds one autocommit connection of its own (not a pooled one: it is never given back) and hands
each notification's payload (a feed's table, server.database.feed_order) to the event loop. When
the database restarts or the connection drops, the thread reconnects after a pause and reports a
wake-up for every feed: notifications sent while it was away are lost, and the readers look
themselves (they also poll slowly anyway).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import psycopg
from sqlalchemy import URL

from server.database.feed_order import CHANNEL

log = logging.getLogger(__name__)
RECONNECT_S = 1.0
# A link that dies without a reset (a NAT or firewall dropping the idle connection) leaves LISTEN
# silent: the feeds would then wait for the 5 s fallback poll for good. TCP keepalives let the
# kernel notice within about 25 s, and the thread reconnects.
KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
ANY_FEED = ""  # the payload reported after a reconnect: every feed looks for rows


def libpq_url(url: URL) -> str:
    """SQLAlchemy's `postgresql+psycopg://…` as libpq's `postgresql://…`, password included."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    """Calls `on_notify(payload)` in its own thread for each NOTIFY on the feeds' channel."""

    def __init__(self, url: URL, on_notify: Callable[[str], None], name: str = "gridops-feed-listen") -> None:
        self._url = libpq_url(url)
        self._on_notify = on_notify
        self._name = name  # the thread's, and the connection's application_name (pg_stat_activity)
        self._stop = threading.Event()
        self.connected = threading.Event()  # set while LISTEN is in force (tests wait for it)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self._url, autocommit=True, connect_timeout=5,
                                     application_name=self._name, **KEEPALIVE) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._on_notify(ANY_FEED)  # anything committed before LISTEN took effect …
                    self.connected.set()  # … is looked for before anyone relies on the notifications
                    while not self._stop.is_set():
                        for n in conn.notifies(timeout=1.0):  # returns each second to see `_stop`
                            self._on_notify(n.payload)
            except psycopg.Error as exc:
                self.connected.clear()
                log.warning("feed LISTEN connection lost (%s); reconnecting in %.0f s", exc, RECONNECT_S)
                self._stop.wait(RECONNECT_S)
        self.connected.clear()
