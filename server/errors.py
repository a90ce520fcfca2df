"""The one error hierarchy: each class knows its HTTP status, a stable code, and zh/en text.

Services raise these and never import FastAPI; a single handler in server.main turns them
into responses, so the dashboard and the phone app can branch on `code`, not on prose.
"""

from __future__ import annotations

from typing import Any


class GridopsError(Exception):
    """Base error; subclasses fix the status, instances the code and message."""

    status_code = 400
    default_code = "bad_request"

    def __init__(
        self,
        message_en: str,
        message_zh: str,
        *,
        code: str | None = None,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message_en)
        self.code = code or self.default_code
        self.message_en = message_en
        self.message_zh = message_zh
        self.detail = detail
        self.headers = dict(headers or {})  # HTTP headers the response carries (Retry-After …)

    def body(self) -> dict[str, Any]:
        """JSON body sent to clients: stable code first, both languages, optional detail."""
        err: dict[str, Any] = {"code": self.code, "message": self.message_en, "message_zh": self.message_zh}
        if self.detail is not None:
            err["detail"] = self.detail
        return {"error": err}


class InvalidInput(GridopsError):
    status_code = 422
    default_code = "invalid_input"


class BadRequest(GridopsError):
    status_code = 400
    default_code = "bad_request"


class NotAuthenticated(GridopsError):
    status_code = 401
    default_code = "not_authenticated"


class Forbidden(GridopsError):
    status_code = 403
    default_code = "forbidden"


class NotFound(GridopsError):
    status_code = 404
    default_code = "not_found"


class Conflict(GridopsError):
    status_code = 409
    default_code = "conflict"


class PayloadTooLarge(GridopsError):
    status_code = 413
    default_code = "payload_too_large"


class TooManyRequests(GridopsError):
    """Wait and try again: `retry_after` seconds go out as the Retry-After header."""

    status_code = 429
    default_code = "too_many_requests"

    def __init__(self, message_en: str, message_zh: str, *, retry_after: int, code: str | None = None) -> None:
        super().__init__(message_en, message_zh, code=code, detail={"retry_after": retry_after},
                         headers={"Retry-After": str(retry_after)})


class ServiceUnavailable(GridopsError):
    status_code = 503
    default_code = "service_unavailable"


class DatabaseBusy(ServiceUnavailable):
    """A write that waited its whole busy timeout for SQLite's one write lock: nothing was written,
    and the same request later will do. `retry_after` (seconds) is also sent as Retry-After."""

    default_code = "database_busy"

    def __init__(self, retry_after: int = 1) -> None:
        super().__init__(f"the database is busy with other writes; nothing was saved, retry in {retry_after} s",
                         f"数据库正忙，本次未保存，请 {retry_after} 秒后重试", detail={"retry_after": retry_after},
                         headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class InternalError(GridopsError):
    """Never raised by services: what server.request_id sends for an unexpected exception."""

    status_code = 500
    default_code = "internal_error"
