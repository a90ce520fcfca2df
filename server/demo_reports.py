"""Trainings and weekly situation reports (周报) for the demo year, through the reports service.

Two district-wide trainings a year (the seeds' "每年举办2场网格员业务培训会") and one or two per
street, on working days; a report every Friday afternoon of the year, produced from that week's
data as it stood then (`now` = the Friday), after the events and devices are in.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.models import User
from server.demo_operations import local_midnights
from server.divisions.models import District, Street
from server.reports.schemas import TrainingIn
from server.reports.service import add_training, produce_weekly

TZ = ZoneInfo("Asia/Shanghai")
TOPICS = ("网格事件采集与上报规范", "出租屋和来穗人员信息登记实务", "矛盾纠纷排查化解技巧", "消防安全隐患排查要点",
          "网格巡查走访与移动终端使用", "重点人员服务管理", "安全生产隐患识别", "群众工作方法与沟通技巧")


def load_reports(db_session: Session, *, now: datetime, days: int = 365, seed: int = 2026) -> dict[str, int]:
    """Trainings and Friday reports over the last `days` up to `now`; the caller commits."""
    rnd = random.Random(seed)
    midnights = local_midnights(now, days)
    workdays = [d for d in midnights if _local(d).weekday() < 5]
    users = {u.username: u for u in db_session.scalars(select(User).where(User.role.in_(
        ["district_admin", "street_admin", "command_center"])))}
    admin = users["admin"]
    trainings = 0
    for street in [None, *db_session.scalars(select(Street.code).order_by(Street.code))]:
        creator = admin if street is None else next(
            (u for u in users.values() if u.role == "street_admin" and u.street_code == street), admin)
        for _ in range(2 if street is None else rnd.choice((1, 2, 2))):
            day = rnd.choice(workdays[:-1] or midnights[:1])
            held = day + timedelta(hours=rnd.choice((9, 14, 15)))  # local midnight + hours: local time
            add_training(db_session=db_session, user=creator, data=TrainingIn(
                title=f"{'全区' if street is None else ''}网格员业务培训：{rnd.choice(TOPICS)}", held_at=held,
                street_code=street, attendees=rnd.randint(30, 300) if street is None else rnd.randint(20, 60)))
            trainings += 1
    district = db_session.scalar(select(District).order_by(District.code))
    reports = 0
    if district is not None:
        author = users.get("command", admin)
        for day in midnights:
            friday = day + timedelta(hours=16, minutes=rnd.randint(0, 90))  # 16:00–17:30 local on Friday
            if _local(day).weekday() != 4 or friday > now:
                continue
            produce_weekly(db_session=db_session, district_code=district.code, area=district.name,
                           week_start=_local(day), now=friday, user=author)
            reports += 1
    return {"trainings": trainings, "weekly_reports": reports}


def _local(instant: datetime) -> date:
    return instant.astimezone(TZ).date()
