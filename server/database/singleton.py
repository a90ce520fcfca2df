"""Jobs that must run once at a time across every server process and machine: the sweep (预警/超期
marks), the card sync and each shard of the MQTT ingester. Kept single by the database, not by a convention of starting one copy:

* PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a connection held for the
  run; a crashed process's connection closes and the lock goes with it.
* SQLite: one machine by nature; an exclusive `flock` on a file beside the database (released by
  the kernel when the process dies).

A periodic job that does not get the lock skips that run (the holder does the work) and tries again
at its next interval; a long-running one (the ingester) waits in `standby` until the holder is gone.
Either way any number of copies can be started as hot standbys.
"""

from __future__ import annotations

import fcntl
import os
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError


def advisory_key(name: str) -> int:
    """A stable 32-bit key for PostgreSQL's advisory locks."""
    return zlib.crc32(f"gridops {name}".encode())


Check = Callable[[], bool]  # True while this process still holds the lock


@contextmanager
def _lock(engine: Engine, job: str) -> Iterator[Check | None]:
    """A check that the lock is still held, or None while another process holds it."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            held = bool(conn.scalar(select(func.pg_try_advisory_lock(advisory_key(job)))))
            conn.commit()
            if not held:
                yield None
                return

            def alive() -> bool:  # the session lock lives as long as this connection
                try:
                    conn.scalar(select(1))
                    conn.commit()
                    return True
                except SQLAlchemyError:
                    return False

            try:
                yield alive
            finally:
                try:
                    conn.scalar(select(func.pg_advisory_unlock(advisory_key(job))))
                    conn.commit()
                except SQLAlchemyError:  # the connection died: the lock went with it
                    pass
        return
    database = engine.url.database
    if not database or database == ":memory:":  # a private in-memory database: nobody else can run the job
        yield lambda: True
        return
    name = f"{Path(database).name}.{job.replace(' ', '-').replace('/', 'of')}.lock"  # 'devices ingest 1/2'
    fd = os.open(Path(database).with_name(name), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        yield lambda: True  # a flock lasts as long as the process
    finally:
        os.close(fd)  # closing releases the lock


@contextmanager
def only_one(engine: Engine, job: str) -> Iterator[bool]:
    """True inside when this process holds `job`'s lock; False when another process runs the job now."""
    with _lock(engine, job) as check:
        yield check is not None


@contextmanager
def standby(engine: Engine, job: str, stop: threading.Event, *, retry_s: float = 5.0,
            waiting: Callable[[], None] | None = None) -> Iterator[Check | None]:
    """Wait as a hot standby until this process holds `job`'s lock, for a long-running job (the
    ingester). Inside: a check to call now and then (on PostgreSQL the lock is lost with its
    connection, and the job must then stop: another standby takes over); None if `stop` was set
    while waiting. `waiting` is called once, when the first try finds the lock taken."""
    told = False
    while True:
        with _lock(engine, job) as check:
            if check is not None:
                yield check
                return
        if not told and waiting is not None:
            waiting()
            told = True
        if stop.wait(retry_s):
            yield None
            return
