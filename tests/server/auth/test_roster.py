"""The roster (花名册) import: a good file creates users, scopes and assignments; every bad one is
refused row by row in Chinese and English, and writes nothing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from server.auth import phones, roster
from server.auth.enums import Role
from server.auth.models import AdminAction, User
from server.auth.security import verify_password
from server.errors import Forbidden
from server.grids.models import GridAssignment
from tests import factories
from tests.conftest import NOW

HEADER = ["序号", "姓名", "手机号", "角色", "街道", "社区", "网格", "专职/兼职", "上岗日期"]
GRID_A, GRID_B = f"{factories.COMMUNITY}001", f"{factories.COMMUNITY}002"


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    factories.tree(db_session)
    factories.grid(db_session, GRID_A, factories.gk_square(0, 0), name="第一网格")
    factories.grid(db_session, GRID_B, factories.gk_square(1, 0), name="第二网格")
    return factories.user(db_session, Role.district_admin, username="admin")


def xlsx(rows: list[list[Any]], header: list[str] = HEADER) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.append(header)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_bytes(rows: list[list[Any]], encoding: str, header: list[str] = HEADER) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    return buf.getvalue().encode(encoding)


GOOD = [
    [1, "张三", "13800138001", "专职网格员", "街道1", "社区1-1", "第一网格", "专职", "2026-03-01"],
    [2, "李四", 13800138002, "网格员", factories.STREET, "", f"{GRID_A}、{GRID_B}", "兼职", datetime(2026, 5, 6)],
    [3, "王五", "138 0013 8003", "街道管理员", "街道1", "", "", "专职", ""],
    [4, "赵六", "020-87654321", "指挥中心", "", "", "", "", ""],
]


def _count(db_session, model) -> int:  # type: ignore[no-untyped-def]
    return db_session.scalar(select(func.count()).select_from(model))


def _run(db_session, data: bytes, filename: str = "花名册.xlsx", apply: bool = True, actor=None):  # type: ignore[no-untyped-def]
    return roster.import_roster(db_session, data, filename=filename, now=NOW, apply=apply, actor=actor)


def test_a_good_roster_creates_users_scopes_and_assignments(db_session, world) -> None:  # type: ignore[no-untyped-def]
    dry = _run(db_session, xlsx(GOOD), apply=False, actor=world)
    assert dry.ok and not dry.applied and not dry.passwords, dry.errors
    assert [u.username for u in dry.users] == ["zhangsan", "lisi", "wangwu", "zhaoliu"]
    assert _count(db_session, User) == 1  # the dry run wrote nothing

    report = _run(db_session, xlsx(GOOD), actor=world)
    assert report.ok and report.applied
    assert sorted(report.assignments) == sorted([
        ("zhangsan", GRID_A, datetime(2026, 3, 1).date()), ("lisi", GRID_A, datetime(2026, 5, 6).date()),
        ("lisi", GRID_B, datetime(2026, 5, 6).date())])
    users = {u.username: u for u in db_session.scalars(select(User))}
    zhang, li, wang, zhao = (users[n] for n in ("zhangsan", "lisi", "wangwu", "zhaoliu"))
    assert (zhang.role, zhang.street_code, zhang.district_code, zhang.full_time) == (
        "grid_worker", factories.STREET, factories.DISTRICT, True)
    assert (li.full_time, wang.role, wang.street_code) == (False, "street_admin", factories.STREET)
    assert (zhao.role, zhao.street_code, zhao.district_code) == ("command_center", None, factories.DISTRICT)
    # the start date is midnight in Shanghai; the phone is encrypted, found by its keyed hash, never in clear
    start = db_session.scalar(select(GridAssignment.valid_from).where(GridAssignment.user_id == zhang.id))
    assert start.astimezone(UTC) == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert li.phone_hash == phones.hash_phone("13800138002") and "13800138002" not in (li.phone_enc or "")
    assert phones.masked(li.phone_enc) == "138****8002"
    assert wang.phone_hash == phones.hash_phone("13800138003")
    # every new user has an initial password, handed out once, that must be changed
    given = {p.username: p.password for p in report.passwords}
    assert set(given) == set(users) - {"admin"}
    assert all(u.must_change_password and verify_password(given[n], u.hashed_password)
               for n, u in users.items() if n != "admin")
    actions = [a.action for a in db_session.scalars(select(AdminAction))]
    assert actions.count("user_create") == 4 and actions.count("roster_import") == 1
    assert not any(p in (a.detail or "") for a in db_session.scalars(select(AdminAction)) for p in given.values())


def test_the_same_roster_again_skips_who_is_present(db_session, world) -> None:  # type: ignore[no-untyped-def]
    _run(db_session, xlsx(GOOD), actor=world)
    again = _run(db_session, xlsx(GOOD + [[5, "张三", "13900139000", "网格员", "街道1", "", "第二网格", "专职", ""]]),
                 actor=world)
    assert again.ok and again.applied, again.errors
    assert sorted(again.existing) == ["lisi", "wangwu", "zhangsan", "zhaoliu"]
    assert [(u.username, u.grid_codes) for u in again.users] == [("zhangsan2", [GRID_B])]  # a namesake


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_csv_in_utf8_or_gbk(db_session, world, encoding: str) -> None:  # type: ignore[no-untyped-def]
    report = _run(db_session, csv_bytes(GOOD[:1], encoding), filename="花名册.csv", apply=False)
    assert report.ok and report.users[0].full_name == "张三", report.errors


def _errors(report) -> list[tuple[int, str | None, str]]:  # type: ignore[no-untyped-def]
    return [(e.row, e.column, e.code) for e in report.errors]


def _refused(db_session, report, *expected: tuple[int, str | None, str]) -> None:  # type: ignore[no-untyped-def]
    assert not report.applied and not report.passwords
    assert set(expected) <= set(_errors(report)), _errors(report)
    assert all(e.message and e.message_zh for e in report.errors)
    created = db_session.scalar(select(func.count()).select_from(User).where(User.must_change_password))
    assert created == 0 and _count(db_session, GridAssignment) == 0  # all or nothing


def test_unknown_grid_street_and_community(db_session, world) -> None:  # type: ignore[no-untyped-def]
    rows = [GOOD[0], [2, "李四", "13800138002", "网格员", "街道1", "", "第九网格", "专职", ""],
            [3, "王五", "13800138003", "网格员", "不存在街道", "", "第一网格", "专职", ""],
            [4, "赵六", "13800138004", "网格员", "街道1", "社区9", "第一网格", "专职", ""],
            [5, "钱七", "13800138005", "网格员", "街道2", "", "第一网格", "专职", ""]]  # grid of another street
    report = _run(db_session, xlsx(rows), actor=world)
    _refused(db_session, report, (3, "网格", "unknown_grid"), (4, "街道", "unknown_street"),
             (5, "社区", "unknown_community"), (6, "网格", "unknown_grid"))
    assert "第九网格" in next(e.message_zh for e in report.errors if e.row == 3)


@pytest.mark.parametrize("role", ["区级管理员", "district_admin", "网格长"])
def test_a_role_the_roster_cannot_grant(db_session, world, role: str) -> None:  # type: ignore[no-untyped-def]
    report = _run(db_session, xlsx([GOOD[0], [2, "李四", "13800138002", role, "街道1", "", "", "", ""]]), actor=world)
    code = "unknown_role" if role == "网格长" else "role_not_grantable"
    _refused(db_session, report, (3, "角色", code))


def test_a_street_admin_imports_only_workers_of_their_street(db_session, world) -> None:  # type: ignore[no-untyped-def]
    street_admin = factories.user(db_session, Role.street_admin)
    rows = [GOOD[0], [2, "王五", "13800138003", "街道管理员", "街道1", "", "", "", ""],
            [3, "钱七", "13800138005", "网格员", "街道2", "", "x", "专职", ""]]  # another street, by name
    report = _run(db_session, xlsx(rows), actor=street_admin)
    assert _errors(report) == [(3, "角色", "role_not_grantable"), (4, "街道", "unknown_street")]
    rows[2][4] = "440112002000"  # by code: a place outside one's area refuses the file, as for devices
    with pytest.raises(Forbidden) as refused:
        _run(db_session, xlsx(rows), actor=street_admin)
    assert refused.value.code == "scope_forbidden"
    assert _count(db_session, GridAssignment) == 0


def test_duplicates_in_the_file_and_in_the_database(db_session, world) -> None:  # type: ignore[no-untyped-def]
    factories.user(db_session, Role.auditor, username="taken")
    header = [*HEADER, "用户名"]
    rows = [[*GOOD[0], "zhs"], [2, "李四", "138-0013-8001", "网格员", "街道1", "", "第一网格", "", "", "lis"],
            [3, "王五", "13800138003", "网格员", "街道1", "", "第一网格", "", "", "zhs"],
            [4, "赵六", "13800138004", "网格员", "街道1", "", "第一网格", "", "", "taken"]]
    report = _run(db_session, xlsx(rows, header), actor=world)
    _refused(db_session, report, (3, "手机号", "duplicate_phone"), (4, "用户名", "duplicate_username"),
             (5, "用户名", "duplicate_username"))


def test_missing_required_column(db_session, world) -> None:  # type: ignore[no-untyped-def]
    header = [h for h in HEADER if h != "手机号"]
    report = _run(db_session, xlsx([[1, "张三", "网格员", "街道1", "", "第一网格", "专职", ""]], header), actor=world)
    _refused(db_session, report, (1, None, "missing_column"))
    assert "手机号" in report.errors[0].message_zh


def test_wrong_encoding(db_session, world) -> None:  # type: ignore[no-untyped-def]
    report = _run(db_session, csv_bytes(GOOD[:1], "utf-16"), filename="花名册.csv", actor=world)
    _refused(db_session, report, (1, None, "unreadable_file"))
    assert "UTF-8" in report.errors[0].message_zh


def test_phone_stored_as_an_excel_number(db_session, world) -> None:  # type: ignore[no-untyped-def]
    """A numeric cell keeps the whole number (13800138002 above); a CSV export of a narrow column
    writes 1.38E+10, whose digits are gone: refused, never guessed."""
    rows = [[1, "张三", 13800138001.0, "网格员", "街道1", "", "第一网格", "", ""],
            [2, "李四", "1.38E+10", "网格员", "街道1", "", "第一网格", "", ""]]
    report = _run(db_session, csv_bytes(rows, "utf-8"), filename="花名册.csv", actor=world)
    _refused(db_session, report, (3, "手机号", "invalid_phone"))
    assert _errors(report) == [(3, "手机号", "invalid_phone")]
    assert "科学计数法" in report.errors[0].message_zh


def test_a_worker_who_moved_grid_keeps_the_history(db_session, world) -> None:  # type: ignore[no-untyped-def]
    """The roster again, with 张三 moved from 第一网格 to 第二网格: the first assignment ends when the
    second starts, so the month of the move counts them in both grids."""
    _run(db_session, xlsx(GOOD), actor=world)
    zhang = db_session.scalar(select(User).where(User.username == "zhangsan"))
    moved = [[1, "张三", "13800138001", "专职网格员", "街道1", "社区1-1", "第二网格", "专职", "2026-03-01"]]
    report = _run(db_session, xlsx(moved + GOOD[1:]), actor=world)
    assert report.ok and report.applied and not report.users
    assert [(m.username, m.closed, m.opened, m.at) for m in report.moves] == [("zhangsan", [GRID_A], [GRID_B], NOW)]
    rows = db_session.execute(select(GridAssignment.grid_id, GridAssignment.valid_from, GridAssignment.valid_to)
                              .where(GridAssignment.user_id == zhang.id).order_by(GridAssignment.id)).all()
    assert [(r.valid_from.astimezone(UTC), r.valid_to and r.valid_to.astimezone(UTC)) for r in rows] == [
        (datetime(2026, 2, 28, 16, 0, tzinfo=UTC), NOW), (NOW, None)]
    assert "assignment_change" in [a.action for a in db_session.scalars(select(AdminAction))]
    again = _run(db_session, xlsx(moved + GOOD[1:]), actor=world)
    assert again.ok and not again.moves and "zhangsan" in again.existing  # nothing left to change


def test_a_role_change_is_not_made_by_roster(db_session, world) -> None:  # type: ignore[no-untyped-def]
    _run(db_session, xlsx(GOOD), actor=world)
    promoted = [[1, "张三", "13800138001", "街道管理员", "街道1", "", "", "专职", ""]]
    _refused_after = _run(db_session, xlsx(promoted), actor=world)
    assert _errors(_refused_after) == [(2, "角色", "role_differs")]
    assert not _refused_after.applied


@pytest.mark.parametrize(("column", "value", "code"), [
    (8, "2026-13-45", "invalid_date"), (8, "1999-12-31", "invalid_date"), (7, "临时", "invalid_value"),
    (1, "", "invalid_name"), (2, "12345", "invalid_phone"), (6, "", "grid_required"), (4, "", "street_required"),
    (6, "440112001001001 440112001001999", "unknown_grid"),
])
def test_a_bad_cell_is_a_row_error(db_session, world, column: int, value: str, code: str) -> None:  # type: ignore[no-untyped-def]
    row = list(GOOD[0])
    row[column] = value
    report = _run(db_session, xlsx([row]), actor=world)
    assert [e.code for e in report.errors] == [code] and report.errors[0].row == 2
    _refused(db_session, report, (2, HEADER[column], code))
