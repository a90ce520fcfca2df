"""Authorisation matrix: every endpoint × every role × a record outside that role's territory.

The world (tests/server/territory_world.py) has every kind of record in grids A and B (street 1),
C (street 2) and D (another district). Each route of the app is walked: its path parameters take
the identifier of a record of the matching kind in a place foreign to the caller (a grid worker of
A tries B, C and D; the street-1 admin C and D; district roles D; users without a territory A),
`scope` takes the areas holding that place, creation endpoints place the new record there, and
bodies refer to foreign records from the caller's own ones. Every attempt must be refused:
401/403/404 (or 409 for a replayed uuid), answered exactly as for an identifier that does not
exist (no oracle), or, for lists, 200 without any foreign record in the body; never 5xx.

A route that is neither exercised nor in EXEMPT (with the reason) fails the test: a new endpoint
is classified the day it is added.
"""

from __future__ import annotations

import csv
import io
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from gis.shapefile_io import GridFeature, write_grids
from tests import factories
from tests.conftest import NOW
from tests.server import territory_world as tw

EXEMPT: dict[tuple[str, str], str] = {
    ("GET", "/"): "redirect to the dashboard page (static files, public; its data comes from the API)",
    ("GET", "/api/v1/dashboard/config"): "the page's settings (basemap, server date): no records",
    ("GET", "/openapi.json"): "the API description, public",
    ("GET", "/docs"): "the API description, public",
    ("GET", "/docs/oauth2-redirect"): "the API description, public",
    ("GET", "/redoc"): "the API description, public",
    ("GET", "/api/v1/health"): "public liveness, no records",
    ("POST", "/api/v1/auth/token"): "login: no token yet",
    ("GET", "/api/v1/auth/me"): "the caller's own user",
    ("POST", "/api/v1/auth/password"): "the caller's own password",
    ("GET", "/api/v1/auth/password-policy"): "the password rules, the same for everyone",
    ("GET", "/api/v1/events/categories"): "the category catalogue, the same for every district",
    ("PUT", "/api/v1/events/categories/{code}"): "the catalogue, district_admin only (test_territory), no territory",
    ("GET", "/api/v1/events/time-limits"): "the time-limit catalogue, the same for every district",
    ("PUT", "/api/v1/events/time-limits/{category_code}/{step}"): "the catalogue, district_admin only, no territory",
    ("POST", "/api/v1/photos"): "uploading bytes one holds: the answer (hash, size, EXIF) is read from them",
    ("POST", "/api/v1/reports/weekly"): "produces the caller's own district's report: nothing foreign to name",
    ("POST", "/api/v1/rentals/sync-cards"): "the card-sync job over every controller (cron's), district_admin only",
    ("POST", "/api/v1/app/sessions"): "records the caller's own use of the mobile app: names no record",
    ("POST", "/api/v1/auth/password"): "the caller's own password, given the current one: names no record",
    ("GET", "/api/v1/key-persons/types"): "the key-person type catalogue, the same for every district",
}
# Users without a territory: one per role string (malformed codes are test_territory's, through every
# list and every role-gated route).
NOBODIES = ["nobody-mayor", "nobody-admin", "nobody-command", "nobody-auditor", "nobody-street",
            "nobody-street-elsewhere"]
ACTORS: dict[str, list[str]] = {  # who tries, and the places foreign to them they try
    "wkrA": ["B", "C", "D"], "adm-street1": ["C", "D"],
    "adm-district": ["D"], "cmd-district": ["D"], "aud-district": ["D"],
    **{name: ["A"] for name in NOBODIES},
}
OWN = {"wkrA": "A", "adm-street1": "A", "adm-district": "A", "cmd-district": "A", "aud-district": "A"}
# The nine holes of the issue's probe (all as a grid worker): indicators and drill-down of another grid
# of the worker's street, photos by hash, the district's weekly reports.
ISSUE_HOLES = [
    ("GET", "/api/v1/indicators", "scope=grid:440112001001002"),
    ("GET", "/api/v1/indicators/{code}", "scope=grid:440112001001002"),
    ("GET", "/api/v1/indicators/{code}/series", "scope=grid:440112001001002"),
    ("GET", "/api/v1/indicators/{code}/drilldown", "scope=grid:440112001001002"),
    ("GET", "/api/v1/indicators/areas", "scope=street:440112001"),
    ("GET", "/api/v1/photos/{sha256}", "event photo"),
    ("GET", "/api/v1/photos/{sha256}", "visit photo"),
    ("GET", "/api/v1/reports/weekly", ""),
    ("GET", "/api/v1/reports/weekly/{report_id}.docx", ""),
]
NOT_REFUSALS = {"validation_error", "not_found", "method_not_allowed"}  # a malformed request, a wrong URL


@dataclass
class Attempt:
    method: str
    route: str  # the path template
    actor: str
    place: str
    label: str
    url: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    absent: tuple[str, dict[str, Any]] | None = None  # the same request naming a record that does not exist
    expect: str = "refused"  # refused | empty (a list) | replay (409 on a uuid already used)


# ---------------------------------------------------------------- identifiers of a place's records

def ids(world: tw.World, place: str, kind: str) -> list[tuple[str, str]]:
    """(label, identifier) of the place's records of a kind."""
    p = world.places[place]
    report = world.reports["R2" if place == "D" else "R1"]
    return {
        "grid": [("", p.grid)], "event": [("", p.event)], "visit": [("", p.visit)], "device": [("", p.device)],
        "rental": [("", str(p.rental))], "record": [("", str(p.record))], "report": [("", str(report))],
        "tenant": [("registered tenant", str(p.tenant)), ("pending tenant", str(p.pending_tenant))],
        "photo": [("event photo", p.photos[0]), ("visit photo", p.photos[1])],
        "indicator": [("", "closure_rate")], "user": [("the place's worker", str(p.worker.id))],
        "community": [("", p.grid[:12])], "key_person": [("", str(p.key_person))],
        "month": [("", "2026-10")],  # a month names no record: the scope (or the body) carries the place
    }[kind]


ABSENT = {"grid": lambda v: v[:12] + "099", "event": lambda v: str(uuid.UUID(int=1)),
          "visit": lambda v: str(uuid.UUID(int=2)), "device": lambda v: "DOOR-Z", "rental": lambda v: "999999",
          "tenant": lambda v: "999999", "record": lambda v: "999999", "report": lambda v: "999999",
          "photo": lambda v: "f" * 64, "indicator": lambda v: v, "user": lambda v: "999999",
          "community": lambda v: v[:9] + "099", "key_person": lambda v: "999999",
          "month": lambda v: v}


def kind_of(path: str, param: str) -> str:
    by_name = {"sha256": "photo", "rental_id": "rental", "tenant_id": "tenant", "record_id": "record",
               "report_id": "report", "user_id": "user", "person_id": "key_person", "month": "month", "period": "month"}
    by_prefix = {("code", "/api/v1/grids/"): "grid", ("code", "/api/v1/devices/"): "device",
                 ("code", "/api/v1/indicators/"): "indicator", ("uuid", "/api/v1/events/"): "event",
                 ("code", "/api/v1/communities/"): "community",
                 ("uuid", "/api/v1/visits/"): "visit"}
    for (name, prefix), kind in by_prefix.items():
        if param == name and path.startswith(prefix):
            return kind
    if param in by_name:
        return by_name[param]
    raise AssertionError(f"classify path parameter {param} of {path} (a kind in ids(), or EXEMPT)")


def absent_scope(scope: str) -> str:
    level, code = scope.split(":")
    return f"{level}:" + {"grid": code[:12] + "099", "community": code[:9] + "099", "street": code[:6] + "099",
                          "district": code[:4] + "99"}[level]


# ---------------------------------------------------------------- request bodies

def _at(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).isoformat()


def tenant_body(world: tw.World, place: str, actor: str) -> dict[str, Any]:
    return {"json": {"name": "新租客", "id_number": tw.id_number("44010619900202" + f"{len(actor):03d}")}}


# Bodies of routes with path parameters: (world, place, actor) → request keyword arguments.
BODIES: dict[tuple[str, str], Callable[[tw.World, str, str], dict[str, Any]]] = {
    ("POST", "/api/v1/grids/{code}/retire"): lambda w, p, a: {"json": {}},
    ("POST", "/api/v1/grids/{code}/workers"): lambda w, p, a: {"json": {"username": "wkrA"}},
    ("POST", "/api/v1/events/{uuid}/transitions"): lambda w, p, a: {"json": {"to_state": "accepted"}},
    ("PATCH", "/api/v1/events/{uuid}/dispute"): lambda w, p, a: {"json": {"replied_at": _at(-1)}},
    ("POST", "/api/v1/events/{uuid}/photos"): lambda w, p, a: {"json": {"photos": [w.places[OWN.get(a, "A")].photos[0]]}},
    ("PATCH", "/api/v1/devices/{code}"): lambda w, p, a: {"json": {"name": "改名"}},
    ("POST", "/api/v1/devices/{code}/retire"): lambda w, p, a: {"json": {}},
    ("POST", "/api/v1/devices/{code}/maintenance"): lambda w, p, a: {
        "json": {"start_at": _at(1), "end_at": _at(2), "reason": "检修"}},
    ("POST", "/api/v1/rentals/{rental_id}/managed"): lambda w, p, a: {"json": {"managed": True}},
    ("PATCH", "/api/v1/communities/{code}"): lambda w, p, a: {"json": {"name": "改名社区"}},
    ("POST", "/api/v1/communities/{code}/retire"): lambda w, p, a: {},
    ("POST", "/api/v1/rentals/{rental_id}/access-controllers"): lambda w, p, a: {"json": {"device_code": "DOOR-A"}},
    ("POST", "/api/v1/rentals/{rental_id}/tenants"): tenant_body,
    ("POST", "/api/v1/rentals/tenants/{tenant_id}/register"): tenant_body,
    ("POST", "/api/v1/key-persons/{person_id}/updates"): lambda w, p, a: {
        "json": {"uuid": str(uuid.uuid4()), "at": _at(-1), "note": "走访"}},
    ("POST", "/api/v1/key-persons/{person_id}/remove"): lambda w, p, a: {"json": {"reason": "迁出"}},
    ("POST", "/api/v1/assessment/{month}/adjustments"): lambda w, p, a: {"json": {
        "username": w.places[p].worker.username, "item_code": "commendation", "reason": "表扬"}},
    ("POST", "/api/v1/assessment/{month}/corrections"): lambda w, p, a: {"json": {"reason": "更正"}},
    ("POST", "/api/v1/assessment/{period}/pay"): lambda w, p, a: {"json": {"pool": "1000.00", "draft": True}},
}
# Query parameters: every request of the route, or per place for filters naming foreign records.
QUERY: dict[str, dict[str, str]] = {
    "/api/v1/visits/per-worker-month": {"month": "2026-11"},
    "/api/v1/rentals/rates": {"start": "2026-01-01T00:00:00+08:00", "group_by": "grid"},
    "/api/v1/devices/online-rate": {"group_by": "grid"},
    "/api/v1/events/feed": {"seconds": "0"},
    "/api/v1/devices/feed": {"seconds": "0", "cursor": "0"},
    "/api/v1/events/export": {"format": "csv"},
    "/api/v1/rentals/records": {"status": ""},
    "/api/v1/indicators/areas": {"period": "2026", "level": "grid"},
    "/api/v1/indicators": {"period": "2026"},
    "/api/v1/indicators/{code}": {"period": "2026"},
    "/api/v1/indicators/{code}/series": {"period": "2026-Q4"},
    "/api/v1/indicators/{code}/drilldown": {"period": "2026"},
    "/api/v1/divisions/geojson": {"level": "community"},
}
FILTERS: dict[str, Callable[[tw.Place], list[dict[str, str]]]] = {
    "/api/v1/events": lambda p: [{"grid_code": p.grid}, {"street_code": p.street}],
    "/api/v1/events/export": lambda p: [{"format": "xlsx", "grid_code": p.grid}],
    "/api/v1/grids": lambda p: [{"street_code": p.street, "geometry": "true"}],
    "/api/v1/devices": lambda p: [{"grid_code": p.grid}, {"q": p.device}],
    "/api/v1/devices/dead-letters": lambda p: [{"device_code": p.device}],
    "/api/v1/rentals": lambda p: [{"grid_code": p.grid}],
    "/api/v1/rentals/tenants": lambda p: [{"rental_id": str(p.rental)}],
    "/api/v1/visits": lambda p: [{"worker": p.worker.username}],
    "/api/v1/communities": lambda p: [{"street_code": p.street}],
    "/api/v1/divisions/geojson": lambda p: [{"level": level, "street_code": p.street} for level in ("street", "community")],
    "/api/v1/key-persons": lambda p: [{"grid_code": p.grid}, {"removed": "true"}],
}


def _grid_zip(place: tw.Place, n: int) -> bytes:
    import tempfile

    code = f"{place.grid[:12]}0{n:02d}"
    feature = GridFeature(code, "新网格", code[:12], "综合网格", factories.gk_square(20 + n, 20), {})
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_grids(Path(tmp) / "g.shp", [feature], epsg=4490)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            for path in paths:
                zf.write(path, path.name)
    return buf.getvalue()


def _device_csv(place: tw.Place, code: str) -> bytes:
    buf = io.StringIO()
    lon, lat = tw.centre(place.cell)
    csv.writer(buf).writerows([["设备编码", "设备名称", "设备类型", "经度", "纬度"],
                               [code, "新门禁", "门禁", lon, lat]])
    return buf.getvalue().encode("utf-8-sig")


def _roster_csv(place: tw.Place, n: int) -> bytes:
    rows = [["姓名", "手机号", "角色", "街道", "网格"], ["新网格员", f"139{n:08d}", "网格员", place.street, place.grid]]
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode("utf-8")


def _rental_csv(place: tw.Place, n: int) -> bytes:
    lon, lat = tw.centre(place.cell)
    return f"地址,房东姓名,经度,纬度\n新台账出租屋{n}号,李,{lon},{lat}\n".encode("utf-8-sig")


DECLARATION = Path(__file__).resolve().parents[1] / "metrics" / "data" / "seed_003.xlsx"


def _table(scope: str) -> dict[str, Any]:
    """The budget office's table of an area, from a real declaration."""
    return {"data": {"year": "2026", "scope": scope},
            "files": {"declaration": ("绩效目标表.xlsx", DECLARATION.read_bytes(), "application/octet-stream")}}


def creations(world: tw.World, place: str, actor: str, n: int) -> dict[tuple[str, str], list[tuple[str, dict, Any]]]:
    """Routes without path parameters that post: (label, request, request naming nothing) per attempt."""
    p = world.places[place]
    lon, lat = tw.centre(p.cell)
    own = factories.event_body(factories.gk_square(0, 0))
    visit = {"uuid": str(uuid.uuid4()), "started_at": _at(-3), "ended_at": _at(-2), "datum": "cgcs2000",
             "points": [{"lon": lon, "lat": lat}]}
    return {
        ("POST", "/api/v1/auth/users"): [("user in the place's street", {"json": {
            "username": f"new-{n}", "full_name": "新用户", "password": factories.PASSWORD, "role": "grid_worker",
            "district_code": p.street[:6], "street_code": p.street}}, None)],
        ("POST", "/api/v1/users/import"): [("roster row in the place's street and grid", {
            "files": {"file": ("花名册.csv", _roster_csv(p, n), "text/csv")}, "params": {"dry_run": "false"}}, None)],
        ("POST", "/api/v1/grids/import"): [("grid in the place's community", {
            "files": {"file": ("g.zip", _grid_zip(p, n % 90), "application/zip")}}, None)],
        ("POST", "/api/v1/events"): [
            ("replay of the place's event uuid", {"json": {**own, "uuid": p.event}}, "replay"),
            ("own report with the place's photo", {"json": {**own, "photos": [p.photos[0]]}},
             {"json": {**own, "uuid": str(uuid.uuid4()), "photos": ["f" * 64]}})],
        ("POST", "/api/v1/visits"): [
            ("replay of the place's visit uuid", {"json": {**visit, "uuid": p.visit}}, "replay"),
            ("own visit with the place's photo", {"json": {**visit, "photos": [p.photos[1]]}},
             {"json": {**visit, "uuid": str(uuid.uuid4()), "photos": ["f" * 64]}})],
        ("POST", "/api/v1/devices"): [("device placed in the place", {"json": {
            "code": f"NEW-{n}", "name": "新设备", "kind": "camera", "lon": lon, "lat": lat}}, None)],
        ("POST", "/api/v1/devices/import"): [("device row placed in the place", {
            "files": {"file": ("d.csv", _device_csv(p, f"IMP-{n}"), "text/csv")}}, None)],
        ("POST", "/api/v1/rentals"): [("rental placed in the place", {"json": {
            "address": f"新出租屋{n}", "landlord_name": "李", "lon": lon, "lat": lat}}, None)],
        ("POST", "/api/v1/rentals/import"): [("ledger row placed in the place", {
            "params": {"dry_run": "false"}, "files": {"rentals": ("r.csv", _rental_csv(p, n), "text/csv")}}, None)],
        ("POST", "/api/v1/communities"): [("community in the place's street", {"json": {
            "code": f"{p.grid[:9]}{50 + n % 40:03d}", "name": "新社区"}}, None)],
        ("POST", "/api/v1/trainings"): [("training of the place's street", {"json": {
            "title": "培训", "held_at": _at(-5), "attendees": 3, "street_code": p.street}}, None)],
        ("POST", "/api/v1/key-persons"): [
            ("key person in the place's grid", {"json": {"type_code": "other", "name": "新人", "grid_code": p.grid}},
             None),
            ("key person at the place's rental", {"json": {"type_code": "other", "name": "新人",
                                                           "rental_id": p.rental}},
             {"json": {"type_code": "other", "name": "新人", "rental_id": 999999}})],
        **{("POST", f"/api/v1/indicators/{table}"): [
            (f"table of scope={scope}", _table(scope), _table(absent_scope(scope))) for scope in tw.scopes_of(place)]
           for table in ("self-evaluation", "monitoring")},
    }


def references(world: tw.World, place: str, actor: str) -> list[tuple[str, str, str, str, dict, dict | None]]:
    """Requests on the caller's own records whose body names one of the place's:
    (method, route, url, label, request, the same request naming nothing that exists)."""
    p, own = world.places[place], world.places[OWN[actor]]
    lon, lat = tw.centre(p.cell)
    transitions, event_url = "/api/v1/events/{uuid}/transitions", f"/api/v1/events/{own.event}/transitions"
    return [
        ("POST", transitions, event_url, "merge own event into the place's",
         {"json": {"to_state": "merged", "merged_into": p.event}},
         {"json": {"to_state": "merged", "merged_into": str(uuid.UUID(int=3))}}),
        ("POST", transitions, event_url, "the place's photo on own event",
         {"json": {"to_state": "accepted", "photos": [p.photos[0]]}},
         {"json": {"to_state": "accepted", "photos": ["f" * 64]}}),
        ("POST", "/api/v1/events/{uuid}/photos", f"/api/v1/events/{own.event}/photos",
         "the place's photo added to own event", {"json": {"photos": [p.photos[0]]}},
         {"json": {"photos": ["f" * 64]}}),
        ("POST", "/api/v1/grids/{code}/workers", f"/api/v1/grids/{own.grid}/workers", "the place's worker on own grid",
         {"json": {"username": p.worker.username}}, {"json": {"username": "nobody-at-all"}}),
        ("POST", "/api/v1/rentals/{rental_id}/access-controllers", f"/api/v1/rentals/{own.rental}/access-controllers",
         "the place's controller on own rental", {"json": {"device_code": p.device}},
         {"json": {"device_code": "DOOR-Z"}}),
        ("PATCH", "/api/v1/devices/{code}", f"/api/v1/devices/{own.device}", "own device moved into the place",
         {"json": {"lon": lon, "lat": lat}}, None),
        ("POST", "/api/v1/grids/{code}/retire", f"/api/v1/grids/{own.grid}/retire", "own grid replaced by the place's",
         {"json": {"replaced_by_code": p.grid}}, {"json": {"replaced_by_code": p.grid[:12] + "099"}}),
        ("POST", "/api/v1/key-persons/{person_id}/updates", f"/api/v1/key-persons/{own.key_person}/updates",
         "the place's visit on an update of own key person",
         {"json": {"uuid": str(uuid.uuid4()), "at": _at(-1), "visit_uuid": p.visit}},
         {"json": {"uuid": str(uuid.uuid4()), "at": _at(-1), "visit_uuid": str(uuid.UUID(int=2))}}),
    ]


# ---------------------------------------------------------------- the walk

def attempts(app, world: tw.World) -> list[Attempt]:  # type: ignore[no-untyped-def]
    out: list[Attempt] = []
    for method, path, route in tw.api_routes(app):
        if (method, path) in EXEMPT:
            continue
        params, query = tw.path_params(path), QUERY.get(path, {})
        scoped = "scope" in tw.required_query(route)
        for actor, places in ACTORS.items():
            if method == "GET" and not params and not scoped:  # a list: once, then with foreign filters
                out.append(Attempt(method, path, actor, "*", "", path, {"params": query}, expect="empty"))
            for n, place in enumerate(places):
                if params or scoped:
                    out += _identified(world, method, path, params, query, scoped, actor, place)
                elif method == "GET":
                    out += [Attempt(method, path, actor, place, f"filter {f}", path, {"params": {**query, **f}},
                                    expect="empty") for f in FILTERS.get(path, lambda p: [])(world.places[place])]
                else:
                    for label, req, absent in creations(world, place, actor, len(out) + n).get((method, path), []):
                        out.append(Attempt(method, path, actor, place, label, path, req,
                                           absent=(path, absent) if isinstance(absent, dict) else None,
                                           expect="replay" if absent == "replay" else "refused"))
    for actor in OWN:
        for place in ACTORS[actor]:
            out += [Attempt(method, route, actor, place, label, url, req, absent=(url, absent) if absent else None)
                    for method, route, url, label, req, absent in references(world, place, actor)]
    return sorted(out, key=lambda a: a.method != "GET")  # reads first: a write let through cannot mislead them


def _identified(world: tw.World, method: str, path: str, params: list[str], query: dict[str, str], scoped: bool,
                actor: str, place: str) -> list[Attempt]:
    """Attempts on one place's records through a route with identifiers (path parameters or `scope`)."""
    assert len(params) <= 1, f"{path}: more than one identifier; extend _identified"
    kinds = [kind_of(path, p) for p in params]
    values = ids(world, place, kinds[0]) if kinds else [("", "")]
    body = BODIES.get((method, path), lambda w, p, a: {})(world, place, actor)
    out = []
    for label, value in values:
        url = path.format(**{params[0]: value}) if params else path
        absent_url = path.format(**{params[0]: ABSENT[kinds[0]](value)}) if params else path
        for scope in tw.scopes_of(place) if scoped else [None]:
            q = {**query, **({"scope": scope} if scope else {})}
            absent_q = {**query, **({"scope": absent_scope(scope)} if scope else {})}
            full_label = " ".join(x for x in (label, scope and f"scope={scope}") if x)
            out.append(Attempt(method, path, actor, place, full_label, url, {**body, "params": q},
                               absent=(absent_url, {**body, "params": absent_q})))
    return out


def _code(r) -> str | None:  # type: ignore[no-untyped-def]
    try:
        return r.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return None


def judge(world: tw.World, a: Attempt, r, absent) -> str | None:  # type: ignore[no-untyped-def]
    """None if the attempt was refused; else why not."""
    if r.status_code >= 500:
        return f"{r.status_code}: {r.text[:200]}"
    if r.status_code < 300:
        if a.expect == "empty" and r.status_code == 200:
            leaked = tw.leaks(world, a.actor, r.content)
            return f"shows {leaked[:5]}" if leaked else None
        return f"{r.status_code}, not refused: {r.text[:200]}"
    code = _code(r)
    if code in NOT_REFUSALS:
        return f"not a valid attempt: {r.status_code} {code} {r.text[:200]}"
    scope = (a.kwargs.get("params") or {}).get("scope", "") or (a.kwargs.get("data") or {}).get("scope", "")  # query or form
    uploads = "".join(tw.as_text(f[1]) for f in (a.kwargs.get("files") or {}).values())
    named = a.url + repr(a.kwargs.get("json")) + scope + (scope[7:] + "000" if scope.startswith("street:") else "") \
        + uploads  # what the request itself names may be echoed
    if leaked := [m for _, m in tw.leaks(world, a.actor, r.content) if m not in named]:
        return f"the refusal shows {leaked[:5]}"
    if absent is not None:  # refused, and exactly as if the record did not exist: no oracle
        if (r.status_code, code) != (absent.status_code, _code(absent)):
            return f"{r.status_code} {code}, but {absent.status_code} {_code(absent)} for a record that does not exist"
        return None
    if a.expect == "replay" and (r.status_code, code) == (409, "uuid_taken"):  # says nothing of the record
        return None
    return None if r.status_code in (401, 403, 404) else f"refused with {r.status_code} {code}"


def test_every_route_is_walked_or_exempt(app, db_session) -> None:  # type: ignore[no-untyped-def]
    world = tw.build(db_session)
    routes = {(m, p) for m, p, _ in tw.api_routes(app)}
    walked = {(a.method, a.route) for a in attempts(app, world)}
    docs = {k for k in EXEMPT if k[1] in ("/", "/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")}
    assert not set(EXEMPT) - routes - docs, "EXEMPT names routes that are gone"  # docs: GRIDOPS_PUBLIC_DOCS
    assert not walked & set(EXEMPT)
    unclassified = sorted(routes - walked - set(EXEMPT))
    assert not unclassified, f"classify these routes (a body, a creation, or EXEMPT with a reason): {unclassified}"


def test_every_attempt_on_a_foreign_record_is_refused(client, app, db_session) -> None:  # type: ignore[no-untyped-def]
    world = tw.build(db_session)
    todo = attempts(app, world)
    holes: dict[int, str] = {}
    for i, a in enumerate(todo):
        h = tw.headers(world, a.actor)
        r = client.request(a.method, a.url, headers=h, **a.kwargs)
        absent = client.request(a.method, a.absent[0], headers=h, **a.absent[1]) if a.absent and r.status_code >= 300 \
            else None
        if why := judge(world, a, r, absent):
            holes[i] = f"{a.actor} {a.method} {a.url} [{a.place}: {a.label}] {a.kwargs.get('params') or ''}: {why}"
    print(f"\nauthorisation matrix: {len(todo)} attempts, {len(todo) - len(holes)} refused")
    for method, route, hint in ISSUE_HOLES:
        probe = [i for i, a in enumerate(todo) if (a.method, a.route, a.actor) == (method, route, "wkrA")
                 and hint in a.label]
        assert probe, f"the issue's hole {method} {route} {hint} is not in the matrix"
        assert not [holes[i] for i in probe if i in holes], f"the issue's hole {method} {route} {hint} is open"
    assert not holes, f"{len(holes)} of {len(todo)} attempts not refused:\n" + "\n".join(list(holes.values())[:300])
