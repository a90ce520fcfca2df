"""The FastAPI application: routers, error handlers, upload limit."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from common.errors import InputError
from server.auth.views import app_router, users_router
from server.auth.views import router as auth_router
from server.concurrency import ConcurrencyLimit, request_cap
from server.database.core import is_busy
from server.database.types import utcnow
from server.config import Settings, get_settings
from server.dashboard import views as dashboard
from server.divisions.views import router as divisions_router
from server.errors import DatabaseBusy, GridopsError, InvalidInput
from server.events.views import router as events_router
from server.grids.views import communities_router, outlines_router, router as grids_router
from server.headers import SecurityHeaders
from server.health import log_startup_warnings, router as health_router
from server.devices.views import router as devices_router
from server.rentals.views import router as rentals_router
from server.keypersons.views import router as keypersons_router
from server.assessment.views import router as assessment_router
from server.indicators.views import grid_card_router, router as indicators_router
from server.keys import enforce as enforce_keys
from server.openapi import ERROR_RESPONSES
from server.photos.views import router as photos_router
from server.reports.views import router as reports_router
from server.visits.views import router as visits_router
from server.inputs import MESSAGES as INPUT_MESSAGES, clean_url
from server.request_id import RequestId, internal_error_handler
from server.uploads import BodySizeLimit, BodyTooLarge

API_PREFIX = "/api/v1"


def _json(err: GridopsError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if err.status_code == 401 else {}
    return JSONResponse(err.body(), status_code=err.status_code, headers={**headers, **err.headers} or None)


async def _gridops_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GridopsError)
    return _json(exc)


async def _input_error(_: Request, exc: Exception) -> JSONResponse:
    """What a library (gis, devices) refused is the caller's input: 422 with the library's code."""
    assert isinstance(exc, InputError)
    return _json(InvalidInput(exc.message_en, exc.message_zh, code=exc.code))


async def _database_error(_: Request, exc: Exception) -> JSONResponse:
    """SQLite's write lock still taken after the busy timeout: 503 and when to retry, not a bare 500."""
    if not is_busy(exc):
        raise exc
    return _json(DatabaseBusy())


async def _pool_exhausted(_: Request, exc: Exception) -> JSONResponse:
    """No pooled connection came free within GRIDOPS_DB_POOL_TIMEOUT_S: busy, retry; nothing was done."""
    return _json(DatabaseBusy())


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    kinds = {e["type"] for e in errors}
    if len(kinds) == 1 and (kind := kinds.pop()) in INPUT_MESSAGES:  # one of ours: its code, not the generic one
        return _json(InvalidInput(*INPUT_MESSAGES[kind], code=kind, detail=errors))
    return _json(InvalidInput("request validation failed", "请求参数校验失败", code="validation_error", detail=errors))


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, BodyTooLarge):
        return _json(exc.error)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    err = GridopsError(str(exc.detail), str(exc.detail), code=code)
    err.status_code = exc.status_code
    return _json(err)


MB = 1 << 20
DECLARATION_MAX_MB = 10  # a declaration workbook is a few dozen KB


def upload_limits(settings: Settings) -> dict[str, int]:
    """The only routes whose bodies may exceed `max_body_mb`; a photo's form adds a little to the photo."""
    return {f"{API_PREFIX}/grids/import": settings.max_upload_mb * MB,
            f"{API_PREFIX}/devices/import": settings.max_upload_mb * MB,
            f"{API_PREFIX}/users/import": settings.max_upload_mb * MB,
            f"{API_PREFIX}/rentals/import": settings.max_upload_mb * MB,
            f"{API_PREFIX}/photos": settings.photo_max_mb * MB + MB,
            f"{API_PREFIX}/indicators/self-evaluation": DECLARATION_MAX_MB * MB,
            f"{API_PREFIX}/indicators/monitoring": DECLARATION_MAX_MB * MB}


def create_app() -> FastAPI:
    """The app for any ASGI server; refuses (InsecureSettings) to exist with a public key outside the demo."""
    settings = get_settings()
    enforce_keys(settings)
    log_startup_warnings(now=utcnow())  # the factory is an entry point: it reads the clock
    docs = settings.docs_enabled  # GRIDOPS_PUBLIC_DOCS, default only in the demo
    app = FastAPI(title="gridops", version="0.1.0",
                  description="网格化管理运营平台 API: grids, events, devices, indicators.",
                  docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
                  openapi_url="/openapi.json" if docs else None)
    app.add_middleware(BodySizeLimit, limit=int(settings.max_body_mb * MB), routes=upload_limits(settings))
    sqlite = make_url(settings.database_url).get_backend_name() == "sqlite"
    app.add_middleware(ConcurrencyLimit, limit=request_cap(settings, sqlite))
    app.add_middleware(RequestId)  # every response has its id, no error escapes bare
    app.add_exception_handler(Exception, internal_error_handler)  # what is raised outside RequestId
    app.add_middleware(SecurityHeaders, docs=docs, hsts=settings.hsts,  # last added: outermost
                       basemap_origin=dashboard.basemap_origin(settings))
    app.add_exception_handler(GridopsError, _gridops_error)
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(OperationalError, _database_error)
    app.add_exception_handler(PoolTimeout, _pool_exhausted)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)

    # FastAPI (0.137 and later) finds a request's route by walking the included routers in order,
    # every route of every router before the one that matches, at a few microseconds each (its
    # pull request #16159 would skip a router whose prefix cannot match). /health came after all 108
    # routes and cost twice an event's sync. So the routers go by traffic: the probe, the phones'
    # sync and reports, then the desks; routers sharing a prefix (/grids) keep their order.
    app.include_router(health_router, prefix=API_PREFIX)  # no token, no input: none of the errors below
    api = APIRouter(prefix=API_PREFIX, responses=ERROR_RESPONSES,  # the error envelope, documented once
                    dependencies=[Depends(clean_url)])  # no control characters in path or query
    api.include_router(app_router)
    api.include_router(events_router)
    api.include_router(photos_router)
    api.include_router(visits_router)
    api.include_router(auth_router)
    api.include_router(users_router)
    api.include_router(divisions_router)
    api.include_router(grids_router)
    api.include_router(communities_router)
    api.include_router(outlines_router)
    api.include_router(devices_router)
    api.include_router(rentals_router)
    api.include_router(keypersons_router)
    api.include_router(indicators_router)
    api.include_router(grid_card_router)
    api.include_router(reports_router)
    api.include_router(dashboard.router)
    api.include_router(assessment_router)

    app.include_router(api)

    app.include_router(dashboard.root_router)  # / → the dashboard
    app.mount(dashboard.PATH, dashboard.static_files(), name="dashboard")
    return app
