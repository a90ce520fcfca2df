"""Jobs that must run once at a time across every server process and machine: the sweep (预警/超期
marks) and the card sync. Kept single by the database, not by a convention of starting one copy:

* PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a connection held for the
  run; a crashed process's connection closes and the lock goes with it.
* SQLite: one machine by nature; an exclusive `flock` on a file beside the database (released by
  the kernel when the process dies).

A process that does not get the lock skips that run (the holder does the work) and tries again at
its next interval: any number of copies can be started as hot standbys.
"""

from __future__ import annotations

import fcntl
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, func, select


def advisory_key(name: str) -> int:
    """A stable 32-bit key for PostgreSQL's advisory locks."""
    return zlib.crc32(f"gridops {name}".encode())


@contextmanager
def only_one(engine: Engine, job: str) -> Iterator[bool]:
    """True inside when this process holds `job`'s lock; False when another process runs the job now."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            held = bool(conn.scalar(select(func.pg_try_advisory_lock(advisory_key(job)))))
            conn.commit()
            try:
                yield held
            finally:
                if held:
                    conn.scalar(select(func.pg_advisory_unlock(advisory_key(job))))
                    conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":  # a private in-memory database: nobody else can run the job
        yield True
        return
    fd = os.open(Path(database).with_name(f"{Path(database).name}.{job}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock
