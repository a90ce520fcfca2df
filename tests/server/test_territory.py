"""The one territory rule ends in deny: per role, and through every list endpoint of the app.

A role this version does not know, a district-wide role without a (valid) district and a street
admin without a (valid) street hold no territory: `territory()` says `nothing`, every list the app
serves is empty for them (or refused), and every role-gated endpoint refuses them. The list
endpoints are found from the app's routes, so a new one is covered the day it is added.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from server.auth.models import User
from server.territory import territory
from tests.server import territory_world as tw

AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def _user(role: str, district: str | None, street: str | None, user_id: int | None = 7) -> User:
    return User(id=user_id, username="u", full_name="u", hashed_password="x", role=role, district_code=district,
                street_code=street, is_active=True)


@pytest.mark.parametrize(("role", "district", "street", "prefix", "district_wide"), [
    ("street_admin", "440112", "440112001000", "440112001", False),
    ("street_admin", None, "440112001000", "440112001", False),  # the district follows from the street
    ("district_admin", "440112", None, "440112", True),
    ("command_center", "440112", None, "440112", True),
    ("auditor", "440112", None, "440112", True),
    ("auditor", "440112", "440112001000", "440112", True),  # a district role's street is not its scope
])
def test_area_roles_hold_a_code_prefix(role: str, district: str | None, street: str | None, prefix: str,
                                       district_wide: bool) -> None:
    t = territory(_user(role, district, street), AT)
    assert (t.prefix, t.worker_id, t.district_wide, t.everything, t.nothing) == (prefix, None, district_wide, False,
                                                                                 False)
    assert t.covers(prefix + "001") and not t.covers("440113001")


def test_a_grid_worker_holds_their_grids_not_their_street() -> None:
    t = territory(_user("grid_worker", "440112", "440112001000", user_id=42), AT)
    assert (t.worker_id, t.prefix, t.nothing) == (42, None, False)
    assert not t.covers("440112001") and not t.covers("440112001001001")  # grids are asked through grids()


def test_no_user_is_the_trusted_caller() -> None:
    t = territory(None, AT)
    assert t.everything and not t.nothing and t.covers("440113")


@pytest.mark.parametrize(("role", "district", "street", "user_id"), [
    ("mayor", "440112", "440112001000", 7),  # a role this version does not know
    ("", "440112", "440112001000", 7),
    ("District_Admin", "440112", None, 7),  # roles are exact strings
    ("district_admin ", "440112", None, 7),
    ("grid_worker", "440112", "440112001000", None),  # not saved: no assignments to ask about
    ("district_admin", None, None, 7),
    ("command_center", None, None, 7),
    ("auditor", None, None, 7),
    ("district_admin", "", None, 7),
    ("district_admin", "4401", None, 7),  # not 6 digits
    ("command_center", "440100", None, 7),  # a city, not a district
    ("auditor", "990112", None, 7),  # 99 is no province
    ("auditor", None, "440112001000", 7),  # a street does not make a district role's scope
    ("street_admin", "440112", None, 7),
    ("street_admin", "440112", "", 7),
    ("street_admin", "440112", "440112001", 7),  # 9 digits: a prefix, not a street code
    ("street_admin", "440112", "440112001001", 7),  # a community's code
    ("street_admin", "440112", "440112000000", 7),  # street part 000: the district itself
    ("street_admin", "440112", "44011200100X", 7),
    ("street_admin", "440112", "440113001000", 7),  # a street of another district than the user's
])
def test_anything_unrecognised_holds_nothing(role: str, district: str | None, street: str | None,
                                             user_id: int | None) -> None:
    t = territory(_user(role, district, street, user_id), AT)
    assert t.nothing and not t.everything and t.prefix is None and t.worker_id is None
    assert not t.covers("440112") and not t.covers("440112001001001") and not t.covers("")


# ---------------------------------------------------------------- through the API

# GET routes without path parameters that are not lists of territorial records.
NOT_LISTS = {
    "/": "redirect to the dashboard page",
    "/api/v1/dashboard/config": "the page's settings, no records",
    "/openapi.json": "the API description",
    "/docs": "the API description",
    "/docs/oauth2-redirect": "the API description",
    "/redoc": "the API description",
    "/api/v1/health": "public liveness, no records",
    "/api/v1/auth/me": "the caller's own user",
    "/api/v1/events/categories": "the category catalogue, the same for every district",
    "/api/v1/events/time-limits": "the time-limit catalogue, the same for every district",
    "/api/v1/key-persons/types": "the key-person type catalogue, the same for every district",
}
# Query parameters for list endpoints that need some (each dict is one request).
_INDICATOR_SCOPES = ["district:440112", "street:440112001", "community:440112001001", "grid:440112001001001"]
LIST_QUERY: dict[str, list[dict[str, str]]] = {
    "/api/v1/visits/per-worker-month": [{"month": "2026-11"}],
    "/api/v1/rentals/rates": [{"start": "2026-01-01T00:00:00+08:00", "group_by": g} for g in ("grid", "district")],
    "/api/v1/devices/online-rate": [{"group_by": g} for g in ("grid", "kind")]
    + [{"mode": "availability", "start": "2026-11-01T00:00:00+08:00", "group_by": "kind"}],
    "/api/v1/events/feed": [{"seconds": "0"}],
    "/api/v1/devices/feed": [{"seconds": "0", "cursor": "0"}],
    "/api/v1/events/export": [{"format": "csv"}, {"format": "xlsx"}],
    "/api/v1/rentals/records": [{}, {"status": ""}],
    "/api/v1/indicators": [{"scope": s, "period": "2026"} for s in _INDICATOR_SCOPES],
    "/api/v1/indicators/areas": [{"scope": s, "period": "2026", "level": "grid"} for s in _INDICATOR_SCOPES[:3]],
    "/api/v1/divisions/geojson": [{"level": level} for level in ("street", "community")],
}
COUNTS = {"total", "count", "devices", "numerator", "denominator", "counted"}  # numbers that count records
ITEMS = {"items", "features", "changes", "rows"}
REFUSED = {401, 403, 404}
NOT_REFUSALS = {"validation_error", "not_found", "method_not_allowed"}  # a malformed request or a wrong URL


def list_routes(app) -> list[tuple[str, Any]]:  # type: ignore[no-untyped-def]
    return [(path, route) for method, path, route in tw.api_routes(app)
            if method == "GET" and not tw.path_params(path) and path not in NOT_LISTS]


def _numbers(obj: Any, key: str = "") -> list[tuple[str, float]]:
    if isinstance(obj, dict):
        return [n for k, v in obj.items() for n in _numbers(v, k)]
    if isinstance(obj, list):
        return [n for v in obj for n in _numbers(v, key)]
    if isinstance(obj, (int, float)) and not isinstance(obj, bool) and key in COUNTS:
        return [(key, obj)]
    return []


def _lists(obj: Any, key: str = "") -> list[str]:
    """Where the body lists records: a non-empty top-level list or `items`-like list (rows of counts,
    whose "total" row is always there, are judged by their numbers)."""
    out = []
    if isinstance(obj, list):
        records = [v for v in obj if not (isinstance(v, dict) and v.get("key") == "total")]
        if records and key in ITEMS | {""}:
            out.append(key or "<top>")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            out += _lists(v, k) if isinstance(v, list) else []
    return out


def shows_nothing(world: tw.World, username: str, r) -> str | None:  # type: ignore[no-untyped-def]
    """None if the response shows no record (or refuses); else what it shows."""
    if r.status_code >= 500:
        return f"{r.status_code}: {r.text[:300]}"
    if r.status_code in REFUSED:
        code = r.json()["error"]["code"]
        return f"{r.status_code} {code}: not a refusal" if code in NOT_REFUSALS else None
    if r.status_code != 200:
        return f"{r.status_code}: {r.text[:300]}"
    if leaked := tw.leaks(world, username, r.content):
        return f"shows {leaked[:6]}"
    if r.headers.get("content-type", "").startswith("application/json"):
        body = r.json()
        if lists := _lists(body):
            return f"lists records under {lists}: {json.dumps(body, ensure_ascii=False)[:300]}"
        if counts := [(k, v) for k, v in _numbers(body) if v]:
            return f"counts records {counts[:6]}"
    return None


@pytest.fixture
def world(db_session) -> tw.World:  # type: ignore[no-untyped-def]
    return tw.build(db_session)


def test_every_list_endpoint_is_classified(app) -> None:  # type: ignore[no-untyped-def]
    routes = list_routes(app)
    assert len(routes) >= 20, [p for p, _ in routes]
    needs = {path: set(tw.required_query(route)) for path, route in routes}
    missing = {p: sorted(n - set(LIST_QUERY.get(p, [{}])[0])) for p, n in needs.items()
               if n - set(LIST_QUERY.get(p, [{}])[0])}
    assert not missing, f"give these list endpoints their required query parameters in LIST_QUERY: {missing}"
    assert not set(LIST_QUERY) - {p for p, _ in routes}, "LIST_QUERY names endpoints that are gone"


def test_nobody_sees_anything_in_any_list(client, app, world: tw.World) -> None:  # type: ignore[no-untyped-def]
    failures, attempts = [], 0
    for path, _ in list_routes(app):
        for params in LIST_QUERY.get(path, [{}]):
            for name in tw.nobody_names():
                attempts += 1
                r = client.get(path, params=params, headers=tw.headers(world, name))
                if problem := shows_nothing(world, name, r):
                    failures.append(f"{name} GET {path} {params}: {problem}")
    print(f"{attempts} list requests by users without a territory, {attempts - len(failures)} showed nothing")
    assert not failures, "\n".join(failures)


def test_the_same_lists_show_records_to_their_district(client, app, world: tw.World) -> None:  # type: ignore[no-untyped-def]
    """The control: the lists above are not empty for everyone, so their emptiness means something."""
    for admin, scope in (("adm-district", "440112"), ("adm-panyu", "440113")):
        seen = ""
        for path, _ in list_routes(app):
            for params in LIST_QUERY.get(path, [{}]):
                params = {k: v.replace("440112", scope) for k, v in params.items()}
                r = client.get(path, params=params, headers=tw.headers(world, admin))
                assert r.status_code == 200, f"GET {path} {params}: {r.status_code} {r.text[:300]}"
                seen += tw.as_text(r.content)
        for tag in tw.SEES[admin]:
            assert [m for m in world.markers[tag] if m not in seen] == [], (admin, tag)


DUMMY = {"code": "440112001001001", "uuid": str(uuid.uuid4()), "sha256": "0" * 64, "rental_id": "1",
         "tenant_id": "1", "record_id": "1", "report_id": "1", "category_code": "sanitation", "step": "accept",
         "user_id": "1", "person_id": "1", "month": "2026-10", "period": "2026-10"}


def test_role_gated_endpoints_refuse_users_without_a_territory(client, app, world: tw.World) -> None:  # type: ignore[no-untyped-def]
    """A district_admin without a district passes a role check by its role string alone, unless the
    check asks the territory too: it must, or such a user edits catalogues, imports and users."""
    gated = [(m, p) for m, p, route in tw.api_routes(app) if tw.role_gated(route)]
    assert len(gated) >= 25
    failures = []
    for method, path in gated:
        url = path.format(**{k: DUMMY[k] for k in tw.path_params(path)})
        for name in tw.nobody_names():
            r = client.request(method, url, headers=tw.headers(world, name))
            if r.status_code != 403 or r.json()["error"]["code"] not in ("role_forbidden", "no_territory"):
                failures.append(f"{name} {method} {path}: {r.status_code} {r.text[:200]}")
    assert not failures, "\n".join(failures)


def test_photos_follow_the_event_they_were_attached_to(client, world: tw.World) -> None:  # type: ignore[no-untyped-def]
    """A photo attached on a transition (the worker's "handled" proof) is read by whoever sees the
    event, and by no one else; a hash seen elsewhere is no right to attach it."""
    event = world.places["A"].event
    for body in ({"to_state": "accepted"}, {"to_state": "dispatched", "dispatched_to": "城管"}):
        assert client.post(f"/api/v1/events/{event}/transitions", json=body,
                           headers=tw.headers(world, "adm-street1")).status_code == 200
    proof = client.post("/api/v1/photos", files={"file": ("p.jpg", tw.jpeg((1, 2, 3)), "image/jpeg")},
                        headers=tw.headers(world, "wkrA")).json()["sha256"]
    foreign = world.places["B"].photos[0]
    refused = client.post(f"/api/v1/events/{event}/transitions", json={"to_state": "handled", "photos": [foreign]},
                          headers=tw.headers(world, "wkrA"))
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "photo_not_uploaded"
    handled = client.post(f"/api/v1/events/{event}/transitions", json={"to_state": "handled", "photos": [proof]},
                          headers=tw.headers(world, "wkrA"))
    assert handled.status_code == 200, handled.text
    for who, status in (("wkrA", 200), ("adm-street1", 200), ("aud-district", 200), ("wkrB", 404),
                        ("adm-street2", 404), ("adm-panyu", 404), ("nobody-admin", 404)):
        assert client.get(f"/api/v1/photos/{proof}", headers=tw.headers(world, who)).status_code == status, who
