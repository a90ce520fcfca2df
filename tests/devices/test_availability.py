"""Online-rate arithmetic on hand-made interval cases (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devices.availability import DeviceRecord, Rate, RateTable, Span, availability, device_availability, snapshot

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def spans(*pairs: tuple[float, float | None]) -> list[Span]:
    return [Span(h(a), None if b is None else h(b)) for a, b in pairs]


DAY = (h(0), h(24))

CASES = [
    # (description, device, online hours, expected hours)
    ("always online", DeviceRecord(online=spans((0, 24))), 24, 24),
    ("never reported", DeviceRecord(), 0, 24),
    ("online from before the period, still open", DeviceRecord(online=spans((-100, None))), 24, 24),
    ("12 h outage", DeviceRecord(online=spans((0, 6), (18, 24))), 12, 24),
    ("overlapping online spans count once", DeviceRecord(online=spans((0, 10), (5, 12))), 12, 24),
    ("installed mid-period", DeviceRecord(installed_at=h(12), online=spans((12, 24))), 12, 12),
    ("installed mid-period, spans before install ignored",
     DeviceRecord(installed_at=h(12), online=spans((0, 18))), 6, 12),
    ("retired mid-period", DeviceRecord(retired_at=h(6), online=spans((0, None))), 6, 6),
    ("installed after the period", DeviceRecord(installed_at=h(30), online=spans((30, None))), 0, 0),
    ("retired before the period", DeviceRecord(retired_at=h(-1)), 0, 0),
    ("maintenance window excluded from both sides",
     DeviceRecord(online=spans((0, 8), (12, 24)), maintenance=spans((8, 12))), 20, 20),
    ("online during maintenance does not help",
     DeviceRecord(online=spans((0, 24)), maintenance=spans((2, 4))), 22, 22),
    ("overlapping maintenance windows",
     DeviceRecord(online=spans((0, 24)), maintenance=spans((2, 6), (4, 8), (20, 30))), 14, 14),
    ("maintenance outside the period", DeviceRecord(online=spans((0, 12)), maintenance=spans((-10, -5))), 12, 24),
    ("install + maintenance + outage",
     DeviceRecord(installed_at=h(4), online=spans((4, 10), (14, 20)), maintenance=spans((10, 12))), 12, 18),
    ("open maintenance window until period end", DeviceRecord(online=spans((0, 24)), maintenance=spans((20, None))),
     20, 20),
]


@pytest.mark.parametrize(("device", "online_h", "expected_h"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_device_availability(device: DeviceRecord, online_h: float, expected_h: float) -> None:
    rate = device_availability(device, *DAY)
    assert rate.numerator == online_h * 3600
    assert rate.denominator == expected_h * 3600
    assert rate.devices == (1 if expected_h else 0)


def test_pooled_availability_weights_by_expected_time() -> None:
    full_day_half_up = DeviceRecord(online=spans((0, 12)))  # 12 / 24
    installed_late_all_up = DeviceRecord(installed_at=h(18), online=spans((18, 24)))  # 6 / 6
    rate = availability([full_day_half_up, installed_late_all_up], *DAY)
    assert rate.value == pytest.approx(18 / 30)  # not the mean of 0.5 and 1.0
    assert rate.devices == 2


def test_nothing_expected_gives_none_not_zero() -> None:
    rate = availability([DeviceRecord(installed_at=h(48))], *DAY)
    assert rate.value is None and rate.denominator == 0


def test_empty_period_refused() -> None:
    with pytest.raises(ValueError):
        availability([], h(5), h(5))


@pytest.mark.parametrize(("at", "online", "counted"), [
    (5, 2, 4),  # d1 online, d2 offline, d3 not installed, d4 in maintenance, d5 online open span, d6 never reported
    (13, 3, 6),  # d3 installed and online now; d4 maintenance over but offline
    (20, 2, 5),  # d1 retired
])
def test_snapshot(at: float, online: int, counted: int) -> None:
    devices = [
        DeviceRecord(retired_at=h(18), online=spans((0, 24))),
        DeviceRecord(online=spans((0, 2))),
        DeviceRecord(installed_at=h(12), online=spans((12, None))),
        DeviceRecord(maintenance=spans((4, 8)), online=spans((0, 9))),
        DeviceRecord(online=spans((3, None))),
        DeviceRecord(),
    ]
    rate = snapshot(devices, h(at))
    assert (rate.numerator, rate.denominator) == (online, counted)


def test_snapshot_span_end_is_exclusive() -> None:
    d = DeviceRecord(online=spans((0, 5)))
    assert snapshot([d], h(5)).numerator == 0
    assert snapshot([d], h(0)).numerator == 1


def test_rate_table_groups_and_total() -> None:
    table = RateTable()
    table.add("camera", Rate(9, 10, 1))
    table.add("camera", Rate(10, 10, 1))
    table.add("link", Rate(0, 0, 0))
    assert table.groups["camera"].value == pytest.approx(0.95)
    assert table.groups["link"].value is None
    assert table.total.value == pytest.approx(0.95) and table.total.devices == 2
