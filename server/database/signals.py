"""SQLite's counterpart of NOTIFY: a file beside the database that a commit appends to.

PostgreSQL tells every process of a change at its commit (NOTIFY, server.database.feed_order). SQLite
has nothing of the kind, and a SQLite database lives on one machine, where every process that writes
it can also write its folder (its -wal and -shm files are there). So a commit that has something to
tell appends one byte to `<database>-notify-<payload>` (O_APPEND: whole, whichever process writes),
and a reader compares the file's identity and size with what it saw last: the size grows with every
signal, so none is missed however close two are (a modification time may not change within a tick).
The file grows by one byte a signal; signals are rare (a user row's change).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from sqlalchemy import URL

log = logging.getLogger(__name__)


def signal_path(url: URL, payload: str) -> Path | None:
    """The file of `payload`'s signals for a SQLite database URL; None for an in-memory database."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    path = Path(database)
    return path.with_name(f"{path.name}-notify-{payload}")


def send(path: Path) -> None:
    """Append a signal. The commit it follows stands whatever happens here: a failure is logged, and
    the readers fall back on their own expiry."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, b".")
        finally:
            os.close(fd)
    except OSError as exc:
        log.error("could not signal %s to other processes (%s): they see the change when their copies expire",
                  path, exc)


def mark(path: Path) -> tuple[int, int]:
    """What a reader compares: the file's inode and size ((0, 0) while it does not exist)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return (0, 0)
    return (st.st_ino, st.st_size)
