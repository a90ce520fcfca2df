"""`gridops users import|add|list|disable|enable|reset-password`: accounts from the command line.

The CLI holds the database itself (a trusted caller, like `gridops grids import`): it may create the
district's first administrator, which no API call can. Generated passwords go to a file the
administrator hands out (created 0600, never overwritten) or, for one user, to the terminal once;
they are never logged.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

from server.cli.common import guard
from server.database.types import utcnow


def _session():  # type: ignore[no-untyped-def]
    from server.database.core import get_sessionmaker

    return get_sessionmaker()()


def write_passwords(path: str | Path, rows: list[tuple[str, str, str]]) -> None:
    """(username, full name, initial password) rows as a UTF-8 CSV with a BOM (Excel opens it),
    readable by its owner only; an existing file is never overwritten (it may hold earlier passwords)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", newline="", encoding="utf-8-sig") as f:
        w = csv.writer(f)
        w.writerow(["用户名", "姓名", "初始密码（首次登录须修改）"])
        w.writerows(rows)


def _import(args: argparse.Namespace) -> int:
    from server.auth import roster

    if args.apply and not args.passwords_out:
        print("error: --apply needs --passwords-out FILE (the new users' initial passwords go there) / "
              "--apply 需要 --passwords-out 指定初始密码文件", file=sys.stderr)
        return 2
    if args.apply and Path(args.passwords_out).exists():
        print(f"error: {args.passwords_out} exists: it is never overwritten / 文件已存在，不会覆盖", file=sys.stderr)
        return 2
    with _session() as db_session:
        report = roster.import_roster(db_session, Path(args.path), filename=Path(args.path).name, now=utcnow(),
                                      apply=args.apply, actor=None)
        if report.applied:  # the passwords file first: a commit whose passwords are lost helps nobody
            write_passwords(args.passwords_out, [(p.username, p.full_name, p.password) for p in report.passwords])
            db_session.commit()
    for e in report.errors:
        print(f"ERROR 第{e.row}行 {e.column or ''} [{e.code}] {e.message_zh} / {e.message}")
    for u in report.users:
        grids = "、".join(u.grid_codes) or "-"
        print(f"{'created' if report.applied else 'would create'} 第{u.row}行 {u.username} {u.full_name} {u.role} "
              f"street={u.street_code or '-'} grids={grids} from {u.start_date}")
    for m in report.moves:
        print(f"{'moved' if report.applied else 'would move'} 第{m.row}行 {m.username}: grids -{','.join(m.closed) or '0'} "
              f"+{','.join(m.opened) or '0'} at {m.at.isoformat()}")
    if report.existing:
        print(f"already present (skipped): {', '.join(report.existing)}")
    print(f"{report.rows} rows, {len(report.errors)} errors, {len(report.users)} users, "
          f"{len(report.assignments)} grid assignments, applied={report.applied}")
    if report.applied:
        print(f"initial passwords of {len(report.passwords)} users written to {args.passwords_out}: hand them out, "
              "then delete the file (每位用户首次登录须修改密码)")
    elif report.ok:
        print("dry run: nothing written; add --apply --passwords-out FILE to write / 试运行未写入")
    return 0 if report.ok else 1


def _add(args: argparse.Namespace) -> int:
    from server.auth import passwords, service
    from server.auth.enums import Role
    from server.auth.schemas import UserCreate
    from server.auth.security import hash_password
    from server.config import get_settings

    password = passwords.generate()
    user_in = UserCreate(username=args.username, full_name=args.name, password=password, role=Role(args.role),
                         phone=args.phone, district_code=args.district, street_code=args.street)
    now = utcnow()
    with _session() as db_session:
        user = service.create(db_session=db_session, user_in=user_in, must_change_password=True, now=now,
                              hashed_password=hash_password(password, rounds=get_settings().bcrypt_rounds))
        service.record(db_session=db_session, actor=None, action="user_create", now=now, target=user)
        db_session.commit()
    print(f"user {args.username} ({args.role}) created; initial password, shown this once, to be changed at the "
          f"first login / 初始密码（仅显示一次，首次登录须修改）:\n{password}")
    return 0


def _user(db_session, username: str):  # type: ignore[no-untyped-def]
    from server.auth import service
    from server.errors import NotFound

    user = service.get_by_username(db_session=db_session, username=username)
    if user is None:
        raise NotFound(f"user {username} not found", f"用户 {username} 不存在", code="user_not_found")
    return user


def _set_active(args: argparse.Namespace) -> int:
    from server.auth import service

    with _session() as db_session:
        user = service.set_active(db_session=db_session, user=_user(db_session, args.username),
                                  active=args.users_command == "enable", actor=None, now=utcnow())
        db_session.commit()
        print(f"{user.username}: {'enabled 已启用' if user.is_active else 'disabled 已停用 (its tokens stop now)'}")
    return 0


def _reset(args: argparse.Namespace) -> int:
    from server.auth import passwords, service
    from server.auth.security import hash_password
    from server.config import get_settings

    password = passwords.generate()
    hashed = hash_password(password, rounds=get_settings().bcrypt_rounds)
    now = utcnow()
    with _session() as db_session:
        user = _user(db_session, args.username)
        service.set_password(db_session=db_session, user=user, hashed=hashed, now=now, temporary=True)
        service.record(db_session=db_session, actor=None, action="password_reset", now=now, target=user)
        db_session.commit()
    print(f"temporary password of {args.username}, shown this once / 临时密码（仅显示一次，登录后须修改）:\n{password}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from server.auth import service
    from server.auth.enums import ROLE_LABELS_ZH, Role
    from server.auth.phones import masked

    where = service.user_filter(prefix=None, q=args.q, role=Role(args.role) if args.role else None,
                                street_code=args.street, disabled=True if args.disabled else None)
    with _session() as db_session:
        rows, total = service.list_users(db_session=db_session, where=where, page=1, page_size=args.limit)
        for u in rows:
            role = ROLE_LABELS_ZH.get(Role(u.role), u.role) if u.role in Role.__members__ else u.role
            flags = ("停用 " if not u.is_active else "") + ("待改密 " if u.must_change_password else "")
            print(f"{u.username:<20} {u.full_name:<8} {role:<6} {u.street_code or u.district_code or '-':<12} "
                  f"{masked(u.phone_enc) or '-':<12} {flags}")
    print(f"{len(rows)} of {total:,} users")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from server.auth.enums import Role

    users = sub.add_parser("users", help="accounts: roster import, add, list, disable, enable, reset password"
                           ).add_subparsers(dest="users_command", required=True)
    imp = users.add_parser("import", help="import a roster (花名册 .xlsx or .csv): dry run unless --apply",
                           description="Columns (Chinese headers): 姓名, 手机号, 角色 required; 街道, 社区, 网格 "
                           "(codes or names; several grids separated by 、), 专职/兼职, 上岗日期, 用户名 (else derived "
                           "from the name's pinyin). All or nothing: any row error writes nothing.")
    imp.add_argument("path", help="the roster file")
    imp.add_argument("--apply", action="store_true", help="write the users (only if no row has an error)")
    imp.add_argument("--passwords-out", metavar="FILE", help="CSV to create with the initial passwords (with --apply)")
    imp.set_defaults(func=guard(_import))

    add = users.add_parser("add", help="create one user (e.g. the district's first administrator); prints a "
                           "generated initial password once")
    add.add_argument("username")
    add.add_argument("--name", required=True, help="full name (姓名)")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--district", help="6-digit district code (district-wide roles)")
    add.add_argument("--street", help="12-digit street code (street_admin, grid_worker)")
    add.add_argument("--phone")
    add.set_defaults(func=guard(_add))

    lst = users.add_parser("list", help="list users (phones masked)")
    lst.add_argument("--q", help="part of a username or name, or a whole phone number")
    lst.add_argument("--role", choices=[r.value for r in Role])
    lst.add_argument("--street", help="12-digit street code")
    lst.add_argument("--disabled", action="store_true", help="only disabled users")
    lst.add_argument("--limit", type=int, default=500)
    lst.set_defaults(func=guard(_list))

    for verb, text in (("disable", "disable a user: their tokens stop at once"), ("enable", "enable a user again")):
        p = users.add_parser(verb, help=text)
        p.add_argument("username")
        p.set_defaults(func=guard(_set_active))

    reset = users.add_parser("reset-password", help="set a generated temporary password (printed once); the user "
                             "must change it at the next login")
    reset.add_argument("username")
    reset.set_defaults(func=guard(_reset))
