"""The MQTT ingester (`gridops devices ingest`): checks every message, batches the writes,
acknowledges only what is committed, and never stops on bad input.

A message is refused into the dead-letter table, with a reason, when its topic is outside the
scheme (bad_topic), the device is unknown (unknown_device) or retired (retired_device), the
topic's kind is not the registered one (kind_mismatch), the payload is too large (too_large),
not JSON (malformed_json), of another version (unsupported_version) or wrongly typed
(invalid_payload), names another device than its topic (device_mismatch), is dated too far in
the future (clock_skew) or the past (stale), or was accepted already (duplicate: a QoS 1 redelivery)
or is older than the keys remembered for the device (replayed); see devices.status. A database failure
retries the batch without acknowledging it, so the broker keeps every message meanwhile.

One ingester per database, or per shard of the devices (devices.shards, `--shard K/N`): it holds
its devices' live state in memory (loaded at start), so `gridops devices ingest` waits as a hot
standby until it holds its shard's lock in the database (server.database.singleton).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from common.errors import InputError
from devices import payloads, status, topics
from devices.client import Received
from devices.payloads import Alarm, Card, Door, Heartbeat, Payload, PayloadError
from devices.shards import EVERY_DEVICE, Shard
from devices.status import OFFLINE
from server.devices.ingest_batch import Batch, write
from server.devices.registry_cache import DeviceInfo, Registry

log = logging.getLogger(__name__)
MAX_PAYLOAD = 64 * 1024


@dataclass(frozen=True)
class IngestConfig:
    batch_size: int = 2000
    batch_interval_s: float = 0.2
    tolerance: float = 2.5  # online while heartbeats arrive within interval × tolerance
    max_skew_s: float = 300.0
    max_age_s: float = 86400.0
    sweep_interval_s: float = 5.0
    reorder_window: int = status.WINDOW  # keys remembered per device for duplicate detection
    log_dead_per_minute: int = 100


@dataclass
class Stats:
    accepted: Counter[str] = field(default_factory=Counter)
    dead: Counter[str] = field(default_factory=Counter)
    batches: int = 0
    acked: int = 0
    db_errors: int = 0
    transitions: int = 0
    other_shard: int = 0  # acknowledged unread: another shard's devices
    lags: deque[float] = field(default_factory=lambda: deque(maxlen=500_000))  # device ts → commit, s
    first_received: float | None = None  # time.time() of the first message, for throughput figures
    last_commit: float | None = None

    @property
    def processed(self) -> int:
        return sum(self.accepted.values()) + sum(self.dead.values())


class Refused(Exception):
    def __init__(self, reason: str, detail: str, device_code: str | None = None) -> None:
        super().__init__(reason)
        self.reason, self.detail, self.device_code = reason, detail, device_code


class Ingester:
    """Feed it with `submit` (the Subscriber's sink); a thread turns messages into batches."""

    def __init__(self, session_factory: sessionmaker[Session], config: IngestConfig = IngestConfig(),
                 ack: Any = None, shard: Shard = EVERY_DEVICE) -> None:
        self.session_factory = session_factory
        self.config = config
        self.ack = ack  # callable(list[Received]) -> int, e.g. Subscriber.ack
        self.queue: queue.Queue[Received] = queue.Queue()
        self.registry = Registry(shard=shard)
        self.stats = Stats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._next_sweep = 0.0
        self._dead_logged: deque[float] = deque()

    # ---------------------------------------------------------------- running

    def submit(self, received: Received) -> None:
        self.queue.put(received)

    def start(self) -> Ingester:
        with self.session_factory() as db:
            self.registry.load(db)
        self._next_sweep = time.monotonic() + self.config.sweep_interval_s
        self._thread = threading.Thread(target=self._loop, name="gridops-ingester", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the batch in hand and stop; unacknowledged messages stay with the broker."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait until every submitted message is committed (tests, benchmark)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue.unfinished_tasks == 0:
                return True
            time.sleep(0.01)
        return False

    def _loop(self) -> None:
        while not self._stop.is_set():
            items = self._take()
            sweep = time.monotonic() >= self._next_sweep
            if items or sweep:
                self.run_batch(items, sweep=sweep)
                for _ in items:
                    self.queue.task_done()
            if sweep:
                self._next_sweep = time.monotonic() + self.config.sweep_interval_s

    def _take(self) -> list[Received]:
        try:
            items = [self.queue.get(timeout=self.config.batch_interval_s)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.config.batch_interval_s
        while len(items) < self.config.batch_size:
            remaining = deadline - time.monotonic()
            try:
                items.append(self.queue.get(timeout=remaining) if remaining > 0 else self.queue.get_nowait())
            except queue.Empty:
                break
        return items

    def run_batch(self, items: list[Received], *, sweep: bool = False) -> None:
        """Check, write and commit `items` (plus a sweep), then acknowledge them; retry on DB errors."""
        attempt = 0
        while True:
            try:
                with self.session_factory() as db:
                    batch = self._apply(db, items, sweep=sweep)
                    write(db, batch)
                    db.commit()
                break
            except SQLAlchemyError:
                attempt += 1
                self.stats.db_errors += 1
                log.exception("batch of %d messages not committed (attempt %d); retrying", len(items), attempt)
                with self.session_factory() as db:  # drop the in-memory changes of the failed batch
                    self._reload(db)
                if self._stop.wait(min(30.0, 0.2 * 2 ** attempt)):
                    return  # not acknowledged: the broker keeps and resends them
        self._after_commit(items, batch)

    def _reload(self, db: Session) -> None:
        try:
            self.registry.load(db)
        except SQLAlchemyError:
            log.exception("cannot reload device states")

    def _after_commit(self, items: list[Received], batch: Batch) -> None:
        done = time.time()
        self.stats.lags.extend(done - ts.timestamp() for ts in batch.heartbeat_ts)
        if items:
            self.stats.last_commit = done
            if self.stats.first_received is None:
                self.stats.first_received = items[0].received_at
        self.stats.batches += 1
        self.stats.transitions += len(batch.intervals)
        if self.ack is not None and items:
            self.stats.acked += self.ack(items)

    # ---------------------------------------------------------------- checking

    def _apply(self, db: Session, items: list[Received], *, sweep: bool) -> Batch:
        batch = Batch()
        now = datetime.now(UTC)
        self.registry.refresh_if_due(db)
        for r in items:
            if not self.registry.shard.owns_topic(r.topic):
                self.stats.other_shard += 1
                continue
            try:
                info, payload = self._check(db, r)
                self._accept(batch, info, payload, r)
            except Refused as refused:
                self._dead(batch, r, refused)
        if sweep:
            for device_id, state in self.registry.states.items():
                if (t := status.timed_out(state, now)) is not None:
                    batch.touch(device_id, state)
                    batch.transition(device_id, t)
        return batch

    def _check(self, db: Session, r: Received) -> tuple[DeviceInfo, Payload]:
        try:
            topic = topics.parse(r.topic)
        except InputError as exc:
            raise Refused("bad_topic", exc.message_en) from None
        code = topic.device_code
        info = self.registry.lookup(db, code)
        if info is None:
            raise Refused("unknown_device", f"no registered device {code}", code)
        if info.kind != topic.kind.value:
            raise Refused("kind_mismatch", f"{code} is registered as {info.kind}, topic says {topic.kind}", code)
        if len(r.payload) > MAX_PAYLOAD:
            raise Refused("too_large", f"{len(r.payload)} bytes > {MAX_PAYLOAD}", code)
        try:
            payload = payloads.parse(topic.message, r.payload)
        except PayloadError as exc:
            raise Refused(exc.reason, exc.detail, code) from None
        if payload.device != code:
            raise Refused("device_mismatch", f"payload device {payload.device!r} on the topic of {code}", code)
        if info.retired_at is not None and info.retired_at <= _at(r):
            raise Refused("retired_device", f"{code} was retired at {info.retired_at.isoformat()}", code)
        if not (isinstance(payload, payloads.Status) and payload.will):
            self._check_time(payload, r, code, self.registry.states[info.id])
        return info, payload

    def _check_time(self, payload: Payload, r: Received, code: str, state: status.State) -> None:
        received = _at(r)
        if payload.ts > received + timedelta(seconds=self.config.max_skew_s):
            raise Refused("clock_skew", f"ts {payload.ts.isoformat()} is ahead of arrival {received.isoformat()}", code)
        if payload.ts < received - timedelta(seconds=self.config.max_age_s):
            raise Refused("stale", f"ts {payload.ts.isoformat()} older than {self.config.max_age_s:.0f} s", code)
        if (reason := status.seen(state, payload.ts, payload.seq)) is not None:
            why = "already accepted" if reason == "duplicate" else f"older than the last {self.config.reorder_window} kept"
            raise Refused(reason, f"(ts, seq) = ({payload.ts.isoformat()}, {payload.seq}): {why}", code)

    def _accept(self, batch: Batch, info: DeviceInfo, p: Payload, r: Received) -> None:
        state = self.registry.states[info.id]
        received = _at(r)
        cfg = self.config
        if isinstance(p, payloads.Status) and p.will:
            state.messages += 1
            state.last_seen_at = received
            t = status.explicit(state, OFFLINE, received, info.interval_s, cfg.tolerance, will=True)
        else:
            status.remember(state, p.ts, p.seq, received, cfg.reorder_window)
            at = min(p.ts, received)
            t = None
            if isinstance(p, Heartbeat):
                t = status.heartbeat(state, at, info.interval_s, cfg.tolerance)
                batch.heartbeat_ts.append(p.ts)
            elif isinstance(p, payloads.Status):
                t = status.explicit(state, p.status, at, info.interval_s, cfg.tolerance)
            else:
                _event_row(batch, info.id, p)
        self.stats.accepted[type(p).__name__.lower()] += 1
        batch.touch(info.id, state)
        if t is not None:
            batch.transition(info.id, t)

    def _dead(self, batch: Batch, r: Received, refused: Refused) -> None:
        self.stats.dead[refused.reason] += 1
        batch.dead.append({
            "received_at": _at(r), "topic": r.topic[:256], "device_code": (refused.device_code or None),
            "reason": refused.reason, "detail": refused.detail[:512],
            "payload": r.payload[:4096].decode("utf-8", errors="replace").replace("\x00", "\\x00"),
        })
        now = time.monotonic()
        while self._dead_logged and self._dead_logged[0] < now - 60:
            self._dead_logged.popleft()
        if len(self._dead_logged) < self.config.log_dead_per_minute:
            self._dead_logged.append(now)
            log.warning("dead letter %s on %s: %s", refused.reason, r.topic[:256], refused.detail[:200])


def _at(r: Received) -> datetime:
    return datetime.fromtimestamp(r.received_at, UTC)


def _event_row(batch: Batch, device_id: int, p: Payload) -> None:
    base = {"device_id": device_id, "ts": p.ts, "seq": p.seq}
    if isinstance(p, Alarm):
        batch.alarms.append({**base, "alarm_type": p.alarm_type, "level": p.level, "detail": p.detail})
    elif isinstance(p, Door):
        batch.doors.append({**base, "door": p.door, "event": p.event, "card_no": p.card_no})
    elif isinstance(p, Card):
        batch.cards.append({**base, "card_no": p.card_no, "action": p.action})
