"""The roster (花名册) import: a district's staff list becomes users, their scopes and grid assignments.

An office's roster is an xlsx (or a CSV in UTF-8 or GBK) with Chinese headers: 姓名, 手机号,
角色, 街道, 社区, 网格 (codes or names), 专职/兼职, 上岗日期, and now and then 用户名. Every row is
checked before anything is written (unknown street or grid, a role the roster may not grant, a
phone or username used twice, a phone that Excel turned into a number), and the file is written
whole or not at all: the report lists each row's errors in Chinese and English, and what would be
created. A person already present (same phone and name) is skipped, so a roster can be imported again
after people join. Each new user gets a generated initial password, returned once in the applied
report (never stored in clear, never logged) and changed at the first login.

The import creates users (auth) and assigns them to grids (grids), so it reads the administrative
tree and the grids: an entry point of its own, like the views, above the layers it serves
(.importlinter lets server.auth.roster import those two services).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pypinyin import lazy_pinyin
from sqlalchemy import select
from sqlalchemy.orm import Session

from gis.codes import area_prefix, district_of
from server import sheets
from server.auth import passwords, phones
from server.auth import service as auth_service
from server.auth.enums import ROLE_LABELS_ZH, Role
from server.auth.models import User
from server.auth.schemas import UserCreate
from server.auth.security import hash_password
from server.config import get_settings
from server.database.prefix import prefix_range
from server.divisions import service as divisions
from server.divisions.models import Community, Street
from server.errors import Forbidden, GridopsError
from server.grids import service as grids
from server.grids.models import Grid
from server.inputs import has_control_characters
from server.sheets import RowError

SHANGHAI = ZoneInfo("Asia/Shanghai")
COLUMNS: dict[str, tuple[str, ...]] = {
    "full_name": ("姓名", "名字"),
    "phone": ("手机号", "手机号码", "联系电话", "手机", "电话"),
    "role": ("角色", "岗位", "职务"),
    "street": ("街道", "街镇", "所属街道", "街道编码"),
    "community": ("社区", "村居", "所属社区", "社区编码"),
    "grid": ("网格", "所属网格", "网格编码", "网格名称"),
    "full_time": ("专职/兼职", "专兼职", "用工性质", "聘用类型"),
    "start_date": ("上岗日期", "入职日期", "任职日期", "开始日期"),
    "username": ("用户名", "账号", "登录名"),
}
REQUIRED = ("full_name", "phone", "role")
# Chinese role names as rosters write them. district_admin is never granted by a roster: the
# district's administrators are few and are created one by one (POST /auth/users, the CLI).
ROLE_NAMES: dict[str, Role] = {
    "网格员": Role.grid_worker, "专职网格员": Role.grid_worker, "兼职网格员": Role.grid_worker,
    "街道管理员": Role.street_admin, "街镇管理员": Role.street_admin, "街道网格管理员": Role.street_admin,
    "指挥中心": Role.command_center, "指挥中心值班员": Role.command_center, "综治中心": Role.command_center,
    "审计员": Role.auditor, "绩效审计员": Role.auditor,
    **{r.value: r for r in Role},
}
NOT_GRANTABLE = frozenset({Role.district_admin, "区级管理员", "区管理员", "管理员", "系统管理员"})
FULL_TIME = {"专职": True, "全职": True, "兼职": False}
_USERNAME = re.compile(r"[A-Za-z0-9_.-]{3,64}")
_SPLIT = re.compile(r"[、,，;；/\s]+")


@dataclass
class PlannedUser:
    row: int
    username: str
    full_name: str
    role: Role
    district_code: str | None
    street_code: str | None
    phone_masked: str
    full_time: bool | None
    grid_codes: list[str]
    start_date: date
    phone: str = field(repr=False, default="")  # normalised, for the write; never in the report


@dataclass
class PlannedMove:
    """A grid worker already present whose roster row names other grids (or another street)."""

    row: int
    username: str
    from_street: str | None
    to_street: str | None
    closed: list[str]  # grid codes whose assignment ends at `at`
    opened: list[str]  # grid codes whose assignment starts at `at`
    at: datetime


@dataclass
class InitialPassword:
    username: str
    full_name: str
    password: str = field(repr=False)


@dataclass
class RosterReport:
    filename: str
    rows: int = 0
    errors: list[RowError] = field(default_factory=list)
    users: list[PlannedUser] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)  # usernames of people already present (skipped)
    moves: list[PlannedMove] = field(default_factory=list)  # workers present whose grids change
    applied: bool = False
    passwords: list[InitialPassword] = field(default_factory=list)  # only once applied: hand out, then forget

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def assignments(self) -> list[tuple[str, str, date]]:
        """(username, grid code, start date) of every assignment that is (or would be) opened."""
        return [(u.username, g, u.start_date) for u in self.users for g in u.grid_codes]


def _error(row: int, column: str | None, code: str, en: str, zh: str) -> RowError:
    return RowError(row=row, column=column, code=code, message=en, message_zh=zh)


class _Places:
    """The streets, communities and grids a roster may name (by code or name), inside the actor's area."""

    def __init__(self, db_session: Session, actor: User | None) -> None:
        self.db_session = db_session
        self.area_prefix = _area(actor)
        self.every_street = divisions.list_streets(db_session=db_session)
        self.streets = [s for s in self.every_street if s.code.startswith(self.area_prefix)]
        districts = {district_of(s.code) for s in self.every_street}
        # where users without a street (command center, auditors) belong: the actor's district, or the only one
        self.district = actor.district_code if actor else (districts.pop() if len(districts) == 1 else None)

    def street(self, value: str) -> Street | str:
        """The street (by code, or by name inside the actor's area), or why not (an error key). A
        street outside the area refuses the whole file (403), as placing a device there does."""
        if any(s.code == value for s in self.every_street) and not any(s.code == value for s in self.streets):
            raise Forbidden(f"street {value} is outside your area", f"街道 {value} 不在您的管辖范围内",
                            code="scope_forbidden")
        found = [s for s in self.streets if value in (s.code, s.name)]
        if len(found) > 1:
            return "ambiguous"
        return found[0] if found else "unknown"

    def community(self, street: Street, value: str) -> Community | None:
        return next((c for c in divisions.list_communities(db_session=self.db_session, street_code=street.code)
                     if value in (c.code, c.name)), None)

    def grid(self, street: Street, community: Community | None, value: str) -> Grid | str:
        q = select(Grid).where(prefix_range(Grid.code, area_prefix(street.code)), Grid.retired_at.is_(None))
        if community is not None:
            q = q.where(Grid.community_id == community.id)
        found = [g for g in self.db_session.scalars(q.where((Grid.code == value) | (Grid.name == value)))]
        if len(found) > 1:
            return "ambiguous"
        if found:
            return found[0]
        retired = grids.get_by_code(db_session=self.db_session, code=value)
        return "retired" if retired is not None and retired.retired_at is not None else "unknown"


def _role(value: str | None, actor: User | None, row: int) -> Role | RowError:
    name = (value or "").strip()
    role = ROLE_NAMES.get(name)
    if role is None and name not in NOT_GRANTABLE:
        known = "、".join(sorted(k for k in ROLE_NAMES if not k.isascii()))
        return _error(row, "角色", "unknown_role", f"unknown role {name!r}", f"无法识别的角色“{name}”，可用：{known}")
    grantable = {Role.grid_worker} if actor is not None and actor.role == Role.street_admin else \
        {Role.grid_worker, Role.street_admin, Role.command_center, Role.auditor}
    if role not in grantable:
        label = ROLE_LABELS_ZH.get(role, name) if role else name
        return _error(row, "角色", "role_not_grantable",
                      f"a roster cannot grant {name!r}: create such accounts one by one",
                      f"花名册不能授予“{label}”角色，请逐个创建此类账号")
    return role


def _start(value: Any, row: int, now: datetime) -> date | RowError:
    """The start date, today (Shanghai) when blank."""
    today = now.astimezone(SHANGHAI).date()
    try:
        day = sheets.day(value)
    except ValueError:
        day = date.min
    if day is None:
        return today
    if not date(2000, 1, 1) <= day <= today + timedelta(days=366):
        return _error(row, "上岗日期", "invalid_date", f"start date {value!r} is not a date between 2000 and next "
                      "year (write 2024-03-01)", f"上岗日期“{value}”无效（应为 2000 年至明年之间的日期，如 2024-03-01）")
    return day


class _Usernames:
    """Usernames given in the file, or derived from the name's pinyin (zhangsan, zhangsan2 …): the same
    file on the same database always gives the same names."""

    def __init__(self, db_session: Session) -> None:
        self.db_session = db_session
        self.taken: set[str] = set()

    def free(self, name: str) -> bool:
        return name.lower() not in self.taken and auth_service.get_by_username(
            db_session=self.db_session, username=name) is None

    def derive(self, full_name: str) -> str:
        base = re.sub(r"[^a-z0-9]", "", "".join(lazy_pinyin(full_name)).lower().replace("ü", "v"))[:60]
        base = base if len(base) >= 3 else f"user{base}"
        candidate, n = base, 1
        while not self.free(candidate):
            n += 1
            candidate = f"{base}{n}"
        return candidate

    def take(self, name: str) -> None:
        self.taken.add(name.lower())


def _check_row(number: int, values: dict[str, Any], cols: dict[str, str], ctx: _Context) -> PlannedUser | None:
    """The row's plan, or None with its errors added to the report."""
    def cell(f: str) -> Any:
        return values.get(cols[f]) if f in cols else None

    errors: list[RowError] = []
    full_name = sheets.text(cell("full_name"))
    if not full_name or len(full_name) > 64 or has_control_characters(full_name):
        errors.append(_error(number, "姓名", "invalid_name", "a name of 1–64 characters is required",
                             "姓名必填，1–64 个字符"))
    raw_phone = cell("phone")
    phone = phones.normalise(raw_phone)
    if phone is None:
        sci = isinstance(raw_phone, str) and re.fullmatch(r"\s*\d(\.\d+)?[eE]\+?\d+\s*", raw_phone)
        errors.append(_error(number, "手机号", "invalid_phone",
                             f"phone {raw_phone!r} " + ("is in scientific notation, digits are lost: format the "
                                                        "column as text" if sci else "is not a mobile or landline"),
                             f"手机号“{raw_phone}”" + ("为科学计数法，数字已丢失，请将该列设为文本格式" if sci
                                                    else "无效，应为 11 位手机号或带区号的固定电话")))
    role = _role(sheets.text(cell("role")), ctx.actor, number)
    if isinstance(role, RowError):
        errors.append(role)
        role = None
    street, grid_codes = ctx.place(number, role, cell, errors)
    full_time_text = sheets.text(cell("full_time"))
    if full_time_text is not None and full_time_text not in FULL_TIME:
        errors.append(_error(number, "专职/兼职", "invalid_value", f"{full_time_text!r}: write 专职 or 兼职",
                             f"“{full_time_text}”无效，应填“专职”或“兼职”"))
    start = _start(cell("start_date"), number, ctx.now)
    if isinstance(start, RowError):
        errors.append(start)
    if phone is not None and full_name:
        if (first := ctx.phones.get(phone)) is not None:
            errors.append(_error(number, "手机号", "duplicate_phone", f"phone also on row {first}",
                                 f"手机号与第 {first} 行重复"))
        else:
            ctx.phones[phone] = number
            existing = auth_service.get_by_phone(db_session=ctx.db_session, phone=phone)
            if existing is not None and existing.full_name == full_name and ctx.inside(existing):
                if not errors:
                    ctx.present(number, existing, role, street, grid_codes, start, errors)
                ctx.report.errors += errors
                return None
            if existing is not None:
                errors.append(_error(number, "手机号", "duplicate_phone", "another user has this phone",
                                     "该手机号已被其他用户使用"))
    username = ctx.username(number, sheets.text(cell("username")), full_name, errors)
    ctx.report.errors += errors
    if errors or role is None or not isinstance(start, date) or not full_name or not phone or not username:
        return None
    district = district_of(street.code) if street else ctx.places.district
    street_code = street.code if street and role in (Role.street_admin, Role.grid_worker) else None
    return PlannedUser(number, username, full_name, role, district, street_code, phones.mask_phone(phone) or "",
                       FULL_TIME.get(full_time_text or ""), grid_codes, start, phone)


@dataclass
class _Context:
    db_session: Session
    actor: User | None
    now: datetime
    report: RosterReport
    places: _Places
    usernames: _Usernames
    phones: dict[str, int] = field(default_factory=dict)

    def place(self, number: int, role: Role | None, cell: Any, errors: list[RowError]
              ) -> tuple[Street | None, list[str]]:
        """The row's street and grid codes; a worker needs grids, street-scoped roles a street."""
        street_text, grid_text = sheets.text(cell("street")), sheets.text(cell("grid"))
        if role in (Role.street_admin, Role.grid_worker) and not street_text:
            errors.append(_error(number, "街道", "street_required", f"{role} needs a street",
                                 f"{ROLE_LABELS_ZH[role]}必须填写街道"))
            return None, []
        if not street_text:
            if self.places.district is None:
                errors.append(_error(number, "街道", "street_required", "several districts: give the street",
                                     "数据库中有多个区，请填写街道以确定所属区"))
            return None, []
        street = self.places.street(street_text)
        if isinstance(street, str):
            errors.append(_error(number, "街道", f"{street}_street",
                                 {"unknown": f"unknown street {street_text!r}",
                                  "ambiguous": f"several streets are called {street_text!r}: use the code"}[street],
                                 {"unknown": f"街道“{street_text}”不存在",
                                  "ambiguous": f"有多个街道名为“{street_text}”，请填写街道编码"}[street]))
            return None, []
        community = None
        if community_text := sheets.text(cell("community")):
            community = self.places.community(street, community_text)
            if community is None:
                errors.append(_error(number, "社区", "unknown_community",
                                     f"community {community_text!r} is not in street {street.name}",
                                     f"社区“{community_text}”不在{street.name}"))
                return street, []
        if role is Role.grid_worker and not grid_text:
            errors.append(_error(number, "网格", "grid_required", "a grid worker needs a grid", "网格员必须填写网格"))
        codes = []
        for value in _SPLIT.split(grid_text or "") if role is Role.grid_worker else []:
            if not value:
                continue
            grid = self.places.grid(street, community, value)
            if isinstance(grid, Grid):
                codes.append(grid.code)
                continue
            where = f"{street.name}{community.name if community else ''}"
            errors.append(_error(number, "网格", f"{grid}_grid", {
                "unknown": f"no grid {value!r} in {where}", "retired": f"grid {value} is retired",
                "ambiguous": f"several grids are called {value!r} in {where}: use the code"}[grid], {
                "unknown": f"{where}没有网格“{value}”", "retired": f"网格 {value} 已撤销",
                "ambiguous": f"{where}有多个网格名为“{value}”，请填写网格编码"}[grid]))
        return street, codes

    def inside(self, user: User) -> bool:
        """Whether an existing user lies in the actor's area (else they are someone else's)."""
        area = self.places.area_prefix
        return not area or ((user.street_code or "").startswith(area) if len(area) == 9 else user.district_code == area)

    def present(self, number: int, user: User, role: Role | None, street: Street | None, grid_codes: list[str],
                start: date | RowError, errors: list[RowError]) -> None:
        """A person already present: nothing to do, or a grid worker who moved (street or grids)."""
        if role is not None and user.role != role:
            label = ROLE_LABELS_ZH.get(auth_service.role_of(user) or role, user.role)
            errors.append(_error(number, "角色", "role_differs", f"{user.username} is already a {user.role}: a role "
                                 "changes by hand, not by roster", f"{user.username} 已是{label}，角色变更请单独处理"))
            return
        if role is not Role.grid_worker or not isinstance(start, date):
            self.report.existing.append(user.username)
            return
        current = set(grids.worker_grid_codes(db_session=self.db_session, worker=user, at=self.now))
        to_street = street.code if street else user.street_code
        if current == set(grid_codes) and to_street == user.street_code:
            self.report.existing.append(user.username)
            return
        at = max(self.now, _midnight(start))  # history is kept: the old grids end, the new ones start, then
        self.report.moves.append(PlannedMove(number, user.username, user.street_code, to_street,
                                             sorted(current - set(grid_codes)), sorted(set(grid_codes) - current), at))

    def username(self, number: int, given: str | None, full_name: str | None, errors: list[RowError]) -> str | None:
        if given is None:
            if not full_name or errors:
                return None
            name = self.usernames.derive(full_name)
        elif not _USERNAME.fullmatch(given):
            errors.append(_error(number, "用户名", "invalid_username", "a username has 3–64 letters, digits, _ . -",
                                 "用户名应为 3–64 个字母、数字或 _ . -"))
            return None
        elif not self.usernames.free(given):
            errors.append(_error(number, "用户名", "duplicate_username", f"username {given} is taken",
                                 f"用户名 {given} 已被使用（本文件或已有用户）"))
            return None
        else:
            name = given
        self.usernames.take(name)
        return name


def _read(path_or_bytes: str | Path | bytes, filename: str) -> sheets.Sheet:
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else Path(path_or_bytes).read_bytes()
    return sheets.read(data, filename)


def _area(actor: User | None) -> str:
    """The code prefix the actor may import into: "" (all) for the CLI, else the district or street."""
    if actor is None:
        return ""
    if actor.role == Role.street_admin and actor.street_code:
        return actor.street_code[:9]
    return actor.district_code or "-"  # a district role without a district: no street matches


def import_roster(db_session: Session, path_or_bytes: str | Path | bytes, *, filename: str, now: datetime,
                  apply: bool, actor: User | None) -> RosterReport:
    """Check every row; write users and assignments only if `apply` and no row has an error.
    `actor` None is the trusted CLI; a row naming a street code outside the actor's area raises
    Forbidden (403) for the whole file. The caller commits (nothing is flushed on a dry run)."""
    report = RosterReport(filename=filename)
    try:
        sheet = _read(path_or_bytes, filename)
    except GridopsError as exc:
        report.errors.append(_error(1, None, exc.code, exc.message_en, exc.message_zh))
        return report
    report.rows = len(sheet.rows)
    if missing := sheets.missing_columns(sheet, COLUMNS, REQUIRED):
        report.errors.append(missing)
        return report
    cols = sheets.column_map(sheet, COLUMNS)
    ctx = _Context(db_session, actor, now, report, _Places(db_session, actor), _Usernames(db_session))
    for number, values in sheet.rows:
        if (planned := _check_row(number, values, cols, ctx)) is not None:
            report.users.append(planned)
    if apply and report.ok:
        _apply(db_session, report, actor=actor, now=now)
    return report


def _apply(db_session: Session, report: RosterReport, *, actor: User | None, now: datetime) -> None:
    """Every write in the caller's transaction. The initial passwords are hashed at bcrypt's lowest
    cost: bcrypt's work factor protects passwords people choose; a generated one carries ~90 random
    bits, which no number of fast guesses reaches, and it is replaced (at full cost) at the first
    login. At full cost 500 staff would hold SQLite's write lock for minutes."""
    rounds = min(passwords.GENERATED_ROUNDS, get_settings().bcrypt_rounds)
    initial = [(u, passwords.generate()) for u in report.users]
    hashed = [(u, p, hash_password(p, rounds=rounds)) for u, p in initial]
    for planned, password, digest in hashed:
        user = auth_service.create(
            db_session=db_session, hashed_password=digest, must_change_password=True, full_time=planned.full_time,
            now=now, user_in=UserCreate(
                username=planned.username, full_name=planned.full_name, password=password, role=planned.role,
                phone=planned.phone, street_code=planned.street_code, district_code=planned.district_code))
        start = _midnight(planned.start_date)
        for code in planned.grid_codes:
            grid = grids.get_by_code(db_session=db_session, code=code)
            assert grid is not None  # checked above, in the same transaction
            grids.assign_worker(db_session=db_session, grid=grid, worker=user, at=start)
        auth_service.record(db_session=db_session, actor=actor, action="user_create", now=now, target=user,
                            detail=f"roster {report.filename} row {planned.row}")
        report.passwords.append(InitialPassword(planned.username, planned.full_name, password))
    for move in report.moves:
        _move(db_session, move, actor=actor, now=now, filename=report.filename)
    auth_service.record(db_session=db_session, actor=actor, action="roster_import", now=now,
                        detail=f"{report.filename}: {len(report.users)} users, {len(report.assignments)} assignments, "
                               f"{len(report.moves)} moved, {len(report.existing)} already present")
    report.applied = True



def _midnight(day: date) -> datetime:
    """A roster's date is a day in Shanghai: it starts at 00:00 there."""
    return datetime.combine(day, time(), SHANGHAI).astimezone(UTC)


def _move(db_session: Session, move: PlannedMove, *, actor: User | None, now: datetime, filename: str) -> None:
    """Close the grids the roster no longer names and open the new ones at the same moment, so the
    month of the move counts the worker in both (the indicators read assignment history)."""
    user = auth_service.get_by_username(db_session=db_session, username=move.username)
    assert user is not None  # found by phone above, in the same transaction
    user.street_code = move.to_street
    for code, change in [(c, grids.unassign_worker) for c in move.closed] + [(c, grids.assign_worker)
                                                                              for c in move.opened]:
        grid = grids.get_by_code(db_session=db_session, code=code)
        assert grid is not None
        change(db_session=db_session, grid=grid, worker=user, at=move.at)
    auth_service.record(db_session=db_session, actor=actor, action="assignment_change", now=now, target=user,
                        detail=f"roster {filename} row {move.row}: -{','.join(move.closed) or '0'} "
                               f"+{','.join(move.opened) or '0'} at {move.at.isoformat()}")
