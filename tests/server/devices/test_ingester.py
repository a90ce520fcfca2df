"""Ingester checks and state, fed directly (the broker paths are in test_ingest_mqtt.py)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from devices.client import Received
from devices.codes import DeviceKind
from devices.topics import Message
from devices.shards import Shard
from server.devices.ingester import IngestConfig, Ingester
from server.devices.models import CardEvent, Device, DeadLetter, DeviceAlarm, DeviceState, DeviceStatusInterval, DoorEvent
from server.devices import service
from tests.server.devices.conftest import register
from tests.conftest import NOW as SUITE_NOW

NOW = SUITE_NOW.timestamp()  # the suite's frozen clock (tests.conftest)


def msg(kind: str, code: str, message: str, body: dict | bytes | None = None, *, ts: float | None = None,
        seq: int = 0, dup: bool = False, received: float | None = None, **fields: object) -> Received:
    if body is None:
        stamp = datetime.fromtimestamp(NOW if ts is None else ts, UTC).isoformat()
        body = {"v": 1, "device": code, "ts": stamp, "seq": seq, **fields}
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    m = Message(message) if message in Message.__members__ else None
    return Received(m, f"gridops/v1/{kind}/{code}/{message}", raw, 1, 1, dup, 1, NOW if received is None else received)


@pytest.fixture
def ing(ingest_db):  # type: ignore[no-untyped-def]
    register(ingest_db, ("CAM1", DeviceKind.camera), ("DOOR1", DeviceKind.access_controller), interval_s=60)
    return _loaded(ingest_db)


def _loaded(factory):  # type: ignore[no-untyped-def]
    ingester = Ingester(factory, IngestConfig(tolerance=2.0))
    with factory() as db:
        ingester.registry.load(db)
    return ingester


def _state(ing: Ingester, code: str) -> DeviceState:
    with ing.session_factory() as db:
        return db.scalar(select(DeviceState).join(Device).where(Device.code == code))


def _dead(ing: Ingester) -> list[tuple[str, str | None]]:
    with ing.session_factory() as db:
        return [(d.reason, d.device_code) for d in db.scalars(select(DeadLetter).order_by(DeadLetter.id))]


def test_heartbeats_make_one_online_interval(ing) -> None:  # type: ignore[no-untyped-def]
    ing.run_batch([msg("camera", "CAM1", "heartbeat", ts=NOW - 120 + i * 60, seq=i) for i in range(3)])
    state = _state(ing, "CAM1")
    assert (state.status, state.heartbeats, state.messages, state.last_seq) == ("online", 3, 3, 2)
    assert state.online_until == datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=120)
    with ing.session_factory() as db:
        rows = db.execute(select(DeviceStatusInterval.status, DeviceStatusInterval.end_at)).all()
    assert rows == [("online", None)]


def test_every_kind_of_bad_message_is_dead_lettered(ing) -> None:  # type: ignore[no-untyped-def]
    ing.run_batch([msg("camera", "CAM1", "heartbeat", seq=5)])
    bad = [
        Received(None, "gridops/v1/camera/CAM1/reboot", b"{}", 1, 1, False, 1, NOW),
        msg("camera", "NOPE", "heartbeat"),
        msg("link", "CAM1", "heartbeat"),
        msg("camera", "CAM1", "heartbeat", b"{not json"),
        msg("camera", "CAM1", "heartbeat", {"v": 2, "device": "CAM1", "ts": "2026-01-01T00:00:00Z", "seq": 1}),
        msg("camera", "CAM1", "heartbeat", seq="6"),  # type: ignore[arg-type]
        msg("camera", "CAM1", "heartbeat", {"v": 1, "device": "DOOR1", "ts": datetime.now(UTC).isoformat(), "seq": 9}),
        msg("camera", "CAM1", "heartbeat", ts=NOW + 3600, seq=7),
        msg("camera", "CAM1", "heartbeat", ts=NOW - 3 * 86400, seq=8),
        msg("camera", "CAM1", "heartbeat", seq=5),  # the same (ts, seq) again
        msg("camera", "CAM1", "heartbeat", seq=5, dup=True),
        msg("camera", "CAM1", "heartbeat", b"x" * 70_000),
    ]
    ing.run_batch(bad)
    assert _dead(ing) == [
        ("bad_topic", None), ("unknown_device", "NOPE"), ("kind_mismatch", "CAM1"), ("malformed_json", "CAM1"),
        ("unsupported_version", "CAM1"), ("invalid_payload", "CAM1"), ("device_mismatch", "CAM1"),
        ("clock_skew", "CAM1"), ("stale", "CAM1"), ("duplicate", "CAM1"), ("duplicate", "CAM1"), ("too_large", "CAM1"),
    ]
    assert _state(ing, "CAM1").heartbeats == 1  # nothing counted twice
    assert sum(ing.stats.dead.values()) == len(bad)


def test_binary_garbage_and_odd_topics_are_kept_readably(ing) -> None:  # type: ignore[no-untyped-def]
    ing.run_batch([msg("camera", "CAM1", "heartbeat", b"\x00\xff\xfe garbage"),
                   Received(None, "gridops/v1/" + "x/" * 200, b"{}", 1, 1, False, 1, NOW)])
    with ing.session_factory() as db:
        rows = list(db.scalars(select(DeadLetter).order_by(DeadLetter.id)))
    assert rows[0].reason == "malformed_json" and "garbage" in rows[0].payload
    assert rows[1].reason == "bad_topic" and len(rows[1].topic) == 256


def test_events_status_will_and_sweep(ing) -> None:  # type: ignore[no-untyped-def]
    t0 = NOW - 600
    ing.run_batch([
        msg("access_controller", "DOOR1", "heartbeat", ts=t0, seq=1),
        msg("access_controller", "DOOR1", "door", ts=t0 + 1, seq=2, door="main", event="forced"),
        msg("access_controller", "DOOR1", "card", ts=t0 + 2, seq=3, card_no="C001", action="issued"),
        msg("access_controller", "DOOR1", "alarm", ts=t0 + 3, seq=4, alarm_type="tamper", level="critical"),
        msg("access_controller", "DOOR1", "status", ts=t0 - 999, seq=0, status="offline", will=True,
            received=t0 + 10),
        msg("access_controller", "DOOR1", "status", ts=t0 + 20, seq=5, status="online"),
        msg("camera", "CAM1", "heartbeat", ts=t0, seq=1),
    ], sweep=True)
    with ing.session_factory() as db:
        assert db.scalar(select(func.count()).select_from(DoorEvent)) == 1
        assert db.scalar(select(CardEvent.card_no)) == "C001"
        assert db.scalar(select(DeviceAlarm.level)) == "critical"
        rows = db.execute(select(DeviceStatusInterval.device_id, DeviceStatusInterval.status,
                                 DeviceStatusInterval.start_at, DeviceStatusInterval.end_at,
                                 DeviceStatusInterval.reason).order_by(DeviceStatusInterval.id)).all()
        door = service.get_by_code(db_session=db, code="DOOR1").id
    at = lambda s: datetime.fromtimestamp(s, UTC)  # noqa: E731
    assert [(r.status, r.start_at, r.end_at, r.reason) for r in rows if r.device_id == door] == [
        ("online", at(t0), at(t0 + 10), "heartbeat"),
        ("offline", at(t0 + 10), at(t0 + 20), "will"),
        ("online", at(t0 + 20), at(t0 + 140), "status"),  # online_until = 20 + 60 × 2, swept
        ("offline", at(t0 + 140), None, "timeout"),
    ]
    assert _state(ing, "CAM1").status == "offline"


def test_retired_device_and_later_registration(ing) -> None:  # type: ignore[no-untyped-def]
    with ing.session_factory() as db:
        service.retire(db_session=db, device=service.get_by_code(db_session=db, code="CAM1"),
                       at=datetime.fromtimestamp(NOW - 60, UTC), now=datetime.fromtimestamp(NOW, UTC))
        db.commit()
    ing.registry.refresh_s = 0  # pick up the retirement now
    ing.run_batch([msg("camera", "CAM1", "heartbeat"), msg("link", "NEW1", "heartbeat")])
    assert _dead(ing) == [("retired_device", "CAM1"), ("unknown_device", "NEW1")]
    register(ing.session_factory, ("NEW1", DeviceKind.link))
    ing.registry.miss_ttl_s = 0
    ing.run_batch([msg("link", "NEW1", "heartbeat", seq=1)])
    assert _state(ing, "NEW1").status == "online"


def test_a_restarted_ingester_resumes_from_the_stored_state(ing) -> None:  # type: ignore[no-untyped-def]
    batch = [msg("camera", "CAM1", "heartbeat", ts=NOW - 10 + i, seq=i) for i in range(5)]
    ing.run_batch(batch[:3])
    again = _loaded(ing.session_factory)  # a new process: state comes from the database
    again.run_batch(batch)  # the broker resends what the old one had not acknowledged, and more
    assert _state(again, "CAM1").heartbeats == 5
    assert again.stats.dead["duplicate"] == 3


def test_late_messages_count_once_and_old_ones_are_replays(ingest_db) -> None:  # type: ignore[no-untyped-def]
    register(ingest_db, ("CAM1", DeviceKind.camera))
    ing = Ingester(ingest_db, IngestConfig(reorder_window=4))
    with ingest_db() as db:
        ing.registry.load(db)
    order = [5, 6, 2, 7, 3, 8, 9, 10, 11, 12, 4, 1]  # resends overtaken by newer messages
    ing.run_batch([msg("camera", "CAM1", "heartbeat", ts=NOW - 100 + q, seq=q) for q in order])
    ing.run_batch([msg("camera", "CAM1", "heartbeat", ts=NOW - 100 + 12, seq=12)])
    assert _state(ing, "CAM1").heartbeats == 10  # 4 and 1 fell below the 4 keys remembered
    assert ing.stats.dead == {"replayed": 2, "duplicate": 1}


def test_two_shards_keep_each_device_once(ingest_db) -> None:  # type: ignore[no-untyped-def]
    """Both shards see every message (each subscribes to the whole tree); each keeps only its own
    devices' and loads only their state, and a bad topic is dead-lettered once, by shard 1."""
    codes = [f"CAM{i}" for i in range(12)]
    register(ingest_db, *[(c, DeviceKind.camera) for c in codes])
    shards = [Ingester(ingest_db, IngestConfig(), shard=Shard(k, 2)) for k in (1, 2)]
    stream = [msg("camera", c, "heartbeat", ts=NOW - 5 + i, seq=i) for i in range(3) for c in codes]
    stream.append(msg("camera", "not a code", "heartbeat"))
    for ingester in shards:
        with ingest_db() as db:
            ingester.registry.load(db)
        ingester.run_batch(stream)
    owned = [{c for c in codes if Shard(k, 2).owns(c)} for k in (1, 2)]
    assert owned[0] and owned[1] and owned[0].isdisjoint(owned[1])
    for ingester, mine in zip(shards, owned):
        assert set(ingester.registry.by_code) == mine
        assert len(ingester.registry.states) == len(mine)
        assert ingester.stats.accepted["heartbeat"] == 3 * len(mine)
        assert ingester.stats.other_shard == 3 * (len(codes) - len(mine)) + (ingester is shards[1])
    assert [_state(shards[0], c).heartbeats for c in codes] == [3] * len(codes)
    assert _dead(shards[0]) == [("bad_topic", None)]


def test_a_shard_learns_its_newly_registered_devices(ingest_db) -> None:  # type: ignore[no-untyped-def]
    """At each reload of the registry the shard's device codes go to `on_load` (the runner
    subscribes to their topics), so a device registered later is heard from within refresh_s."""
    shard = Shard(2, 2)
    codes = [f"CAM{i}" for i in range(12)]
    register(ingest_db, *[(c, DeviceKind.camera) for c in codes[:6]])
    ingester = Ingester(ingest_db, IngestConfig(), shard=shard)
    seen: list[set[str]] = []
    ingester.registry.on_load = lambda loaded: seen.append(set(loaded))
    ingester.registry.refresh_s = 0.0
    with ingest_db() as db:
        ingester.registry.load(db)
    register(ingest_db, *[(c, DeviceKind.camera) for c in codes[6:]])
    ingester.run_batch([])  # a batch refreshes the registry when due
    assert seen == [{c for c in codes[:6] if shard.owns(c)}, {c for c in codes if shard.owns(c)}]
    assert shard.filters(seen[-1]) == [f"gridops/v1/+/{c}/+" for c in seen[-1]]
