"""A request id on every response, and the last line of defence: nothing goes out as a bare 500.

`RequestId` (the outermost of gridops' middleware) names each request — the caller's
`X-Request-ID` if it is a sane token, else a new one —, returns it in the `X-Request-ID` header,
and turns any exception that escapes the app (a route, a dependency, another middleware) into
the JSON error envelope `internal_error` carrying the same id, after logging it with the
traceback. `internal_error_handler` does the same for what is raised outside it (Starlette's
ServerErrorMiddleware calls it), so a client never sees `text/plain` "Internal Server Error".
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from contextvars import ContextVar

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import InternalError

log = logging.getLogger("gridops.requests")
HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._-]{8,64}")
current: ContextVar[str | None] = ContextVar("gridops_request_id", default=None)


def internal_error(request_id: str) -> InternalError:
    return InternalError(f"internal error; quote request id {request_id} when reporting it",
                         f"服务器内部错误，请提供请求编号 {request_id} 以便排查")


def _body(request_id: str) -> bytes:
    body = internal_error(request_id).body()
    body["error"]["request_id"] = request_id
    return json.dumps(body, ensure_ascii=False).encode()


def _log(request_id: str, method: str, path: str, exc: BaseException) -> None:
    log.error("internal_error request_id=%s %s %s: %s", request_id, method, path, type(exc).__name__,
              exc_info=(type(exc), exc, exc.__traceback__))


def _incoming(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if _SANE.fullmatch(text):
                return text
    return uuid.uuid4().hex


class RequestId:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming(scope)
        token = current.set(request_id)
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # noqa: BLE001  (the point: whatever it is, the client gets the envelope)
            _log(request_id, scope.get("method", ""), scope.get("path", ""), exc)
            if started:  # headers are out: all that can be done is to end the response
                return
            body = _body(request_id)
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                    (b"content-length", str(len(body)).encode()),
                                    (b"x-request-id", request_id.encode())]})
            await send({"type": "http.response.body", "body": body})
        finally:
            current.reset(token)


async def internal_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """For exceptions raised outside RequestId (middleware added after it): same envelope and log line."""
    request_id = current.get() or _incoming(request.scope)
    _log(request_id, request.method, request.url.path, exc)
    return JSONResponse(json.loads(_body(request_id)), status_code=500, headers={HEADER: request_id})
