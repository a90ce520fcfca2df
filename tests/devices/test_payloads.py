"""Payload validation: what is accepted, and the dead-letter reason for what is not."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from devices import payloads
from devices.payloads import PayloadError
from devices.topics import Message

TS = "2026-11-23T10:00:00.250+08:00"


def _raw(**fields: object) -> bytes:
    base: dict[str, object] = {"v": 1, "device": "CAM1", "ts": TS, "seq": 7}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}).encode()


def test_heartbeat_parses_with_utc_time() -> None:
    hb = payloads.parse(Message.heartbeat, _raw(uptime_s=3600, extra_field="ignored"))
    assert isinstance(hb, payloads.Heartbeat)
    assert hb.ts.astimezone(UTC) == datetime(2026, 11, 23, 2, 0, 0, 250000, tzinfo=UTC)
    assert hb.seq == 7 and hb.uptime_s == 3600


@pytest.mark.parametrize(("message", "fields"), [
    (Message.status, {"status": "offline", "will": True}),
    (Message.alarm, {"alarm_type": "video_loss", "level": "critical"}),
    (Message.door, {"door": "main", "event": "forced"}),
    (Message.card, {"card_no": "A0001", "action": "issued"}),
])
def test_each_message_type(message: Message, fields: dict[str, object]) -> None:
    parsed = payloads.parse(message, _raw(**fields))
    assert type(parsed) is payloads.MODELS[message]
    assert payloads.parse(message, payloads.dumps(parsed)) == parsed


@pytest.mark.parametrize(("raw", "reason"), [
    (b"{", "malformed_json"),
    (b"", "malformed_json"),
    (b"\xff\xfe\x00", "malformed_json"),
    (b"null", "invalid_payload"),
    (b"[1, 2]", "invalid_payload"),
    (_raw(v=2), "unsupported_version"),
    (_raw(v="1"), "unsupported_version"),
    (_raw(v=...), "unsupported_version"),
    (_raw(seq="7"), "invalid_payload"),  # no coercion from strings
    (_raw(seq=-1), "invalid_payload"),
    (_raw(seq=1.5), "invalid_payload"),
    (_raw(ts="2026-11-23T10:00:00"), "invalid_payload"),  # no offset: ambiguous
    (_raw(ts=1764000000), "invalid_payload"),
    (_raw(ts="yesterday"), "invalid_payload"),
    (_raw(device="a/b"), "invalid_payload"),
    (_raw(device=...), "invalid_payload"),
    (_raw(uptime_s="long"), "invalid_payload"),
])
def test_refused_with_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as err:
        payloads.parse(Message.heartbeat, raw)
    assert err.value.reason == reason, err.value.detail


def test_status_needs_a_valid_status() -> None:
    with pytest.raises(PayloadError) as err:
        payloads.parse(Message.status, _raw(status="sleeping"))
    assert err.value.reason == "invalid_payload" and "status" in err.value.detail


def test_schema_files_are_current(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """devices/schemas/*.json are generated from the models: regenerate with `python -m devices.payloads`."""
    for fresh in payloads.write_schemas(tmp_path):
        committed = payloads.SCHEMA_DIR / fresh.name
        assert committed.exists(), f"missing {committed}"
        assert json.loads(committed.read_text("utf-8")) == json.loads(fresh.read_text("utf-8")), fresh.name


def test_schema_requires_the_common_fields() -> None:
    for message in Message:
        schema = payloads.json_schema(message)
        assert {"v", "device", "ts", "seq"} <= set(schema["required"])
        assert schema["properties"]["v"]["const"] == 1
