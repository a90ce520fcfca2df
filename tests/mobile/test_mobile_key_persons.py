"""Key-person check-ins during a visit (重点人员, issue 13) against a real running server: the
register cached for offline use, an information update sent once the visit is accepted, exactly
once, tied to the visit; a person outside the worker's grids refused and kept with the reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from mobile.service import AppService
from server.keypersons import service as keypersons
from server.keypersons.schemas import KeyPersonCreate
from tests.mobile.conftest import PASSWORD, World, cell_fix


def _register(world: World, grid: str, name: str, registered_days_ago: int) -> int:
    """A person on the register for 30-day follow-ups, registered by the district admin long enough
    ago to be overdue (the register's own service, as the admin's form calls it)."""
    now = datetime.now(UTC)
    with Session(world.engine, expire_on_commit=False) as s:
        person = keypersons.register(
            db_session=s, user=s.merge(world.users["admin"]), now=now,
            data=KeyPersonCreate(type_code="mental_health", name=name, address="黄埔东路1号3栋201",
                                 grid_code=world.grids[grid].code,
                                 registered_at=now - timedelta(days=registered_days_ago)))
        s.commit()
        return person.id


def _visit_with_check_ins(app: AppService, clock: list[datetime], targets: list[int]) -> str:
    start = clock[0]
    app.start_visit(cell_fix(0, 0, at=start))
    for minute in range(1, 16):
        t = start + timedelta(minutes=minute)
        app.add_track_point(cell_fix(0, 0, at=t, dx=(minute % 8) / 10 - 0.4))
        if minute - 2 < len(targets) and minute >= 2:
            clock[0] = t
            app.check_in(target_kind="key_person", target_id=str(targets[minute - 2]), note="情绪稳定，按时服药",
                         fix=None)
    clock[0] = start + timedelta(minutes=16)
    return app.end_visit()


def test_a_key_person_check_in_becomes_one_update_tied_to_the_visit(tmp_path: Path, world: World) -> None:
    mine = _register(world, "A", "张三丰", registered_days_ago=45)
    other = _register(world, "C", "李四光", registered_days_ago=45)  # another street's grid
    clock = [datetime.now(UTC) - timedelta(minutes=40)]
    app = AppService(tmp_path / "phone", now=lambda: clock[0])
    assert app.login(world.base, world.users["worker_a"].username, PASSWORD).ok

    cached = app.key_persons()  # offered offline on the visit screen: my grid's people only, masked
    assert [(p["id"], p["name"], p["type_name"], p["follow_up"], p["follow_up_zh"]) for p in cached] == [
        (mine, "张**", "严重精神障碍患者", "overdue", "已逾期")]
    assert cached[0]["address"] != "黄埔东路1号3栋201" and cached[0]["next_due_at"]

    visit = _visit_with_check_ins(app, clock, [mine, other])
    updates = [q for q in app.queue_status() if q.kind == "key_person_update"]
    assert [(q.state, q.label) for q in updates] == [
        ("queued", "重点人员信息更新：严重精神障碍患者 张**"), ("queued", f"重点人员信息更新：编号 {other}")]

    report = app.sync_now()
    assert (report.sent, report.failed) == (2, 1)  # the visit, then its update; the other grid's refused
    status = {q.local_id: q for q in app.queue_status()}
    sent, refused = (status[q.local_id] for q in updates)
    assert (sent.state, sent.attempts) == ("sent", 1)
    assert (refused.state, refused.reason) == ("failed", "重点人员不存在")

    worker = AppService(tmp_path / "phone")._api()  # the worker's own view of the person
    try:
        person = worker.key_person(mine)
    finally:
        worker.close()
    assert [(u["uuid"], u["visit_uuid"], u["actor"]) for u in person["updates"]] == [
        (sent.local_id, visit, world.users["worker_a"].username)]
    assert person["follow_up"] == "up_to_date"
    assert app.key_persons()[0]["follow_up"] == "up_to_date"  # the cache refreshed by the sync

    app.store.db.execute("UPDATE outbox SET state = 'queued' WHERE local_id = ?", (sent.local_id,))
    assert app.sync_now().failed == 0  # sent again as if its answer was lost: the same uuid, the same body
    assert next(q for q in app.queue_status() if q.local_id == sent.local_id).attempts == 2
    app.retry(refused.local_id)
    assert app.sync_now().failed == 1  # the worker's retry is refused again, and still kept
    worker = AppService(tmp_path / "phone")._api()
    try:
        assert len(worker.key_person(mine)["updates"]) == 1
    finally:
        worker.close()
    assert {q.state for q in app.queue_status() if q.local_id == refused.local_id} == {"failed"}


def test_an_update_waits_for_its_visit(tmp_path: Path, world: World) -> None:
    mine = _register(world, "A", "张三丰", registered_days_ago=45)
    clock = [datetime.now(UTC) - timedelta(minutes=40)]
    app = AppService(tmp_path / "phone", now=lambda: clock[0])
    assert app.login(world.base, world.users["worker_a"].username, PASSWORD).ok
    app.start_visit(cell_fix(0, 0, at=clock[0]))
    app.check_in(target_kind="key_person", target_id=str(mine), note="", fix=None)
    with pytest.raises(ValueError, match="请选择重点人员"):
        app.check_in(target_kind="key_person", target_id=None, note="", fix=None)
    assert app.sync_now().sent == 0  # the visit still runs: its update is not sent before it
    waiting = next(q for q in app.queue_status() if q.kind == "key_person_update")
    assert (waiting.state, waiting.reason, waiting.attempts) == ("queued", "等待所属走访结束并同步", 0)
