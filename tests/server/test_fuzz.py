"""The fuzzer: schemathesis against the app in process, every operation of the OpenAPI document, as a
district admin and as a grid worker, on a throw-away database holding the territory world.

Issue "Twenty users and the embedded default already fails" (tests and proof): a fuzz run of 9,489
generated requests found 7 distinct server errors. The same kind of fuzzing runs here in the suite,
bounded, and fails on

- any 5xx (schemathesis' `not_a_server_error`); the failure carries the logged traceback, and
- any error response that is not the JSON envelope `{"error": {"code", "message", "message_zh"}}`.

Each operation gets schemathesis' coverage phase (boundary and type-violating values of every
parameter, other HTTP methods) and `EXAMPLES` generated cases (positive and negative generation),
once per role. The database is a committed one of its own (`fresh_database_url`), served by the
real app (no dependency overrides: real read and write sessions, real commits, SQLite's write
queue): each request is its own transaction as on a server, and what one case writes stays for the
cases after it, as on a server. Generated values are mixed, case by case, with the world's real
identifiers and plausible values (grid, device and category codes, event and visit uuids, photo
hashes, tenant, rental and report ids, scopes, periods, points inside the grids, times near now, and
what earlier cases created), and uploads get real and mutated files (photos with EXIF, the grids'
own shapefile export, a device ledger): otherwise nearly every case ends at 404 or 422 before the
code behind it runs.

Derandomized: the same requests every run, so a red run can be repeated. `GRIDOPS_FUZZ_EXAMPLES=N`
runs more generated cases per operation; `GRIDOPS_FUZZ_SEED=N` other ones.
"""

from __future__ import annotations

import io
import json
import logging
import os
import random
import time
import traceback
import uuid as uuid_
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import time_machine
from hypothesis import HealthCheck, seed, settings
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from gis.shapefile_io import GridFeature, write_grids
from metrics.catalogue import CATALOGUE
from server.auth.security import create_token
from server.config import get_settings
from server.database import core
from server.database.core import make_engine
from server.database.migrate import upgrade
from server.events.enums import TimeLimitStep
from server.events.models import EventCategory
from server.main import create_app
from tests import factories
from tests.conftest import BACKENDS, NOW, fresh_database_url
from tests.server import territory_world as tw

EXAMPLES = int(os.environ.get("GRIDOPS_FUZZ_EXAMPLES") or 20)
SEED = os.environ.get("GRIDOPS_FUZZ_SEED")
ROLES = {"admin": "adm-district", "worker": "wkrA"}  # district admin of 440112; grid worker of grid A
API = "/api/v1"

# Operations not fuzzed, with the reason. Nothing else is left out (test_every_operation_is_fuzzed).
SKIPPED: dict[str, str] = {}
# Operations called with bounded arguments, and how.
BOUNDED = {
    f"GET {API}/events/feed": "the feed streams for `seconds` (default 300, up to 3600): a valid `seconds` is cut to "
                              "≤ 0.1 and a valid `poll` to 0.2, so each case is one poll; invalid values are sent as "
                              "generated",
    f"GET {API}/devices/feed": "as the events feed",
}
FEEDS = (f"{API}/events/feed", f"{API}/devices/feed")

schema = schemathesis.openapi.from_dict(create_app().openapi())
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=EXAMPLES)


# ------------------------------------------------------------------------------------------ the world


@dataclass
class Fuzz:
    backend: str
    app: Any
    headers: dict[str, dict[str, str]]
    known: dict[str, list[Any]]  # body or query field name → real values
    path_known: dict[tuple[str, str], list[Any]]  # (path prefix, parameter) → real values
    files: dict[str, list[tuple[str, bytes, str]]]  # upload path → (filename, content, type)
    requests: Counter = field(default_factory=Counter)
    statuses: dict[tuple[str, str], Counter] = field(default_factory=lambda: defaultdict(Counter))
    started: float = field(default_factory=time.monotonic)



def jpeg_with_exif(*, taken: str | None = None, offset: str | None = None, gps: dict[int, Any] | None = None,
                   orientation: int | None = None) -> bytes:
    im = Image.new("RGB", (40, 30), (120, 30, 30))
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    ifd = exif.get_ifd(0x8769)
    if taken is not None:
        ifd[0x9003] = taken  # DateTimeOriginal
    if offset is not None:
        ifd[0x9011] = offset  # OffsetTimeOriginal
    if gps is not None:
        exif.get_ifd(0x8825).update(gps)
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif)
    return buf.getvalue()


def _photos() -> list[tuple[str, bytes, str]]:
    png = io.BytesIO()
    Image.new("RGBA", (33, 17), (0, 0, 0, 0)).save(png, "PNG")
    gif = io.BytesIO()
    Image.new("P", (8, 8)).save(gif, "GIF")
    return [
        ("p.jpg", tw.jpeg((1, 2, 3)), "image/jpeg"),
        ("p.png", png.getvalue(), "image/png"),
        ("p.gif", gif.getvalue(), "image/gif"),
        ("exif.jpg", jpeg_with_exif(taken="2026:11:20 09:58:01", offset="+08:00", orientation=6,
                                    gps={1: "N", 2: (23.0, 6.0, 1.5), 3: "E", 4: (113.0, 48.0, 0.25)}), "image/jpeg"),
        ("bad-exif.jpg", jpeg_with_exif(taken="0000:00:00 00:00:00", offset="+99:99", orientation=9,
                                        gps={1: "X", 2: (0.0, 0.0, 0.0), 4: (1.0,)}), "image/jpeg"),
        ("far-exif.jpg", jpeg_with_exif(taken="9999:12:31 23:59:59", offset="-14:00",
                                        gps={1: "S", 2: (91.0, 0.0, 0.0), 3: "W", 4: (181.0, 0.0, 0.0)}), "image/jpeg"),
    ]


def _ledger(world: tw.World) -> list[tuple[str, bytes, str]]:
    lon, lat = tw.centre(world.places["A"].cell)
    rows = ("设备编码*,设备名称*,设备类型*,国标编码,经度,纬度,坐标系,安装日期,权属单位,心跳间隔（秒）,安装地址\n"
            f"FZ-CAM-1,摄像机1,camera,,{lon},{lat},cgcs2000,2026-01-05,公安分局,60,黄埔东路1号\n"
            f"44011200001320000009,摄像机2,视频监控点位,44011200001320000009,{lon},{lat},wgs84,2026-02-01,,30,\n"
            f"FZ-DOOR-1,门禁1,门禁,,{lon},{lat},gcj02,2026-11-01T08:00:00+08:00,,,\n")
    return [("ledger.csv", rows.encode("utf-8"), "text/csv"), ("ledger-gbk.csv", rows.encode("gb18030"), "text/csv"),
            ("ledger.xlsx", b"PK\x03\x04 not really", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")]


def _new_grid_zip(tmp: Path) -> bytes:
    """A shapefile of one grid not yet stored (an empty cell of community 440112001002), members stored
    uncompressed so that a damaged copy reaches the shapefile reader rather than the CRC check."""
    paths = write_grids(tmp / "new", [GridFeature("440112001002001", "新网格", "440112001002", "综合网格",
                                                  factories.gk_square(20, 20), {})])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for path in paths:
            zf.write(path, path.name)
    return buf.getvalue()


def _walk(cell: tuple[int, int]) -> list[dict[str, float]]:
    """A visit's track across a grid's square."""
    minx, miny, maxx, maxy = factories.gk_square(*cell).bounds
    return [{"lon": minx + (maxx - minx) * (i + 1) / 7, "lat": miny + (maxy - miny) * (i % 3 + 1) / 4} for i in range(6)]


def _known(world: tw.World, categories: list[str]) -> tuple[dict[str, list[Any]], dict[tuple[str, str], list[Any]]]:
    places = list(world.places.values())
    grids = [p.grid for p in places]
    streets = [tw.STREET1, tw.STREET2, tw.STREET3]
    users = [u for u in world.users if not u.startswith("nobody")]
    times = [(NOW + d).isoformat() for d in (timedelta(minutes=-30), timedelta(hours=-2), timedelta(days=-3),
                                                timedelta(minutes=-5), timedelta(days=2), timedelta(days=-40))]
    known: dict[str, list[Any]] = {
        "street_code": streets, "community_code": [g[:12] for g in grids], "grid_code": grids,
        "code": grids, "replaced_by_code": grids, "category_code": categories, "category": categories,
        "parent_code": [c for c in categories if "." not in c] or categories,
        "username": users, "worker": [p.worker.username for p in places], "dispatched_to": users,
        "merged_into": [p.event for p in places], "photos": [[s] for p in places for s in p.photos],
        "device_code": [p.device for p in places], "rental_id": [p.rental for p in places],
        "scope": [s for tag in tw.PLACES for s in tw.scopes_of(tag)],
        "period": ["2026", "2026-11", "2026-Q4", "2026-W47", "2026-11-01..2026-11-30", "2025"],
        "month": ["2026-11", "2026-10"], "week": ["2026-W47", "2026-11-16"], "datum": ["cgcs2000", "wgs84", "gcj02"],
        "level": ["street", "community", "grid"], "indicator": list(CATALOGUE), "epsg": [4490, 4547, 4526],
        "cursor": [0, 1, 5], "id_number": [tw.id_number("44010619800101123")], "time_limit": ["8wh", "3wd", "24h", "30d"],
        "__point": [tw.centre(p.cell) for p in places], "points": [_walk(p.cell) for p in places],
        **{name: times for name in ("reported_at", "started_at", "ended_at", "held_at", "at", "start", "end",
                                    "start_at", "end_at", "retired_at", "installed_at", "mediated_at", "replied_at",
                                    "moved_in_at", "managed_at", "reported_from", "reported_to", "started_from",
                                    "started_to")},
    }
    path_known = {
        (f"{API}/devices/", "code"): [p.device for p in places],
        (f"{API}/events/categories/", "code"): categories,
        (f"{API}/indicators/", "code"): list(CATALOGUE),
        (f"{API}/events/", "uuid"): [p.event for p in places],
        (f"{API}/visits/", "uuid"): [p.visit for p in places],
        (f"{API}/photos/", "sha256"): [s for p in places for s in p.photos],
        (f"{API}/rentals/tenants/", "tenant_id"): [i for p in places for i in (p.tenant, p.pending_tenant)],
        (f"{API}/rentals/records/", "record_id"): [p.record for p in places],
        (f"{API}/rentals/", "rental_id"): [p.rental for p in places],
        (f"{API}/reports/weekly/", "report_id"): list(world.reports.values()),
        (f"{API}/events/time-limits/", "category_code"): ["*", *categories],
        (f"{API}/events/time-limits/", "step"): [s.value for s in TimeLimitStep],
    }
    return known, path_known


# What a successful write returns, kept for the cases after it: (method, path) → (JSON field, pools).
CREATED: dict[tuple[str, str], tuple[str, list[str]]] = {
    ("POST", f"{API}/events"): ("uuid", [f"{API}/events/:uuid", "merged_into"]),
    ("POST", f"{API}/visits"): ("uuid", [f"{API}/visits/:uuid"]),
    ("POST", f"{API}/devices"): ("code", [f"{API}/devices/:code", "device_code"]),
    ("POST", f"{API}/rentals"): ("id", [f"{API}/rentals/:rental_id", "rental_id"]),
    ("POST", f"{API}/rentals/{{rental_id}}/tenants"): ("id", [f"{API}/rentals/tenants/:tenant_id"]),
    ("POST", f"{API}/photos"): ("sha256", [f"{API}/photos/:sha256"]),
    ("POST", f"{API}/reports/weekly"): ("id", [f"{API}/reports/weekly/:report_id"]),
    ("PUT", f"{API}/events/categories/{{code}}"): ("code", [f"{API}/events/categories/:code", "category_code"]),
    ("POST", f"{API}/auth/users"): ("username", ["username", "dispatched_to"]),
}
POOL_LIMIT = 40


def _remember(fuzz: Fuzz, case: schemathesis.Case, response: schemathesis.Response) -> None:
    created = CREATED.get((case.method.upper(), case.operation.path))
    if created is None or not 200 <= response.status_code < 300:
        return
    try:
        value = response.json().get(created[0])
    except (ValueError, AttributeError):
        return
    if value is None:
        return
    for pool in created[1]:
        if ":" in pool:
            prefix, name = pool.rsplit(":", 1)
            values = fuzz.path_known.setdefault((prefix, name), [])
        else:
            values = fuzz.known.setdefault(pool, [])
        if value not in values and len(values) < POOL_LIMIT:
            values.append(value)
    if created[0] == "sha256" and len(fuzz.known["photos"]) < POOL_LIMIT:
        fuzz.known["photos"].append([value])


@pytest.fixture(scope="module", params=BACKENDS)
def fuzz(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzz]:
    backend = request.param
    url = fresh_database_url(backend, tmp_path_factory.mktemp("fuzz"), "gridops_fuzz")
    upgrade(url)
    engine = make_engine(url)
    with time_machine.travel(NOW, tick=True):
        with Session(engine, expire_on_commit=False) as s:
            world = tw.build(s)
            s.commit()
            categories = sorted(s.scalars(select(EventCategory.code)))
    engine.dispose()
    # Issued before NOW: every test restarts the clock at NOW, and a token issued after it is not valid yet.
    with time_machine.travel(NOW - timedelta(hours=1), tick=False):
        secret = get_settings().secret_key
        headers = {role: {"Authorization": "Bearer " + create_token(
            subject=name, role=world.users[name].role, secret=secret, minutes=24 * 60)} for role, name in ROLES.items()}
    caches = (core.get_engine, core.get_sessionmaker, core.get_read_sessionmaker, core.get_write_once_sessionmaker)
    new_grid = _new_grid_zip(tmp_path_factory.mktemp("fuzz-shp"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRIDOPS_DATABASE_URL", url)
        get_settings.cache_clear()
        for cache in caches:
            cache.cache_clear()
        known, path_known = _known(world, categories)
        f = Fuzz(backend=backend, app=create_app(), headers=headers, known=known, path_known=path_known, files={})
        with time_machine.travel(NOW, tick=True), TestClient(f.app) as client:
            for role, name in ROLES.items():  # the fuzzer works as these users, not as nobody
                me = client.get(f"{API}/auth/me", headers=headers[role])
                assert me.status_code == 200 and me.json()["username"] == name, me.text
            export = client.get(f"{API}/grids/export", headers=headers["admin"])
            assert export.status_code == 200, export.text
        f.files = {f"{API}/photos": _photos(), f"{API}/devices/import": _ledger(world),
                   f"{API}/grids/import": [("grids.zip", export.content, "application/zip"),
                                           ("new.zip", new_grid, "application/zip")]}
        try:
            yield f
        finally:
            _summary(f)
            if core.get_engine.cache_info().currsize:
                core.get_engine().dispose()
            for cache in caches:
                cache.cache_clear()
    get_settings.cache_clear()


def _summary(f: Fuzz) -> None:
    total: Counter = Counter()
    for counts in f.statuses.values():
        total.update(counts)
    lines = [f"fuzz [{f.backend}]: {sum(f.requests.values())} requests, {len(f.requests)} operation × role, "
             f"{time.monotonic() - f.started:.0f} s; statuses {dict(sorted(total.items()))}"]
    if os.environ.get("GRIDOPS_FUZZ_VERBOSE"):
        lines += [f"  {f.requests[key]:4d} {key[0]} as {key[1]}: {dict(sorted(f.statuses[key].items()))}"
                  for key in sorted(f.requests)]
    print("\n" + "\n".join(lines))


# ---------------------------------------------------------------- generated values meet the world's


def _path_values(fuzz: Fuzz, path: str, name: str) -> list[Any] | None:
    for (prefix, param), values in fuzz.path_known.items():
        if param == name and path.startswith(prefix):
            return values
    return fuzz.known.get(name)


def _mutate(data: bytes, rng: random.Random) -> bytes:
    """A damaged copy: bytes overwritten, or cut short, or a run repeated."""
    data = bytearray(data)
    kind = rng.randrange(3)
    if kind == 0:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1:
        del data[rng.randrange(1, len(data)):]
    else:
        at = rng.randrange(len(data))
        data[at:at] = data[at:at + 64] * rng.randint(1, 4)
    return bytes(data)


def _realistic(fuzz: Fuzz, case: schemathesis.Case, label: str, role: str) -> dict[str, Any]:
    """Swap some generated values for real ones (fewer in negative cases: they test the refusals);
    returns extra call arguments (a real or damaged file for the uploads)."""
    meta = case.meta
    negative = meta is not None and meta.generation.mode.is_negative
    rng = random.Random(f"{SEED}|{label}|{role}|{case.path_parameters}|{case.query}|{case.body!r:.2000}")
    # half the positive cases get every value the world knows; the others some, negative cases few
    p = 0.15 if negative else 1.0 if rng.random() < 0.5 else 0.35
    path = case.operation.path
    for name in list(case.path_parameters or {}):
        values = _path_values(fuzz, path, name)
        if values and rng.random() < p:
            case.path_parameters[name] = rng.choice(values)
    names = [q.name for q in case.operation.query if q.name in fuzz.known]
    if names and (case.query is None or isinstance(case.query, dict)):
        query = dict(case.query or {})
        for name in names:
            if rng.random() < p:
                query[name] = rng.choice(fuzz.known[name])
        case.query = query
    if isinstance(case.body, dict) and case.media_type == "application/json":
        for key in list(case.body):
            if key in fuzz.known and rng.random() < p:
                case.body[key] = rng.choice(fuzz.known[key])
        if "lon" in case.body and "lat" in case.body and rng.random() < p:
            case.body["lon"], case.body["lat"] = rng.choice(fuzz.known["__point"])
        if "uuid" in case.body and rng.random() < max(p, 0.8):  # generation repeats its uuids: mostly new ones
            case.body["uuid"] = str(uuid_.UUID(int=rng.getrandbits(128), version=4))
    files = fuzz.files.get(path)
    if files and case.method.upper() == "POST" and rng.random() < p:
        name, content, ctype = rng.choice(files)
        if rng.random() < 0.5:
            content = _mutate(content, rng)
        return {"files": [("file", (name, content, ctype))]}
    return {}


def _bounded(case: schemathesis.Case) -> None:
    if case.operation.path in FEEDS and (case.query is None or isinstance(case.query, dict)):
        query = dict(case.query or {})
        seconds, poll = _number(query.get("seconds", 300)), _number(query.get("poll", 1.0))
        if seconds is not None and 0 <= seconds:
            query["seconds"] = min(seconds, 0.1)
        if poll is not None and 0.2 <= poll:
            query["poll"] = 0.2
        case.query = query


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if number == number else None  # not NaN


# ---------------------------------------------------------------------------------------------- checks


def error_envelope(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """Every error is the JSON envelope {"error": {"code", "message", "message_zh"}}."""
    if response.status_code < 400:
        return None
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{response.status_code} is not JSON: {response.text[:300]!r}") from None
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"{response.status_code} without an 'error' object: {response.text[:300]!r}"
    missing = [k for k in ("code", "message", "message_zh") if not isinstance(error.get(k), str) or not error[k]]
    assert not missing, f"{response.status_code} envelope lacks {missing}: {response.text[:300]!r}"
    return None


class _Tracebacks(logging.Handler):
    """The log lines of internal errors (`gridops.requests`), whose tracebacks a failure shows."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _fuzz_settings(test):  # type: ignore[no-untyped-def]
    test = settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=SEED is None,
                    suppress_health_check=list(HealthCheck))(test)
    return seed(int(SEED))(test) if SEED is not None else test


@pytest.mark.parametrize("role", list(ROLES))
@schema.parametrize()
@_fuzz_settings
def test_fuzz(case: schemathesis.Case, role: str, fuzz: Fuzz) -> None:
    label = f"{case.operation.method.upper()} {case.operation.path}"  # the operation (coverage also sends others)
    if label in SKIPPED:
        pytest.skip(SKIPPED[label])
    extra = _realistic(fuzz, case, label, role)
    _bounded(case)
    handler = _Tracebacks()
    log = logging.getLogger("gridops.requests")
    log.addHandler(handler)
    try:
        response = case.call(app=fuzz.app, headers=fuzz.headers[role], **extra)
    finally:
        log.removeHandler(handler)
    fuzz.requests[(label, role)] += 1
    fuzz.statuses[(label, role)][response.status_code] += 1
    _remember(fuzz, case, response)
    try:
        case.validate_response(response, checks=[not_a_server_error, error_envelope])
    except BaseException as exc:
        if extra:
            exc.add_note(f"uploaded file: {extra['files'][0][1][0]} ({len(extra['files'][0][1][1])} bytes)")
        for record in handler.records:
            text = "".join(traceback.format_exception(*record.exc_info)) if record.exc_info else record.getMessage()
            exc.add_note(f"server log: {record.getMessage()}\n{text}")
        raise


def test_every_operation_is_fuzzed() -> None:
    """Nothing is left out in silence: every operation of the document is fuzzed, or skipped with a reason."""
    labels = {f"{m.upper()} {p}" for p, ops in schema.raw_schema["paths"].items() for m in ops}
    fuzzed = {f"{r.ok().method.upper()} {r.ok().path}" for r in schema.get_all_operations()}
    assert labels == fuzzed
    assert set(SKIPPED) <= labels and set(BOUNDED) <= labels
    assert len(labels) >= 60, json.dumps(sorted(labels))


@pytest.mark.parametrize(("status", "body", "ok"), [
    (404, {"error": {"code": "not_found", "message": "x", "message_zh": "无"}}, True),
    (422, {"detail": [{"loc": ["body"], "msg": "x"}]}, False),  # FastAPI's own shape
    (500, "Internal Server Error", False),  # Starlette's bare page
    (409, {"error": {"code": "conflict", "message": "x"}}, False),  # no Chinese
    (200, {"anything": 1}, True),
])
def test_the_envelope_check(status: int, body: object, ok: bool) -> None:
    import httpx

    case = schema[f"{API}/health"]["GET"].Case()
    kwargs = {"json": body} if isinstance(body, dict) else {"text": body}
    response = httpx.Response(status, request=httpx.Request("GET", f"http://testserver{API}/health"), **kwargs)
    response.elapsed = timedelta(0)  # as a client would have set it
    if ok:
        case.validate_response(response, checks=[error_envelope])
    else:
        with pytest.raises(FailureGroup) as failed:
            case.validate_response(response, checks=[error_envelope])
        assert "Custom check failed: `error_envelope`" in str(failed.value), str(failed.value)
