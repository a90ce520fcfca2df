"""Device online rates as indicators, summed over any scope level from per-grid availability."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server.devices.models import DeviceStatusInterval
from server.indicators import service
from server.indicators.periods import parse_period, parse_scope
from tests.server.devices.conftest import world  # noqa: F401  (the devices domain's test world)

DAY = parse_period("2026-11-01..2026-11-01")  # 24 hours, Asia/Shanghai
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _iv(db_session, device, status: str, a: float, b: float | None) -> None:  # type: ignore[no-untyped-def]
    db_session.add(DeviceStatusInterval(device_id=device.id, status=status, start_at=DAY.start + timedelta(hours=a),
                                        end_at=None if b is None else DAY.start + timedelta(hours=b),
                                        reason="heartbeat"))


def _value(db_session, code: str, scope: str):  # type: ignore[no-untyped-def]
    return service.compute(db_session=db_session, code=code, scope=parse_scope(scope), period=DAY, now=NOW)


def test_camera_online_rate_per_scope(db_session, world) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    d = world["devices"]
    _iv(db_session, d["CAM-A"], "online", -10, 6)  # 6 h, then 6 h offline, then up: 18 of 24 h
    _iv(db_session, d["CAM-A"], "offline", 6, 12)
    _iv(db_session, d["CAM-A"], "online", 12, None)
    _iv(db_session, d["CAM-B"], "online", -48, None)  # 24 of 24 h
    _iv(db_session, d["LINK-C"], "offline", -5, None)  # 0 of 24 h
    db_session.flush()
    assert _value(db_session, "online_rate", "grid:440112001001001").value == 75.0
    street = _value(db_session, "online_rate", "street:440112001")
    assert (street.numerator, street.denominator, street.value) == (42 * 3600, 48 * 3600, 87.5)
    assert street.status == "not_met" and street.target == 95
    assert _value(db_session, "online_rate", "community:440112001002").value == 100.0
    assert _value(db_session, "online_rate", "street:440112002").value is None  # no camera there: no data
    assert _value(db_session, "link_online_rate", "street:440112002").value == 0.0
    scopes = [parse_scope(s) for s in ("district:440112", "street:440112001", "street:440112002",
                                       "community:440112001002", "grid:440112001001001")]
    together = service.compute_many(db_session=db_session, scopes=scopes, codes=["online_rate", "link_online_rate"],
                                    period=DAY, now=NOW)  # one load of the devices for all five scopes
    assert [together[sc, "online_rate"].value for sc in scopes] == [87.5, 87.5, None, 100.0, 75.0]
    assert together[scopes[2], "link_online_rate"] == _value(db_session, "link_online_rate", "street:440112002")
    future = service.compute(db_session=db_session, code="online_rate", scope=parse_scope("district:440112"),
                             period=parse_period("2027"), now=NOW)
    assert future.value is None


def test_offline_drilldown_and_reason(db_session, world) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from server.indicators.drilldown import REGISTRY
    from server.indicators.evaluation import draft_reason

    d = world["devices"]
    _iv(db_session, d["CAM-A"], "online", -10, 6)
    _iv(db_session, d["CAM-A"], "offline", 6, 12)
    _iv(db_session, d["CAM-A"], "online", 12, None)
    _iv(db_session, d["CAM-B"], "online", -48, None)
    db_session.flush()
    scope = parse_scope("street:440112001")
    rows = REGISTRY["online_rate"](db_session, scope, DAY, NOW, 100)
    assert rows == [{"设备编码": "CAM-A", "网格": "440112001001001", "在线率": 75.0, "离线小时": 6.0}]
    reason = draft_reason(_value(db_session, "online_rate", "street:440112001"), rows)
    assert reason is not None and "1台设备存在离线" in reason and "CAM-A(75.00%)" in reason
