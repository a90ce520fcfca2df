"""Device status intervals (the device feed's cursor) are committed in id order on PostgreSQL: the
ingester's batch takes the feed's advisory lock before its Core inserts (server/database/feed_order.py),
so while one batch holds an uncommitted interval another cannot take the next id."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from devices.codes import DeviceKind
from server.database.core import make_engine
from server.devices import service
from server.devices.models import Device, DeviceStatusInterval
from server.devices.schemas import DeviceCreate
from tests import factories
from tests.conftest import NOW


def test_a_second_batch_waits_for_the_first_to_commit(fresh_db_url: str) -> None:
    if not fresh_db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer: interval ids are in commit order by construction")
    engine = make_engine(fresh_db_url)
    with Session(engine) as s:
        for code in ("CAM-1", "CAM-2"):
            service.create(db_session=s, now=NOW, device_in=DeviceCreate(code=code, name=code, kind=DeviceKind.camera))
        s.commit()
    first, second = Session(engine), Session(engine)
    try:
        factories.device_status(first, first.scalar(select(Device).where(Device.code == "CAM-1")), "online", NOW)
        second.execute(text("SET LOCAL lock_timeout = '300ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):  # would take id n+1 before n commits
            factories.device_status(second, second.scalar(select(Device).where(Device.code == "CAM-2")), "online", NOW)
        second.rollback()
        first.commit()
        factories.device_status(second, second.scalar(select(Device).where(Device.code == "CAM-2")), "online", NOW)
        second.commit()
        with Session(engine) as s:
            assert len(s.scalars(select(DeviceStatusInterval.id)).all()) == 2
    finally:
        first.close()
        second.close()
        engine.dispose()
