"""Topic scheme: building, parsing, per-kind messages, filters and the ACL pattern."""

from __future__ import annotations

import pytest

from common.errors import InputError
from devices import topics
from devices.codes import DeviceKind
from devices.topics import Message


def test_build_and_parse_round_trip() -> None:
    name = topics.topic(DeviceKind.camera, "44011200001310000001", Message.heartbeat)
    assert name == "gridops/v1/camera/44011200001310000001/heartbeat"
    parsed = topics.parse(name)
    assert (parsed.kind, parsed.device_code, parsed.message) == (DeviceKind.camera, "44011200001310000001",
                                                                 Message.heartbeat)
    assert str(parsed) == name


@pytest.mark.parametrize("name", [
    "gridops/v1/camera/CAM1",  # too short
    "gridops/v1/camera/CAM1/heartbeat/x",  # too long
    "gridops/v2/camera/CAM1/heartbeat",  # other version
    "other/v1/camera/CAM1/heartbeat",
    "gridops/v1/toaster/CAM1/heartbeat",  # unknown kind
    "gridops/v1/camera/CAM 1/heartbeat",  # space in code
    "gridops/v1/camera/-CAM1/heartbeat",  # must start with letter or digit
    "gridops/v1/camera/CAM1/reboot",  # unknown message
    "gridops/v1/camera/CAM1/door",  # cameras have no doors
    "gridops/v1/link/L1/card",
])
def test_parse_refuses_topics_outside_the_scheme(name: str) -> None:
    with pytest.raises(InputError) as err:
        topics.parse(name)
    assert err.value.code == "bad_topic"


@pytest.mark.parametrize("code", ["a/b", "a+", "#", "", "x" * 65, "设备1"])
def test_topic_refuses_codes_that_would_break_the_scheme(code: str) -> None:
    with pytest.raises(InputError):
        topics.topic(DeviceKind.link, code, Message.status)


@pytest.mark.parametrize(("kind", "message", "allowed"), [
    (DeviceKind.access_controller, Message.door, True),
    (DeviceKind.access_controller, Message.card, True),
    (DeviceKind.camera, Message.alarm, True),
    (DeviceKind.terminal, Message.status, True),
    (DeviceKind.camera, Message.card, False),
    (DeviceKind.terminal, Message.door, False),
])
def test_messages_allowed_per_kind(kind: DeviceKind, message: Message, allowed: bool) -> None:
    assert (message in topics.ALLOWED[kind]) is allowed


@pytest.mark.parametrize(("flt", "name", "expected"), [
    ("gridops/v1/+/+/heartbeat", "gridops/v1/camera/C1/heartbeat", True),
    ("gridops/v1/+/+/heartbeat", "gridops/v1/camera/C1/status", False),
    ("gridops/v1/#", "gridops/v1/camera/C1/status", True),
    ("gridops/v1/+/C1/+", "gridops/v1/link/C1/alarm", True),
    ("gridops/v1/+/C1/+", "gridops/v1/link/C2/alarm", False),
    ("gridops/v1/+/C1/+", "gridops/v1/link/C1/alarm/x", False),
    ("a/#", "a", True),  # MQTT: "#" also matches the parent level
])
def test_filter_matching(flt: str, name: str, expected: bool) -> None:
    assert topics.matches(flt, name) is expected


def test_acl_pattern_confines_a_device_to_its_own_code() -> None:
    pattern = next(line for line in topics.acl_lines() if line.startswith("pattern write"))
    own = pattern.removeprefix("pattern write ").replace("%u", "CAM1")
    assert topics.matches(own, "gridops/v1/camera/CAM1/heartbeat")
    assert not topics.matches(own, "gridops/v1/camera/CAM2/heartbeat")
    assert "topic read gridops/v1/#" in topics.acl_lines()


def test_message_filters_cover_every_message() -> None:
    for m in Message:
        assert topics.matches(topics.message_filter(m), f"gridops/v1/access_controller/D1/{m.value}")
