"""The holiday calendar says when it runs out: at start-up, in /health and in
`gridops events calendar check`, always against a frozen clock (never today's date)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from starlette.testclient import TestClient

from server.events.workcal import DEFAULT_CALENDAR_PATH, WorkCalendar, calendar_at, calendar_warnings, load_calendar

SH = ZoneInfo("Asia/Shanghai")
NEXT = "holiday_calendar_next_year_missing"
CURRENT = "holiday_calendar_year_missing"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.mark.parametrize(("now", "codes"), [
    (at("2026-06-01 09:00"), []),
    (at("2026-10-31 23:59"), []),  # next year's notice may still be weeks away
    (at("2026-11-01 00:00"), [NEXT]),
    (at("2026-11-02 09:00"), [NEXT]),
    (at("2026-12-31 23:59"), [NEXT]),
    (datetime(2026, 10, 31, 16, 30, tzinfo=UTC), [NEXT]),  # already 1 November in Shanghai
    (datetime(2026, 10, 31, 15, 30, tzinfo=UTC), []),
    (at("2027-01-04 09:00"), [CURRENT]),  # time limits already count weekends only
    (at("2027-11-02 09:00"), [CURRENT, NEXT]),
    (at("2024-12-02 09:00"), [CURRENT]),  # 2025 is there, 2024 is not
])
def test_shipped_calendar(now: datetime, codes: list[str]) -> None:
    found = calendar_warnings(load_calendar(), now)
    assert [w.code for w in found] == codes
    for w in found:
        assert str(w.year) in w.message_en and str(w.year) in w.message_zh and "README" in w.message_en


def test_calendar_without_holiday_data_claims_nothing() -> None:
    assert calendar_warnings(WorkCalendar(), at("2031-11-02 09:00")) == []


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="naive"):
        calendar_warnings(load_calendar(), datetime(2026, 11, 2, 9))


@pytest.fixture
def calendar_2027(tmp_path: Path) -> Path:
    """A calendar file that claims 2027 (a test fixture, not the State Council schedule)."""
    shipped = json.loads(DEFAULT_CALENDAR_PATH.read_text(encoding="utf-8"))
    shipped["years"] = [*shipped["years"], 2027]
    shipped["holidays"].append({"date": "2027-01-01", "name": "元旦"})
    shipped["note"] = "test fixture: 2027 is not the real schedule"
    path = tmp_path / "holidays.json"
    path.write_text(json.dumps(shipped, ensure_ascii=False), encoding="utf-8")
    return path


def test_calendar_is_read_once_per_path(calendar_2027: Path) -> None:
    assert calendar_at(str(calendar_2027)) is calendar_at(str(calendar_2027))
    assert calendar_at(str(calendar_2027)).covers(datetime(2027, 5, 1).date())
    assert not calendar_at(None).covers(datetime(2027, 5, 1).date())


def test_due_times_use_the_configured_calendar(calendar_2027: Path,  # type: ignore[no-untyped-def]
                                                settings_env) -> None:
    from server.events import time_limits

    assert time_limits.calendar().is_working_day(datetime(2027, 1, 1).date())  # shipped file: a Friday, weekends only
    settings_env(GRIDOPS_HOLIDAY_CALENDAR=str(calendar_2027))
    assert not time_limits.calendar().is_working_day(datetime(2027, 1, 1).date())


# -- /health -------------------------------------------------------------------------------------


@pytest.fixture
def health_at(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """GET /health as of a frozen moment (no database needed)."""
    from server import main
    from server.deps import get_now

    monkeypatch.setattr(main, "utcnow", lambda: at("2026-06-01 09:00"))  # the start-up check

    def get(now: datetime):  # type: ignore[no-untyped-def]
        app = main.create_app()
        app.dependency_overrides[get_now] = lambda: now
        with TestClient(app) as client:
            return client.get("/api/v1/health")

    return get


def test_health_reports_missing_next_year(health_at) -> None:  # type: ignore[no-untyped-def]
    ok = health_at(at("2026-10-31 12:00"))
    assert ok.status_code == 200 and ok.json() == {"status": "ok", "warnings": []}
    late = health_at(at("2026-11-02 09:00"))
    assert late.status_code == 200  # a warning never takes the server out of the load balancer
    assert late.json() == {"status": "ok", "warnings": [NEXT]}  # public: codes only


def test_health_with_a_calendar_that_has_next_year(health_at, settings_env, calendar_2027: Path) -> None:  # type: ignore[no-untyped-def]
    settings_env(GRIDOPS_HOLIDAY_CALENDAR=str(calendar_2027))
    assert health_at(at("2026-11-02 09:00")).json() == {"status": "ok", "warnings": []}


def test_start_up_logs_the_warning(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    from server import main

    monkeypatch.setattr(main, "utcnow", lambda: at("2026-11-02 09:00"))
    with caplog.at_level(logging.WARNING, logger="server.health"):
        main.create_app()
    assert [r.getMessage().split(":")[0] for r in caplog.records] == [NEXT]
    assert "2027" in caplog.records[0].getMessage()


def test_start_up_refuses_a_broken_calendar(tmp_path: Path, settings_env) -> None:  # type: ignore[no-untyped-def]
    from server.main import create_app

    broken = tmp_path / "broken.json"
    broken.write_text('{"holidays": ["2027-13-01"]}', encoding="utf-8")
    settings_env(GRIDOPS_HOLIDAY_CALENDAR=str(broken))
    with pytest.raises(ValueError, match="bad date '2027-13-01'"):
        create_app()


# -- gridops events calendar check ---------------------------------------------------------------


@pytest.fixture
def check(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run the command as of a frozen moment: (exit status, stdout, stderr)."""
    from server.cli import events_cmd
    from server.cli.main import main

    def run(now: datetime) -> tuple[int, str, str]:
        monkeypatch.setattr(events_cmd, "utcnow", lambda: now)
        status = main(["events", "calendar", "check"])
        out = capsys.readouterr()
        return status, out.out, out.err

    return run


def test_check_passes_before_november(check) -> None:  # type: ignore[no-untyped-def]
    status, out, err = check(at("2026-10-31 09:00"))
    assert status == 0 and "years: 2025, 2026" in out and "holidays_cn.json" in out and err == ""


def test_check_fails_when_next_year_is_missing_after_1_november(check) -> None:  # type: ignore[no-untyped-def]
    status, _, err = check(at("2026-11-02 09:00"))
    assert status == 1 and f"warning [{NEXT}]" in err and "2027" in err and "国务院办公厅" in err


def test_check_fails_when_this_year_is_missing(check) -> None:  # type: ignore[no-untyped-def]
    status, _, err = check(at("2027-03-01 09:00"))
    assert status == 1 and f"warning [{CURRENT}]" in err


def test_check_with_a_calendar_that_has_next_year(check, settings_env, calendar_2027: Path) -> None:  # type: ignore[no-untyped-def]
    settings_env(GRIDOPS_HOLIDAY_CALENDAR=str(calendar_2027))
    status, out, _ = check(at("2026-11-02 09:00"))
    assert status == 0 and str(calendar_2027) in out and "2027" in out


def test_check_of_an_unreadable_calendar(check, settings_env, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings_env(GRIDOPS_HOLIDAY_CALENDAR=str(tmp_path / "missing.json"))
    status, _, err = check(at("2026-06-01 09:00"))
    assert status == 2 and "holiday_calendar_invalid" in err
