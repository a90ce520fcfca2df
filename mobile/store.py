"""The phone's one SQLite file: the outbox, the photo queue, the visit being recorded, and caches.

Why SQLite with WAL and a commit per state change: the app may be killed at any instant (Android
does it to background apps; the reliability test does it with SIGKILL). Each row's state is
committed before a request is sent and after its answer, so after a restart a row is either
sent (the server's answer stored) or sent again with the same uuid and the same frozen body,
which the server answers with the first result. Rows are never deleted: "sent" is a state.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

FILENAME = "gridops.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- events, transitions, visits and key-person updates, in creation order (seq) per owner (the worker
-- who created them); a transition waits for its event, a key-person update for its visit (target)
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    local_id TEXT NOT NULL UNIQUE,      -- the event's or visit's uuid, a transition's Idempotency-Key
    kind TEXT NOT NULL,                 -- event | transition | visit | key_person_update
    owner TEXT NOT NULL,
    target TEXT,                        -- a transition's event uuid, a key-person update's visit uuid
    payload TEXT NOT NULL,              -- the request without its photos
    photos TEXT NOT NULL DEFAULT '[]',  -- sha256 of the photos, in the worker's order
    body TEXT,                          -- the request as first sent: every retry sends exactly this
    photos_sent TEXT NOT NULL DEFAULT '[]',  -- photos the server's record holds
    state TEXT NOT NULL DEFAULT 'queued',    -- queued | sent | failed
    attempts INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    reason TEXT,                        -- zh, the server's message
    label TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    sent_at TEXT,
    response TEXT                       -- the server's record, once acknowledged
);
CREATE INDEX IF NOT EXISTS ix_outbox_owner_state ON outbox (owner, state, seq);
CREATE TABLE IF NOT EXISTS photo (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sha256 TEXT NOT NULL UNIQUE,        -- of the compressed bytes, which are what is uploaded
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    owner TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    error_code TEXT,
    reason TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE TABLE IF NOT EXISTS work (uuid TEXT PRIMARY KEY, owner TEXT NOT NULL, data TEXT NOT NULL);
-- the points of visits: track fixes and check-ins, kept until the visit is queued
CREATE TABLE IF NOT EXISTS track (
    visit TEXT NOT NULL, n INTEGER NOT NULL, kind TEXT NOT NULL,  -- track | checkin
    lon REAL NOT NULL, lat REAL NOT NULL, accuracy_m REAL, datum TEXT NOT NULL, at TEXT NOT NULL,
    mock INTEGER NOT NULL DEFAULT 0, target_kind TEXT, target_id TEXT, note TEXT,
    PRIMARY KEY (visit, n)
);
"""


def _row(r: sqlite3.Row | None) -> dict[str, Any] | None:
    if r is None:
        return None
    out = dict(r)
    for key in ("payload", "photos", "body", "photos_sent", "response"):
        if key in out and out[key] is not None:
            out[key] = json.loads(out[key])
    return out


class Store:
    """Autocommit connection: each statement, or each `transaction()` block, is durable at once."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "photos").mkdir(exist_ok=True)
        self.path = self.data_dir / FILENAME
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a commit survives power loss, not only a killed process
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One commit for the block; a block inside another joins the outer one (so a check-in's
        point and the key-person update it queues are kept together or not at all)."""
        if self.db.in_transaction:
            yield self.db
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ---------------------------------------------------------------- key/value (token, caches, cursor)
    def get(self, key: str, default: Any = None) -> Any:
        r = self.db.execute("SELECT value FROM kv WHERE key = ?", (key,)).fetchone()
        return default if r is None else json.loads(r[0])

    def put(self, key: str, value: Any) -> None:
        self.db.execute("INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (key, json.dumps(value, ensure_ascii=False)))

    def delete(self, key: str) -> None:
        self.db.execute("DELETE FROM kv WHERE key = ?", (key,))

    # ---------------------------------------------------------------- outbox
    def enqueue(self, *, local_id: str, kind: str, owner: str, payload: dict[str, Any], created_at: datetime,
                label: str = "", target: str | None = None, photos: list[str] | None = None) -> None:
        self.db.execute(
            "INSERT INTO outbox (local_id, kind, owner, target, payload, photos, label, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (local_id, kind, owner, target, json.dumps(payload, ensure_ascii=False), json.dumps(photos or []),
             label, created_at.isoformat()))

    def item(self, local_id: str) -> dict[str, Any] | None:
        return _row(self.db.execute("SELECT * FROM outbox WHERE local_id = ?", (local_id,)).fetchone())

    def items(self, owner: str, states: tuple[str, ...] = ("queued", "sent", "failed")) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(states))
        rows = self.db.execute(f"SELECT * FROM outbox WHERE owner = ? AND state IN ({marks}) ORDER BY seq",
                               (owner, *states))
        return [_row(r) for r in rows]  # type: ignore[misc]

    def freeze_body(self, local_id: str, body: dict[str, Any]) -> None:
        """Store the request before it is first sent; the caller re-reads it, so a retry sends the same bytes."""
        self.db.execute("UPDATE outbox SET body = ? WHERE local_id = ? AND body IS NULL",
                        (json.dumps(body, ensure_ascii=False), local_id))

    def attempted(self, local_id: str) -> None:
        self.db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE local_id = ?", (local_id,))

    def mark_sent(self, local_id: str, response: dict[str, Any], photos_sent: list[str], at: datetime) -> None:
        self.db.execute("UPDATE outbox SET state = 'sent', response = ?, photos_sent = ?, sent_at = ?, "
                        "error_code = NULL, reason = NULL WHERE local_id = ?",
                        (json.dumps(response, ensure_ascii=False), json.dumps(photos_sent), at.isoformat(),
                         local_id))

    def set_photos_sent(self, local_id: str, photos_sent: list[str], response: dict[str, Any]) -> None:
        self.db.execute("UPDATE outbox SET photos_sent = ?, response = ? WHERE local_id = ?",
                        (json.dumps(photos_sent), json.dumps(response, ensure_ascii=False), local_id))

    def mark_failed(self, local_id: str, code: str, reason: str) -> None:
        self.db.execute("UPDATE outbox SET state = 'failed', error_code = ?, reason = ? WHERE local_id = ?",
                        (code, reason, local_id))

    def note_waiting(self, local_id: str, code: str | None, reason: str | None) -> None:
        """A transient failure: the row stays queued, with why it is waiting."""
        self.db.execute("UPDATE outbox SET error_code = ?, reason = ? WHERE local_id = ?", (code, reason, local_id))

    def note_offline(self, owner: str, code: str, reason: str) -> None:
        """Every row still queued says why it waits (the sync stopped at the network, not at the row)."""
        self.db.execute("UPDATE outbox SET error_code = ?, reason = ? WHERE owner = ? AND state = 'queued'",
                        (code, reason, owner))
        self.db.execute("UPDATE photo SET error_code = ?, reason = ? WHERE owner = ? AND state = 'queued'",
                        (code, reason, owner))

    def requeue(self, local_id: str, payload: dict[str, Any] | None = None) -> None:
        """The worker's retry of a rejected row: it goes back to the queue with a new body built
        at its next send (the rejected body was never stored by the server, so the uuid is still free)."""
        sets, args = "state = 'queued', body = NULL, error_code = NULL, reason = NULL", []
        if payload is not None:
            sets += ", payload = ?"
            args.append(json.dumps(payload, ensure_ascii=False))
        self.db.execute(f"UPDATE outbox SET {sets} WHERE local_id = ? AND state = 'failed'", (*args, local_id))

    # ---------------------------------------------------------------- photos
    def add_photo(self, *, sha256: str, path: Path, size: int, owner: str, created_at: datetime) -> None:
        self.db.execute("INSERT INTO photo (sha256, path, size, owner, created_at) VALUES (?, ?, ?, ?, ?) "
                        "ON CONFLICT (sha256) DO NOTHING", (sha256, str(path), size, owner, created_at.isoformat()))

    def photos(self, owner: str, states: tuple[str, ...] = ("queued", "sent", "failed")) -> list[dict[str, Any]]:
        marks = ",".join("?" * len(states))
        return [dict(r) for r in self.db.execute(
            f"SELECT * FROM photo WHERE owner = ? AND state IN ({marks}) ORDER BY seq", (owner, *states))]

    def photo_states(self, keys: list[str]) -> dict[str, str]:
        if not keys:
            return {}
        marks = ",".join("?" * len(keys))
        return dict(self.db.execute(f"SELECT sha256, state FROM photo WHERE sha256 IN ({marks})", keys).fetchall())

    def photo_attempted(self, sha256: str) -> None:
        self.db.execute("UPDATE photo SET attempts = attempts + 1 WHERE sha256 = ?", (sha256,))

    def photo_sent(self, sha256: str, at: datetime) -> None:
        self.db.execute("UPDATE photo SET state = 'sent', sent_at = ?, error_code = NULL, reason = NULL "
                        "WHERE sha256 = ?", (at.isoformat(), sha256))

    def photo_failed(self, sha256: str, code: str, reason: str, *, final: bool) -> None:
        self.db.execute("UPDATE photo SET state = ?, error_code = ?, reason = ? WHERE sha256 = ?",
                        ("failed" if final else "queued", code, reason, sha256))

    def requeue_photo(self, sha256: str) -> None:
        self.db.execute("UPDATE photo SET state = 'queued', error_code = NULL, reason = NULL "
                        "WHERE sha256 = ? AND state = 'failed'", (sha256,))

    # ---------------------------------------------------------------- my work
    def put_work(self, owner: str, events: list[dict[str, Any]]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT INTO work (uuid, owner, data) VALUES (?, ?, ?) ON CONFLICT (uuid) DO UPDATE "
                           "SET owner = excluded.owner, data = excluded.data",
                           [(e["uuid"], owner, json.dumps(e, ensure_ascii=False)) for e in events])

    def work(self, owner: str) -> list[dict[str, Any]]:
        return [json.loads(r[0]) for r in self.db.execute("SELECT data FROM work WHERE owner = ?", (owner,))]

    def work_item(self, uuid: str) -> dict[str, Any] | None:
        r = self.db.execute("SELECT data FROM work WHERE uuid = ?", (uuid,)).fetchone()
        return None if r is None else json.loads(r[0])

    # ---------------------------------------------------------------- visit points
    def add_point(self, visit: str, *, kind: str, lon: float, lat: float, accuracy_m: float | None, datum: str,
                  at: datetime, mock: bool, target_kind: str | None = None, target_id: str | None = None,
                  note: str | None = None) -> None:
        with self.transaction() as db:
            n = db.execute("SELECT COALESCE(MAX(n), 0) + 1 FROM track WHERE visit = ?", (visit,)).fetchone()[0]
            db.execute("INSERT INTO track (visit, n, kind, lon, lat, accuracy_m, datum, at, mock, target_kind, "
                       "target_id, note) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (visit, n, kind, lon, lat, accuracy_m, datum, at.isoformat(), int(mock), target_kind,
                        target_id, note))

    def points(self, visit: str) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.execute("SELECT * FROM track WHERE visit = ? ORDER BY n", (visit,))]
