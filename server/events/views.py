"""Event API: report (exactly once), read, list/filter/export, transitions, disputes, changes, feed."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import datetime
from itertools import chain
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from server.auth.enums import Role
from server.auth.models import User
from server.deps import CurrentUser, DbSession, Now, SessionScope, require_roles
from server.errors import Forbidden
from server.events import actions, catalogue, export, service
from server.events.enums import EventState, TimeLimitStep
from server.events.presenters import change, created_read, event_read, event_reads
from server.inputs import ApiDatetime, Cursor, Page, PageSize
from server.events.schemas import (
    CategoryIn, CategoryRead, ChangePage, DisputeRead, DisputeUpdate, EventCreate, EventPage, EventPhotosIn, EventRead,
    TimeLimitIn,
    TimeLimitRead, TransitionIn,
)
from server.openapi import error, file_response
from server.responses import model_response
from server.events.models import EventHistory
from server.sse import PAGE, Feed, LastEventId, Message, PollSeconds, Seconds, feed_response, resume_from

log = logging.getLogger(__name__)
router = APIRouter(prefix="/events", tags=["events"])
Writer = Annotated[User, Depends(require_roles(Role.grid_worker, Role.street_admin, Role.district_admin,
                                               Role.command_center))]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]


@router.post("", response_model=EventRead, status_code=201,
             responses={200: {"model": EventRead,
                              "description": "a retry of an event already received: the first result"}})
def report_event(db_session: DbSession, user: Writer, body: EventCreate, now: Now) -> Response:
    """201 and the new event, or 200 and the first one for a retry (the answer built once: server.responses)."""
    result = service.submit(db_session=db_session, reporter=user, data=body, now=now)
    db_session.commit()
    if not result.created:
        return model_response(event_read(db_session, result.event), 200)
    assert result.category is not None and result.grid_code is not None
    return model_response(created_read(result.event, category=result.category, grid_code=result.grid_code,
                                       reporter=user, dispute=result.dispute), 201)


async def _filter(  # async: pure parsing, no worker thread (see server.deps)
    state: Annotated[list[EventState] | None, Query()] = None, category: str | None = None,
    grid_code: Annotated[str | None, Query(pattern=r"^[0-9]{15}$")] = None,
    street_code: Annotated[str | None, Query(pattern=r"^[0-9]{12}$")] = None,
    reported_from: ApiDatetime | None = None, reported_to: ApiDatetime | None = None, overdue: bool | None = None,
) -> service.EventFilter:
    return service.EventFilter([s.value for s in state] if state else None, category, grid_code, street_code,
                               reported_from, reported_to, overdue)


Filter = Annotated[service.EventFilter, Depends(_filter)]
Sort = Annotated[str, Query(pattern=r"^-?(reported_at|due_at|closure_due_at|updated_at)$")]


@router.get("", response_model=EventPage)
def list_events(db_session: DbSession, user: CurrentUser, flt: Filter, now: Now, page: Page = 1,
                page_size: PageSize = 50, sort: Sort = "-reported_at") -> Response:
    rows, total = service.list_events(db_session=db_session, user=user, flt=flt, now=now, page=page, page_size=page_size,
                                      sort=sort)
    return model_response(EventPage(items=event_reads(db_session, rows), total=total, page=page, page_size=page_size))


@router.get("/export", response_class=Response,
            responses=file_response("the list as a spreadsheet (format=xlsx) or CSV (format=csv): UTF-8 with BOM, "
                                    "or GB18030 (a superset of GBK) with encoding=gbk",
                                    export.XLSX_MEDIA_TYPE, "text/csv"))
def export_events(user: CurrentUser, scope: SessionScope, flt: Filter, now: Now,
                  format: Annotated[str, Query(pattern=r"^(csv|xlsx)$")] = "xlsx",
                  encoding: Annotated[str, Query(pattern=r"^(utf-8|gbk)$",
                                                 description="CSV only: gbk for older Excel versions")] = "utf-8",
                  ) -> Response:
    """The filtered list (the list's filters, the caller's territory) with Chinese headers and
    Asia/Shanghai times, oldest report first, for 台账 and reports, however many events.

    Codes stay text in a spreadsheet (xlsx text cells; in the CSV a leading tab), xlsx times are
    date cells (see server/events/export.py). The CSV is streamed page by page (chunked, no
    Content-Length); the xlsx is written to a temporary file first and then sent with its length.
    Anything wrong before the first byte (filters, the first page) is a JSON error as usual; a
    failure after it cannot change the status any more: it is logged and the connection is closed
    before the end of the body, so the client sees a broken download, never a short file."""
    pages = export.pages(scope, user=user, flt=flt, now=now)
    if format == "xlsx":
        path = export.xlsx_file(pages)
        return FileResponse(path, media_type=export.XLSX_MEDIA_TYPE, filename="events.xlsx",
                            background=BackgroundTask(os.unlink, path))
    first = next(pages)  # read before answering: a failure here is still a clean error response
    return StreamingResponse(_cut_off_on_error(export.csv_chunks(chain([first], pages), encoding)),
                             media_type=export.csv_media_type(encoding),
                             headers={"Content-Disposition": 'attachment; filename="events.csv"'})


def _cut_off_on_error(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Pass the chunks on; on an error say how far the download got, and raise again so the
    connection closes without the chunked body's end (server.request_id logs the traceback)."""
    sent = 0
    try:
        for chunk in chunks:
            yield chunk
            sent += len(chunk)
    except Exception:
        log.error("event export cut off after %d bytes: the client's download is incomplete", sent)
        raise


@router.get("/changes", response_model=ChangePage)
def changes(db_session: DbSession, user: CurrentUser, now: Now, cursor: Cursor = 0,
            limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> Response:
    """Incremental sync: every change after `cursor` on events you may see, oldest first."""
    rows = service.changes_since(db_session=db_session, user=user, cursor=cursor, limit=limit + 1, now=now)
    more = len(rows) > limit
    rows = rows[:limit]
    return model_response(ChangePage(changes=[change(h, u) for h, u in rows],
                                     next_cursor=rows[-1][0].id if rows else cursor, has_more=more))


def _changes(db_session: Session, user: User, cursor: int, now: datetime) -> list[Message]:
    return [(h.id, h.kind, change(h, u).model_dump(mode="json")) for h, u in
            service.changes_since(db_session=db_session, user=user, cursor=cursor, limit=PAGE, now=now)]


FEED = Feed(EventHistory.__tablename__, _changes, service.last_change_cursor)


@router.get("/feed", response_class=StreamingResponse,
            responses=file_response("Server-Sent Events: `id` is the cursor, `event` the change kind, `data` a "
                                    "Change as JSON", "text/event-stream", schema={"type": "string"}))
async def feed(request: Request, user: CurrentUser, scope: SessionScope, cursor: Cursor = 0, seconds: Seconds = 300,
               poll: PollSeconds = 1.0, last_event_id: LastEventId = None) -> StreamingResponse:
    """Server-Sent Events of new events and transitions after `cursor` (or the `Last-Event-ID` header,
    which wins: a reconnecting EventSource resumes exactly). The user was looked up in a session
    already closed (get_current_user); the backlog and the shared reader open their own (server.sse)."""
    start = resume_from(cursor, last_event_id)
    assert start is not None
    return feed_response(request, FEED, scope, user, start, seconds=seconds, every=poll, comment="gridops event feed")


Admin = Annotated[User, Depends(require_roles(Role.district_admin))]


@router.get("/categories", response_model=list[CategoryRead])
def list_categories(db_session: DbSession, _: CurrentUser) -> list[dict[str, object]]:
    return [{"code": c.code, "name": c.name, "parent_code": c.parent_code, "active": c.active}
            for c in catalogue.categories(db_session=db_session)]


@router.put("/categories/{code}", response_model=CategoryRead)
def put_category(db_session: DbSession, _: Admin,
                 code: Annotated[str, Path(pattern=r"^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)?$", max_length=64)],  # the column
                 body: CategoryIn) -> dict[str, object]:
    c = catalogue.upsert_category(db_session=db_session, code=code, name=body.name, parent_code=body.parent_code,
                                  active=body.active)
    db_session.commit()
    return {"code": c.code, "name": c.name, "parent_code": c.parent_code, "active": c.active}


@router.get("/time-limits", response_model=list[TimeLimitRead])
def list_time_limits(db_session: DbSession, _: CurrentUser) -> list[dict[str, str]]:
    return [{"category_code": p.category_code, "step": p.step, "time_limit": p.time_limit}
            for p in catalogue.time_limit_policies(db_session=db_session)]


@router.put("/time-limits/{category_code}/{step}", response_model=TimeLimitRead)
def put_time_limit(db_session: DbSession, _: Admin, category_code: str, step: TimeLimitStep,
                   body: TimeLimitIn) -> dict[str, str]:
    """Applies to due times computed from now on; existing events keep theirs (they are stored)."""
    p = catalogue.set_time_limit(db_session=db_session, category_code=category_code, step=step,
                                 time_limit=body.time_limit)
    db_session.commit()
    return {"category_code": p.category_code, "step": p.step, "time_limit": p.time_limit}


@router.get("/{uuid}", response_model=EventRead)
def get_event(db_session: DbSession, user: CurrentUser, uuid: str, now: Now) -> Response:
    return model_response(event_read(db_session, service.get_visible(db_session=db_session, user=user, uuid=uuid,
                                                                     now=now), history=True))


@router.post("/{uuid}/transitions", response_model=EventRead,
             responses={409: error("illegal transition (error.detail.allowed_next lists the states), or the "
                                   "Idempotency-Key reused with another body")})
def transition(db_session: DbSession, user: Writer, uuid: str, body: TransitionIn, now: Now,
               idempotency_key: IdempotencyKey = None) -> EventRead:
    event = service.get_visible(db_session=db_session, user=user, uuid=uuid, now=now)
    actions.apply(db_session=db_session, event=event, body=body, actor=user, idempotency_key=idempotency_key,
                  now=now)
    db_session.commit()
    return event_read(db_session, event, history=True)


@router.post("/{uuid}/photos", response_model=EventRead)
def attach_photos(db_session: DbSession, user: Writer, uuid: str, body: EventPhotosIn, now: Now) -> EventRead:
    """Report photos uploaded after the event was sent (the app never holds an event back for a
    large photo on a weak network): the reporter adds them; a retry adds nothing twice."""
    event = service.get_visible(db_session=db_session, user=user, uuid=uuid, now=now)
    actions.attach_photos(db_session=db_session, event=event, keys=body.photos, actor=user, now=now)
    db_session.commit()
    return event_read(db_session, event, history=True)


@router.patch("/{uuid}/dispute", response_model=DisputeRead)
def update_dispute(db_session: DbSession, user: Writer, uuid: str, body: DisputeUpdate, now: Now) -> DisputeRead:
    if user.role == Role.grid_worker and body.mediation_result is not None:
        raise Forbidden("grid workers record parties, not mediation results", "网格员不能登记调解结果",
                        code="role_forbidden")
    event = service.get_visible(db_session=db_session, user=user, uuid=uuid, now=now)
    actions.update_dispute(db_session=db_session, event=event, body=body, actor=user, now=now)
    db_session.commit()
    read = event_read(db_session, event).dispute
    assert read is not None
    return read
