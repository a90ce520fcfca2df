"""Unbounded and malformed input is a 4xx with a stable code, never a 500 (issue: a fuzzer's seven
server errors): pages, cursors and ids past the database's integers, datetimes without a UTC, passwords bcrypt
cannot hash, control characters in text, and an export that such text once broke for everyone."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import update

from server.events.models import Event
from server.inputs import MAX_ID, ApiDate, ApiDatetime, Line, Text
from tests import factories

HUGE = "1180591620717411303424"  # 2^70, what the fuzzer sent
OVER_64_BITS = str(2**70)
NO_UTC = ["0001-01-01T12:00:00+14:00", "9999-12-31T23:59:59-14:00"]  # UTC would be year 0 / year 10000
LISTS = ["/api/v1/events", "/api/v1/grids", "/api/v1/grids/geojson", "/api/v1/visits", "/api/v1/devices",
         "/api/v1/devices/dead-letters", "/api/v1/rentals", "/api/v1/rentals/tenants", "/api/v1/rentals/pii-log"]


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    return factories.event_world(db_session)


def _h(world, who: str = "admin") -> dict[str, str]:  # type: ignore[no-untyped-def]
    return factories.auth_headers(world["users"][who])


def _refused(response, code: str = "validation_error", status: int = 422) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text


# --- numbers -------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("param", ["page", "page_size"])
def test_page_past_what_an_offset_holds_is_422(client, world, path: str, param: str) -> None:  # type: ignore[no-untyped-def]
    _refused(client.get(path, params={param: HUGE}, headers=_h(world)))


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/rentals/pii-log", "/api/v1/devices/dead-letters"])
def test_last_allowed_page_is_an_empty_page(client, world, path: str) -> None:  # type: ignore[no-untyped-def]
    from server.inputs import MAX_PAGE, MAX_PAGE_SIZE

    r = client.get(path, params={"page": MAX_PAGE, "page_size": MAX_PAGE_SIZE}, headers=_h(world))
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", ["/api/v1/events/changes", "/api/v1/events/feed"])
def test_cursor_past_the_id_column_is_422(client, world, path: str) -> None:  # type: ignore[no-untyped-def]
    for cursor in (HUGE, MAX_ID + 1):
        _refused(client.get(path, params={"cursor": cursor, "seconds": 0}, headers=_h(world)))


def test_largest_cursor_is_answered(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/v1/events/changes", params={"cursor": MAX_ID}, headers=_h(world))
    assert r.status_code == 200 and r.json()["changes"] == []


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/v1/rentals/{id}"), ("post", "/api/v1/rentals/{id}/managed"), ("get", "/api/v1/rentals/tenants/{id}"),
    ("get", "/api/v1/rentals/tenants/{id}/pii"), ("post", "/api/v1/rentals/tenants/{id}/deregister"),
    ("post", "/api/v1/rentals/records/{id}/reject"), ("get", "/api/v1/reports/weekly/{id}.docx"),
    ("get", "/api/v1/rentals/tenants?rental_id={id}"),
])
def test_ids_past_the_id_column_are_422_and_the_largest_is_404(client, world, method: str, path: str) -> None:  # type: ignore[no-untyped-def]
    kwargs = {"json": {}} if method == "post" else {}
    for too_large in (OVER_64_BITS, MAX_ID + 1):
        _refused(client.request(method, path.format(id=too_large), headers=_h(world), **kwargs))
    r = client.request(method, path.format(id=MAX_ID), headers=_h(world), **kwargs)
    assert r.status_code in (200, 404), r.text  # 200: the tenant list filtered by a rental that does not exist


# --- datetimes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", NO_UTC + ["1969-07-20T20:17:00Z", "2100-01-01T00:00:00Z"])
def test_api_datetime_refuses_what_has_no_utc_or_is_absurd(value: str) -> None:
    with pytest.raises(ValidationError) as err:
        TypeAdapter(ApiDatetime).validate_python(value)
    assert err.value.errors()[0]["type"] == "datetime_out_of_range"


def test_api_datetime_keeps_the_offset_it_was_given() -> None:
    assert TypeAdapter(ApiDatetime).validate_python("2026-11-20T10:00:00+08:00").utcoffset().total_seconds() == 28800
    assert TypeAdapter(ApiDate).validate_python("2026-11-20") == date(2026, 11, 20)
    with pytest.raises(ValidationError):
        TypeAdapter(ApiDate).validate_python("0001-01-01")


@pytest.mark.parametrize("value", NO_UTC)
def test_visit_times_without_utc_are_422(client, world, value: str) -> None:  # type: ignore[no-untyped-def]
    c = factories.gk_square(0, 0).centroid
    body = {"uuid": "6f1c1d5e-8a7b-4c59-9d84-3a2b1c0d9e8f", "started_at": value, "ended_at": value, "datum": "cgcs2000",
            "points": [{"lon": c.x, "lat": c.y}]}
    _refused(client.post("/api/v1/visits", json=body, headers=_h(world, "worker_a")), "datetime_out_of_range")


@pytest.mark.parametrize(("path", "params"), [
    ("/api/v1/events", {"reported_from": NO_UTC[0]}), ("/api/v1/visits", {"started_to": NO_UTC[1]}),
    ("/api/v1/devices/online-rate", {"at": NO_UTC[0]}),
    ("/api/v1/devices/online-rate", {"mode": "availability", "start": NO_UTC[0]}),
    ("/api/v1/rentals/rates", {"start": NO_UTC[1]}),
])
def test_query_times_without_utc_are_422(client, world, path: str, params: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    _refused(client.get(path, params=params, headers=_h(world)), "datetime_out_of_range")


def test_query_times_need_an_offset(client, world) -> None:  # type: ignore[no-untyped-def]
    """A naive time reached the UTC column type and failed there (500); now it is refused up front."""
    _refused(client.get("/api/v1/events", params={"reported_from": "2026-01-01T00:00:00"}, headers=_h(world)))


@pytest.mark.parametrize(("method", "path", "kwargs"), [
    ("post", "/api/v1/reports/weekly", {"params": {"week": "0001-01-01"}}),
    ("post", "/api/v1/rentals", {"json": {"address": "a", "landlord_name": "b", "managed_at": "9999-12-31"}}),
    ("post", "/api/v1/devices", {"json": {"code": "X1", "name": "n", "kind": "link", "installed_at": "0001-01-01"}}),
    ("post", "/api/v1/trainings", {"json": {"title": "t", "held_at": NO_UTC[0], "attendees": 3}}),
])
def test_dates_in_bodies_and_queries_are_bounded(client, world, method, path, kwargs) -> None:  # type: ignore[no-untyped-def]
    r = client.request(method, path, headers=_h(world), **kwargs)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("period", ["0001", "0001-01", "0001-W01", "9999-W52", "9999-12-31..9999-12-31", "1999"])
def test_periods_outside_the_supported_years_are_bad_period(client, world, period: str) -> None:  # type: ignore[no-untyped-def]
    _refused(client.get("/api/v1/indicators", params={"scope": "district:440112", "period": period},
                        headers=_h(world)), "bad_period")


@pytest.mark.parametrize("month", ["0001-01", "9999-12"])
def test_months_outside_the_supported_years_are_bad_month(client, world, month: str) -> None:  # type: ignore[no-untyped-def]
    _refused(client.get("/api/v1/visits/per-worker-month", params={"month": month}, headers=_h(world)), "bad_month")


# --- passwords -----------------------------------------------------------------------------------

def _user(password: str) -> dict[str, str]:
    return {"username": "newuser", "full_name": "新用户", "password": password, "role": "auditor",
            "district_code": "440112"}


def test_password_over_72_bytes_is_refused_though_under_128_characters(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/auth/users", json=_user("密" * 25), headers=_h(world))  # 25 characters, 75 bytes
    _refused(r, "password_too_long")
    assert r.json()["error"]["detail"][0]["loc"] == ["body", "password"]


def test_password_of_72_bytes_hashes_and_logs_in(client, world) -> None:  # type: ignore[no-untyped-def]
    password = "网格化管理平台的密码可以用汉字写成共二十四个字吧"  # 24 characters, 72 bytes
    assert client.post("/api/v1/auth/users", json=_user(password), headers=_h(world)).status_code == 201
    r = client.post("/api/v1/auth/token", data={"username": "newuser", "password": password})
    assert r.status_code == 200, r.text


def test_login_with_a_long_password_or_a_nul_is_a_failed_login(client, world) -> None:  # type: ignore[no-untyped-def]
    admin = world["users"]["admin"].username
    for form in ({"username": admin, "password": "x" * 200}, {"username": admin + "\x00", "password": "x"}):
        _refused(client.post("/api/v1/auth/token", data=form), "login_failed", 401)


# --- control characters --------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["a\x00b", "a\x1bb", "a\x7fb", "a\x85b", "a\ud800b"])
def test_text_refuses_control_characters(text: str) -> None:
    for kind in (Line, Text):
        with pytest.raises(ValidationError) as err:
            TypeAdapter(kind).validate_python(text)
        assert err.value.errors()[0]["type"] == "control_characters"


def test_text_keeps_tab_and_line_breaks_lines_do_not() -> None:
    assert TypeAdapter(Text).validate_python("第一行\r\n第二行\t完") == "第一行\r\n第二行\t完"
    with pytest.raises(ValidationError):
        TypeAdapter(Line).validate_python("黄埔东路\n1号")


def test_event_with_control_characters_is_refused(client, world) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/v1/events", json=factories.event_body(description="\x00\x01\x1b"), headers=_h(world, "worker_a"))
    _refused(r, "control_characters")
    assert r.json()["error"]["detail"][0]["loc"] == ["body", "description"]
    multiline = factories.event_body(description="楼下垃圾堆放\n已两天")
    assert client.post("/api/v1/events", json=multiline, headers=_h(world, "worker_a")).status_code == 201


def test_lone_surrogate_in_json_is_refused(client, world) -> None:  # type: ignore[no-untyped-def]
    import json

    body = json.dumps(factories.event_body(address="a\ud800"))  # ASCII JSON with the escape \ud800
    r = client.post("/api/v1/events", content=body, headers={**_h(world, "worker_a"), "Content-Type": "application/json"})
    _refused(r, "control_characters")


@pytest.mark.parametrize("url", ["/api/v1/grids?q=%00", "/api/v1/grids/4401120010%00", "/api/v1/devices?q=a%1Bb",
                                 "/api/v1/events/abc%00"])
def test_control_characters_in_path_and_query_are_refused(client, world, url: str) -> None:  # type: ignore[no-untyped-def]
    _refused(client.get(url, headers=_h(world)), "control_characters")


def test_a_stored_control_character_no_longer_breaks_the_xlsx_export(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    """Rows stored before the input rule (or written around the API) still export; the characters are dropped."""
    r = client.post("/api/v1/events", json=factories.event_body(), headers=_h(world, "worker_a"))
    assert r.status_code == 201
    db_session.execute(update(Event).where(Event.uuid == r.json()["uuid"])
                       .values(description="占道\x01经营\x1b[31m", address="黄埔\x0b东路")
                       .execution_options(unrolled=True))  # nothing is rolled up here
    db_session.flush()
    export = client.get("/api/v1/events/export", params={"format": "xlsx"}, headers=_h(world, "street1"))
    assert export.status_code == 200, export.text
    sheet = load_workbook(io.BytesIO(export.content)).active
    row = [c.value for c in sheet[2]]
    assert "占道经营[31m" in row and "黄埔东路" in row
    csv = client.get("/api/v1/events/export", params={"format": "csv"}, headers=_h(world, "street1"))
    assert csv.status_code == 200 and "占道\x01经营" in csv.content.decode("utf-8-sig")  # CSV holds them as they are

