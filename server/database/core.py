"""Engine and sessions for both back ends: SQLite + SpatiaLite (embedded) and PostGIS.

`sqlite:///…` URLs get mod_spatialite loaded on every connection, WAL and a busy timeout
(FACTS.md: without it concurrent writers see "database is locked"). PostgreSQL URLs are
used as they are; the PostGIS extension is created by the first migration.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

# pyproj must be loaded before mod_spatialite: the other way round, the two PROJ builds
# clash and the interpreter aborts at exit with "free(): invalid pointer" (seen here).
import pyproj  # noqa: F401
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from server.config import get_settings

SPATIALITE_MODULE = "mod_spatialite"


class Base(DeclarativeBase):
    """Declarative base shared by every domain's models."""


class SpatialiteUnavailable(RuntimeError):
    """The running Python cannot load SQLite extensions, so SpatiaLite cannot work."""


def _check_extension_loading() -> None:
    if not hasattr(sqlite3.Connection, "enable_load_extension"):
        raise SpatialiteUnavailable(
            "This Python's sqlite3 cannot load extensions, so SpatiaLite is unavailable. "
            "Use the project venv made from Debian's /usr/bin/python3 (./dev setup), "
            "or set GRIDOPS_DATABASE_URL to a PostgreSQL + PostGIS database."
        )


def _on_sqlite_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    """Load SpatiaLite and set the pragmas that make concurrent use safe and fast."""
    # Let SQLAlchemy emit BEGIN itself (see _on_sqlite_begin): pysqlite's implicit transactions
    # break SAVEPOINTs and transactional DDL.
    dbapi_conn.isolation_level = None
    dbapi_conn.enable_load_extension(True)
    try:
        dbapi_conn.load_extension(SPATIALITE_MODULE)
    except sqlite3.OperationalError as exc:
        raise SpatialiteUnavailable(
            f"Cannot load {SPATIALITE_MODULE} ({exc}); install Debian's libsqlite3-mod-spatialite"
        ) from exc
    finally:
        dbapi_conn.enable_load_extension(False)
    dbapi_conn.execute("PRAGMA journal_mode=WAL")
    dbapi_conn.execute("PRAGMA synchronous=NORMAL")
    dbapi_conn.execute("PRAGMA busy_timeout=5000")
    dbapi_conn.execute("PRAGMA foreign_keys=ON")
    if dbapi_conn.execute("SELECT CheckSpatialMetaData()").fetchone()[0] < 1:
        # With the transaction flag this takes 0.07 s instead of 12 s (FACTS.md).
        dbapi_conn.execute("SELECT InitSpatialMetaData(1)")


def _on_sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    """BEGIN IMMEDIATE: a deferred transaction that read and then writes fails at once with
    "database is locked" when another writer committed meanwhile (WAL snapshot), whatever
    the busy timeout; taking the write lock up front makes writers queue instead."""
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """Engine for a URL; SQLite files get their folder created and SpatiaLite wired in."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _check_extension_loading()
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True)


def analyze(engine: Engine) -> None:
    """Planner statistics. PostgreSQL's autovacuum gathers them by itself; SQLite has none until
    ANALYZE runs, and without them it reads a district's year through an index where a scan is
    cheaper (bench_indicators: 6.5 s instead of 5.7 s at 1,000,000 events)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@lru_cache
def get_engine() -> Engine:
    """One engine per process, built from settings on first use."""
    return make_engine(get_settings().database_url)


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


def get_db() -> Iterator[Session]:
    """Request-scoped session: the FastAPI dependency (overridden in tests)."""
    session = get_sessionmaker()()
    try:
        yield session
    finally:
        session.close()
