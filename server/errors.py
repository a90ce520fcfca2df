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
    ) -> None:
        super().__init__(message_en)
        self.code = code or self.default_code
        self.message_en = message_en
        self.message_zh = message_zh
        self.detail = detail

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


class InternalError(GridopsError):
    """Never raised by services: what server.request_id sends for an unexpected exception."""

    status_code = 500
    default_code = "internal_error"
