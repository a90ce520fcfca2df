"""Engine and sessions for both back ends: SQLite + SpatiaLite (embedded) and PostGIS.

`sqlite:///…` URLs get mod_spatialite loaded on every connection, WAL and a busy timeout
(FACTS.md: without it concurrent writers see "database is locked"). PostgreSQL URLs are
used as they are; the PostGIS extension is created by the first migration.

SQLite has one writer. A session says whether it writes: a read session (`READ_ONLY`, see
`get_read_sessionmaker`) begins deferred and, in WAL mode, reads its snapshot beside the writer
without ever waiting for the write lock; a write session takes the lock up front (BEGIN
IMMEDIATE). A write that still cannot get the lock within the busy timeout is `is_busy`: the
API answers 503 `database_busy` with Retry-After.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache, partial
from pathlib import Path

# pyproj must be loaded before mod_spatialite: the other way round, the two PROJ builds
# clash and the interpreter aborts at exit with "free(): invalid pointer" (seen here).
import pyproj  # noqa: F401
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from server.config import get_settings

SPATIALITE_MODULE = "mod_spatialite"
# Execution option of sessions and connections that only read: on SQLite their transactions
# begin deferred, so they never take (nor wait for) the write lock.
READ_ONLY = "gridops_read_only"
# Execution option, with READ_ONLY, of a SQLite connection whose statements each read on their own
# (autocommit): no BEGIN is sent, and the commit that ends the "transaction" sends nothing either
# (sqlite3 commits only a transaction that is open).
NO_BEGIN = "gridops_no_begin"


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


class WriteQueue:
    """A lock handed to its waiters in arrival order (threading.Lock lets the releaser take it back)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: deque[threading.Lock] = deque()
        self._held = False

    def acquire(self, timeout: float) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Lock()
            turn.acquire()
            self._waiters.append(turn)
        if turn.acquire(timeout=timeout):
            return True
        with self._mutex:
            if turn in self._waiters:
                self._waiters.remove(turn)
                return False
            return True  # handed over just as the wait ran out

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # the next in line holds it now
            else:
                self._held = False


class _GatedConnection(sqlite3.Connection):
    """A connection whose write transactions pass this process's gate (one per engine) first.

    SQLite's busy handler polls with sleeps growing to 100 ms, so a writer that waits can be
    overtaken by newcomers until its busy timeout runs out (measured: 1 write in 600 got 503 with
    20 writers beside an export). Writers of one process queue in order instead and each is woken
    as soon as the previous one commits; the busy timeout still arbitrates between processes."""

    gate: WriteQueue
    gate_timeout_s: float
    holds_gate = False

    def enter_gate(self) -> None:
        if not self.gate.acquire(timeout=self.gate_timeout_s):
            raise sqlite3.OperationalError("database is locked (this process's other writers held it)")
        self.holds_gate = True

    def leave_gate(self) -> None:
        if self.holds_gate:
            self.holds_gate = False
            self.gate.release()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave_gate()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave_gate()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.leave_gate()


def _on_sqlite_connect(dbapi_conn: _GatedConnection, _record: object, *, busy_timeout_ms: int,
                       gate: WriteQueue) -> None:
    """Load SpatiaLite and set the pragmas that make concurrent use safe and fast."""
    dbapi_conn.gate, dbapi_conn.gate_timeout_s = gate, busy_timeout_ms / 1000
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
    dbapi_conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    dbapi_conn.execute("PRAGMA foreign_keys=ON")
    if dbapi_conn.execute("SELECT CheckSpatialMetaData()").fetchone()[0] < 1:
        # With the transaction flag this takes 0.07 s instead of 12 s (FACTS.md).
        dbapi_conn.execute("SELECT InitSpatialMetaData(1)")


def _on_sqlite_begin(conn) -> None:  # type: ignore[no-untyped-def]
    """Writes BEGIN IMMEDIATE: a deferred transaction that read and then writes fails at once with
    "database is locked" when another writer committed meanwhile (WAL snapshot), whatever
    the busy timeout; taking the write lock up front makes writers queue instead. Reads
    (READ_ONLY) BEGIN deferred: in WAL mode they never wait for the writer, nor it for them."""
    options = conn.get_execution_options()
    if options.get(READ_ONLY):
        if not options.get(NO_BEGIN):
            conn.exec_driver_sql("BEGIN")
        return
    dbapi_conn = conn.connection.dbapi_connection
    try:
        dbapi_conn.enter_gate()  # released by the connection's commit, rollback or close
    except sqlite3.OperationalError as exc:
        raise OperationalError("BEGIN IMMEDIATE", None, exc) from None
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        dbapi_conn.leave_gate()
        raise


def make_engine(url: str, *, busy_timeout_ms: int | None = None, pgbouncer: bool = False) -> Engine:
    """Engine for a URL; SQLite files get their folder created and SpatiaLite wired in. A SQLite
    write waits `busy_timeout_ms` (default: the setting) for the write lock, then fails busy.
    `pgbouncer`: the URL is PgBouncer in transaction mode, where a statement psycopg prepared on one
    server connection is missing on the next one: prepare none."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _check_extension_loading()
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "factory": _GatedConnection})
        timeout = get_settings().sqlite_busy_timeout_ms if busy_timeout_ms is None else busy_timeout_ms
        event.listen(engine, "connect", partial(_on_sqlite_connect, busy_timeout_ms=timeout, gate=WriteQueue()))
        event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    _parse_long_statements_once()
    settings = get_settings()  # a pool as large as the threads that may use it at once (see server.deps)
    engine = create_engine(url, pool_use_lifo=True, pool_size=settings.db_pool_size,
                           max_overflow=settings.db_max_overflow, pool_timeout=settings.db_pool_timeout_s,
                           connect_args={"prepare_threshold": None} if pgbouncer else {})
    ping_when_idle(engine)
    return engine


# psycopg turns a statement's %(name)s placeholders into $n once per text and keeps the result, but
# only for statements of at most 50 parameters. A report's one write (server.events.serials,
# insert_numbered: the event's and its history row's columns, 52 parameters) was parsed again at every
# report: an eighth of the report's CPU in its worker thread (bench_request_cpu.py). The kept results
# are an lru_cache of 128 texts (psycopg._queries._query2pg): our statements are built once and few.
STATEMENT_PARAMS_KEPT = 200


def _parse_long_statements_once() -> None:
    """Raise psycopg's limit: a module constant it reads at each execution, private, so
    tests/server/events/test_report_statements.py checks that it is still there and read."""
    from psycopg import _queries

    _queries.MAX_CACHED_STATEMENT_PARAMS = max(_queries.MAX_CACHED_STATEMENT_PARAMS, STATEMENT_PARAMS_KEPT)


PING_AFTER_IDLE_S = 1.0


def ping_when_idle(engine: Engine, idle_s: float = PING_AFTER_IDLE_S) -> None:
    """SQLAlchemy's pool_pre_ping, for the connections that sat in the pool for `idle_s` or more.
    pool_pre_ping pings at every checkout: a round trip and ~0.3 ms of CPU, twice a request (the
    user's lookup, then the view), for connections last used milliseconds ago. A restarted
    PostgreSQL or a proxy's idle time-out shows on the connections that waited; those are still
    pinged, and a dead one is replaced before the request sees it. LIFO keeps the busy connections
    busy, so the spare ones are the ones that wait (and get pinged)."""

    @event.listens_for(engine.pool, "checkin")
    def checked_in(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def checked_out(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        if time.monotonic() - record.info.get("idle_since", float("-inf")) < idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - whatever broke it, the pool connects again (up to 3 tries)
            raise DisconnectionError(f"pooled connection dead after {idle_s} s idle: {exc}") from exc


_BUSY_MESSAGES = ("database is locked", "database table is locked", "database is busy")


def is_busy(exc: BaseException) -> bool:
    """SQLite gave up waiting for the write lock (SQLITE_BUSY / SQLITE_LOCKED): retry later."""
    orig = getattr(exc, "orig", exc)
    return isinstance(orig, sqlite3.OperationalError) and any(m in str(orig) for m in _BUSY_MESSAGES)


def analyze(engine: Engine) -> None:
    """Planner statistics. PostgreSQL's autovacuum gathers them by itself; SQLite has none until
    ANALYZE runs, and without them it reads a district's year through an index where a scan is
    cheaper (bench_indicators: 6.5 s instead of 5.7 s at 1,000,000 events)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


class ReadsFirst:
    """A write whose reads come first, outside the locks its writes take.

    SQLite: a write session takes the lock at its first statement (BEGIN IMMEDIATE), so a service that
    reads for a while before it writes holds the lock for all of it, and every other writer of the
    process queues behind that Python. Created before the reads, this reads in autocommit (each
    statement its own snapshot, no BEGIN and no COMMIT sent); `writes()` then opens the write
    transaction, which takes the lock only now.

    PostgreSQL: reading takes no lock, but a transaction costs a BEGIN and a COMMIT round trip, and
    the locks a write takes (a report's: the feed's and the serial counter's) are held from the write
    to the COMMIT, across the return to Python and its wait for the GIL among 40 request threads,
    while every other report waits (bench_events). So the reads run in autocommit, each statement its
    own snapshot as under READ COMMITTED, and `writes(one_statement=True)` stays there: a write made
    of one statement then commits by itself, its locks released inside PostgreSQL. `writes()` opens
    an ordinary transaction for writes of several statements.

    A race with a writer in between is the caller's to settle the way it settles a concurrent one (a
    unique key, see `attempt`). No-op in a session already in a transaction (a caller's, a test's):
    its reads and writes are part of that one.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        dialect = session.get_bind().dialect.name
        self.postgres = dialect == "postgresql"
        self.own = not session.in_transaction() and dialect in ("sqlite", "postgresql")
        self.reading = self.own
        if self.reading:
            options = {"isolation_level": "AUTOCOMMIT"} if self.postgres else {READ_ONLY: True, NO_BEGIN: True}
            session.connection(execution_options=options)

    def writes(self, *, one_statement: bool = False) -> None:
        """End the reads (nothing was written) and begin the writes: SQLite's lock from here; on
        PostgreSQL a transaction, or with `one_statement` none (the statement commits itself)."""
        if not self.reading:
            return
        self.reading = False
        if self.postgres and one_statement:
            return
        self.session.commit()  # gives the connection back (nothing to commit): the next one begins as the engine does
        if not self.postgres:
            self.session.connection(execution_options={READ_ONLY: False})

    @contextmanager
    def attempt(self) -> Iterator[None]:
        """The first write, which a unique key may refuse (IntegrityError, raised on), undone alone:
        in a transaction of this phase's own by rolling it back (nothing else is in it yet, and
        SQLite's lock goes with it); on SQLite inside a caller's transaction by a savepoint. On
        PostgreSQL the failed statement has aborted the transaction: it is rolled back either way."""
        if self.own or self.postgres:
            try:
                yield
            except IntegrityError:
                self.session.rollback()
                raise
        else:
            with self.session.begin_nested():
                yield


@lru_cache
def get_engine() -> Engine:
    """One engine per process, built from settings on first use."""
    settings = get_settings()
    return make_engine(settings.database_url, pgbouncer=settings.db_pgbouncer)


@lru_cache
def get_direct_engine() -> Engine:
    """For what needs a database session of its own (the locks of server.database.singleton): the
    direct URL when the main one goes through PgBouncer (GRIDOPS_DATABASE_DIRECT_URL), else the main engine."""
    settings = get_settings()
    return make_engine(settings.database_direct_url) if settings.database_direct_url else get_engine()


def read_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions that only read: on SQLite their transactions never take the write lock (deferred BEGIN)."""
    return sessionmaker(bind=engine, expire_on_commit=False, execution_options={READ_ONLY: True})


def _reads_after_commit(session: Session) -> None:
    # Applies from the next transaction on (execution options are set when it takes its connection).
    session.execution_options = session.execution_options.union({READ_ONLY: True})


def write_once_sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions of requests that write: the write lock from the first query to the commit, then
    reads only (the response is built after the commit), so the lock is never held while the
    response is serialised and sent. Views commit once, at the end of their writes."""
    maker = sessionmaker(bind=engine, expire_on_commit=False)
    event.listen(maker, "after_commit", _reads_after_commit)
    return maker


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    """Write sessions (the CLI, the ingester): on SQLite every transaction takes the write lock."""
    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@lru_cache
def get_read_sessionmaker() -> sessionmaker[Session]:
    return read_sessions(get_engine())


@lru_cache
def get_write_once_sessionmaker() -> sessionmaker[Session]:
    return write_once_sessions(get_engine())
