"""Device API: scoped list and detail with status, registration, import, credentials,
maintenance windows, dead letters and the online rate."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse
from pydantic_core import to_json
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from devices.codes import KIND_LABELS_ZH, DeviceKind
from gis.codes import street_of
from server.areas import parse_scope
from server.auth.enums import Role
from server.auth.models import User
from server import sheets
from server.deps import CurrentUser, DbSession, Now, SessionScope, require_roles
from server.devices import imports, live, placement, rates, service
from server.devices.models import DeadLetter, Device, DeviceStatusInterval
from server.devices.schemas import (
    Credentials, DeadLetterPage, DeadLetterRead, DeviceCreate, DeviceCreated, DeviceDetail, DeviceFeatureCollection,
    DeviceImportReport, DevicePage, DeviceRead, DeviceRetireRequest, DeviceStatus, DeviceUpdate, GroupBy, IntervalRead,
    Located, MaintenanceCreate, MaintenanceRead, OnlineRateRead, RateMode,
)
from server.inputs import MAX_ID, ApiDatetime, Page, PageSize
from server.openapi import UPLOAD_RESPONSES, file_response
from server.sse import PAGE, Feed, LastEventId, Message, PollSeconds, Seconds, feed_response, resume_from
from server.territory import ensure_holds

router = APIRouter(prefix="/devices", tags=["devices"])
Editor = Annotated[User, Depends(require_roles(Role.district_admin))]
DistrictReader = Annotated[User, Depends(require_roles(Role.district_admin, Role.command_center, Role.auditor))]


def _read(d: Device) -> DeviceRead:
    lon, lat = placement.lon_lat(d.location)
    grid_code = d.grid.code if d.grid else None
    return DeviceRead(
        code=d.code, gb_code=d.gb_code, name=d.name, kind=DeviceKind(d.kind), kind_zh=KIND_LABELS_ZH[DeviceKind(d.kind)],
        lon=lon, lat=lat, grid_code=grid_code, street_code=street_of(grid_code) if grid_code else None,
        address=d.address, owner_unit=d.owner_unit, installed_at=d.installed_at, retired_at=d.retired_at,
        heartbeat_interval_s=d.heartbeat_interval_s, status=DeviceStatus(d.state.status),
        status_since=d.state.status_since, last_seen_at=d.state.last_seen_at, has_credentials=d.secret_hash is not None,
    )


def _filter(
    kind: DeviceKind | None = None,
    street_code: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    grid_code: Annotated[str | None, Query(pattern=r"^\d{15}$")] = None,
    status: DeviceStatus | None = None,
    q: Annotated[str | None, Query(max_length=64, description="name or code contains")] = None,
    include_retired: bool = False,
) -> service.DeviceFilter:
    return service.DeviceFilter(kind, street_code, grid_code, status.value if status else None, q, include_retired)


Filter = Annotated[service.DeviceFilter, Depends(_filter)]


@router.get("", response_model=DevicePage)
def list_devices(db_session: DbSession, user: CurrentUser, flt: Filter, now: Now, page: Page = 1,
                 page_size: PageSize = 50) -> DevicePage:
    rows, total = service.list_devices(db_session=db_session, user=user, flt=flt, now=now, page=page, page_size=page_size)
    return DevicePage(items=[_read(d) for d in rows], total=total, page=page, page_size=page_size)


@router.post("", response_model=DeviceCreated, status_code=201)
def create_device(db_session: DbSession, user: Editor, body: DeviceCreate, now: Now) -> DeviceCreated:
    """The secret in the answer is shown once; only its hash is stored."""
    _ensure_placeable(db_session, user, now, body)
    device, secret = service.create(db_session=db_session, device_in=body, now=now)
    db_session.commit()
    return DeviceCreated(device=_read(device), credentials=Credentials(code=device.code, username=device.code,
                                                                       secret=secret))


@router.get("/online-rate", response_model=OnlineRateRead)
def online_rate(
    db_session: DbSession, user: CurrentUser, flt: Filter, now: Now, mode: RateMode = RateMode.snapshot,
    group_by: GroupBy = GroupBy.kind, at: ApiDatetime | None = None, start: ApiDatetime | None = None,
    end: ApiDatetime | None = None,
) -> OnlineRateRead:
    """Snapshot (share online at `at`, default now) or time-weighted availability over [start, end)."""
    return rates.online_rate(db_session=db_session, user=user, flt=flt, mode=mode, group_by=group_by,
                             now=now, at=at, start=start, end=end)


AreaQ = Annotated[str | None, Query(max_length=40, description="only inside this area: district:440112, "
                                                               "street:440112001, community:…, grid:…")]


@router.get("/geojson", response_model=DeviceFeatureCollection)
def devices_geojson(db_session: DbSession, user: CurrentUser, now: Now, scope: AreaQ = None,
                    kind: DeviceKind | None = None) -> Response:
    """Every device in service in your territory as one FeatureCollection for the map (no paging: one
    statement, 20,000 devices in a fraction of a second), with the status feed's `cursor` at reading.
    An area outside your territory gives an empty collection, as a list filter does."""
    body = live.feature_collection(db_session=db_session, user=user, now=now,
                                   prefix=parse_scope(scope).prefix if scope else None, kind=kind)
    return Response(to_json(body), media_type="application/json")  # the model documents it; see live


def _changes(db_session: Session, user: User, cursor: int, now: datetime) -> list[Message]:
    return [(c.cursor, "status", c.model_dump(mode="json"))
            for c in live.changes_since(db_session=db_session, user=user, cursor=cursor, limit=PAGE, now=now)]


FEED = Feed(DeviceStatusInterval.__tablename__, _changes, live.last_cursor)


def _last_cursor(scope: Callable[[], AbstractContextManager[Session]]) -> int:
    with scope() as db_session:
        return live.last_cursor(db_session)


@router.get("/feed", response_class=StreamingResponse,
            responses=file_response("Server-Sent Events: `id` is the cursor, `event` is `status`, `data` a "
                                    "DeviceStatusChange as JSON", "text/event-stream", schema={"type": "string"}))
async def feed(request: Request, user: CurrentUser, scope: SessionScope,
               cursor: Annotated[int | None, Query(ge=0, le=MAX_ID, description=(
                   "resume after this change (GeoJSON's `cursor`; 0: every change kept); none: from now on"))] = None,
               seconds: Seconds = 300, poll: PollSeconds = 1.0, last_event_id: LastEventId = None) -> StreamingResponse:
    """Server-Sent Events of the status changes of the devices in your territory, as the MQTT ingester
    commits them. Resumable: the `Last-Event-ID` header wins over `cursor` (an EventSource reconnects
    exactly where it stopped); the map starts from GET /devices/geojson's `cursor`."""
    start = resume_from(cursor, last_event_id)
    if start is None:
        start = await run_in_threadpool(_last_cursor, scope)
    return feed_response(request, FEED, scope, user, start, seconds=seconds, every=poll,
                         comment="gridops device status feed")


@router.post("/import", response_model=DeviceImportReport, responses=UPLOAD_RESPONSES)
def import_devices(
    db_session: DbSession, user: Editor, file: Annotated[UploadFile, File(description="点位台账 .xlsx or .csv")],
    now: Now, datum: str = "cgcs2000", dry_run: bool = False, issue_secrets: bool = False,
) -> DeviceImportReport:
    """All or nothing: `committed: false` with row errors means nothing was written."""
    db_session.commit()  # end the transaction of the token check: no database lock is held while the file is read
    sheet = sheets.read(file.file.read(), file.filename or "upload.csv")
    report = imports.import_rows(db_session=db_session, sheet=sheet, default_datum=datum, now=now, dry_run=dry_run,
                                 issue_secrets=issue_secrets, user=user)
    if report.committed:
        db_session.commit()
    return report


@router.get("/dead-letters", response_model=DeadLetterPage)
def dead_letters(db_session: DbSession, user: DistrictReader, now: Now, reason: str | None = None,
                 device_code: str | None = None, page: Page = 1, page_size: PageSize = 50) -> DeadLetterPage:
    """Messages the ingester refused, newest first, with counts per reason: those of the devices in
    one's territory, and those naming no registered device (they belong to no place)."""
    placeless = or_(DeadLetter.device_code.is_(None), DeadLetter.device_code.not_in(select(Device.code)))
    scoped = or_(placeless, DeadLetter.device_code.in_(select(Device.code).where(service.visible(user, now))))
    q = select(DeadLetter).where(scoped)
    if reason:
        q = q.where(DeadLetter.reason == reason)
    if device_code:
        q = q.where(DeadLetter.device_code == device_code)
    total = db_session.scalar(select(func.count()).select_from(q.subquery())) or 0
    counts = dict(db_session.execute(select(DeadLetter.reason, func.count()).where(scoped)
                                     .group_by(DeadLetter.reason)).all())
    rows = db_session.scalars(q.order_by(DeadLetter.id.desc()).offset((page - 1) * page_size).limit(page_size))
    return DeadLetterPage(items=[DeadLetterRead.model_validate(r, from_attributes=True) for r in rows], total=total,
                          counts=counts, page=page, page_size=page_size)


def _ensure_placeable(db_session: Session, user: User, now: datetime, located: Located) -> None:
    """Devices are placed (or moved) only inside the editor's territory."""
    point = placement.to_point(located.lon, located.lat, located.datum) if located.lon is not None else None
    ensure_holds(db_session, user, now, placement.grid_ids(db_session, [point]))


@router.get("/{code}", response_model=DeviceDetail)
def get_device(db_session: DbSession, user: CurrentUser, code: str, now: Now) -> DeviceDetail:
    d = service.get_visible(db_session=db_session, user=user, code=code, now=now)
    intervals = service.intervals_of(db_session=db_session, device=d)
    windows = service.maintenance_of(db_session=db_session, device=d)
    return DeviceDetail(
        **_read(d).model_dump(), online_until=d.state.online_until, heartbeats=d.state.heartbeats,
        messages=d.state.messages,
        recent_intervals=[IntervalRead.model_validate(i, from_attributes=True) for i in intervals],
        maintenance=[MaintenanceRead.model_validate(m, from_attributes=True) for m in windows],
    )


@router.patch("/{code}", response_model=DeviceRead)
def update_device(db_session: DbSession, admin: Editor, code: str, body: DeviceUpdate, now: Now) -> DeviceRead:
    if body.lon is not None:
        _ensure_placeable(db_session, admin, now, body)
    d = service.update(db_session=db_session, device=service.get_visible(db_session=db_session, user=admin, code=code, now=now),
                       changes=body)
    db_session.commit()
    return _read(d)


@router.post("/{code}/retire", response_model=DeviceRead)
def retire_device(db_session: DbSession, admin: Editor, code: str, body: DeviceRetireRequest, now: Now) -> DeviceRead:
    d = service.get_visible(db_session=db_session, user=admin, code=code, now=now)
    service.retire(db_session=db_session, device=d, at=placement.as_utc(body.retired_at) or now, now=now)
    db_session.commit()
    return _read(d)


@router.post("/{code}/credentials", response_model=Credentials)
def rotate_credentials(db_session: DbSession, admin: Editor, code: str, now: Now) -> Credentials:
    """A new secret (shown once); the broker accepts it once its password_file is regenerated."""
    d = service.get_visible(db_session=db_session, user=admin, code=code, now=now)
    secret = service.rotate_secret(db_session=db_session, device=d)
    db_session.commit()
    return Credentials(code=d.code, username=d.code, secret=secret)


@router.post("/{code}/maintenance", response_model=MaintenanceRead, status_code=201)
def add_maintenance(db_session: DbSession, admin: Editor, code: str, body: MaintenanceCreate,
                    now: Now) -> MaintenanceRead:
    d = service.get_visible(db_session=db_session, user=admin, code=code, now=now)
    row = service.add_maintenance(db_session=db_session, device=d, window=body, actor=admin.username, now=now)
    db_session.commit()
    return MaintenanceRead.model_validate(row, from_attributes=True)
