"""What the OpenAPI document says about responses that are not a view's own model.

The error envelope is written once here and attached to the API router, so every operation
documents what `server.main`'s handlers really send (FastAPI's `{"detail": …}` 422 never
goes out). File and stream endpoints name their real media types, so a generated client
does not try to parse a CSV or a JPEG as JSON.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class ErrorInfo(BaseModel):
    code: str = Field(description="stable machine code to branch on, e.g. token_expired, grid_not_found")
    message: str
    message_zh: str
    detail: Any = Field(default=None, description="only when there is more: validation errors, allowed_next …")
    request_id: str | None = Field(default=None, description="internal_error only: the id of the log line, also "
                                                              "in the X-Request-ID header of every response")


class ErrorBody(BaseModel):
    """Every error response, whatever the status (see server.errors.GridopsError.body)."""

    error: ErrorInfo


def error(description: str) -> dict[str, Any]:
    """One documented error status with the envelope as its body."""
    return {"model": ErrorBody, "description": description}


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: error("no, expired or invalid bearer token (token_missing, token_expired …); wrong password at login"),
    403: error("the user's role or scope does not allow this (role_forbidden, scope_forbidden …)"),
    404: error("no such record, or not visible to this user"),
    409: error("conflicts with the stored state: illegal transition, idempotency key reused, code taken …"),
    413: error("body over the limit of the endpoint (body_too_large; uploads: upload_too_large)"),
    422: error("invalid input; validation_error lists {loc, msg, type} in error.detail (control_characters, "
               "datetime_out_of_range … when every error is of that one kind)"),
    500: error("internal_error: a fault of the server, logged with error.request_id"),
    503: error("database_busy: nothing was saved, send the same request again after Retry-After seconds "
               "(also error.detail.retry_after)"),
}
UPLOAD_RESPONSES: dict[int | str, dict[str, Any]] = {
    413: error("body or file over the size limit (upload_too_large, photo_too_large)"),
}

BINARY = {"type": "string", "format": "binary"}


def file_response(description: str, *media_types: str, schema: dict[str, Any] = BINARY) -> dict[int | str, Any]:
    """A 200 whose body is a file or stream of these media types (use with response_class=Response)."""
    return {200: {"description": description, "content": {m: {"schema": schema} for m in media_types}}}
