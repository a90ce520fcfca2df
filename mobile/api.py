"""The gridops API as the app uses it, over httpx. Every failure becomes an ApiError that says
whether trying again later can help (network, 5xx, 429/503 with Retry-After) or the server refused
the request for good (4xx, with its stable code and zh message for the worker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

APP_VERSION = "0.1.0"
CLIENT = f"gridops-app/{APP_VERSION}"
API = "/api/v1"


@dataclass
class ApiError(Exception):
    status: int | None  # None: no answer (network)
    code: str
    message_zh: str
    message_en: str = ""
    retry_after: float | None = None
    detail: Any = None

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message_en or self.message_zh}"

    @property
    def transient(self) -> bool:
        """Worth sending again unchanged: no answer, a server fault, or "busy, come back later"."""
        return self.status is None or self.status >= 500 or self.status in (408, 429)

    @property
    def unauthorized(self) -> bool:
        return self.status == 401


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the backoff's own delay serves


def _error(r: httpx.Response) -> ApiError:
    try:
        err = r.json()["error"]
        code, zh, en, detail = err["code"], err.get("message_zh") or err["message"], err["message"], err.get("detail")
    except (ValueError, KeyError, TypeError):
        code, zh, en, detail = f"http_{r.status_code}", f"服务器错误（{r.status_code}）", r.text[:200], None
    return ApiError(r.status_code, code, zh, en, _retry_after(r.headers.get("Retry-After")), detail)


class ApiClient:
    """One server, one token. Timeouts are short for calls and long for photo uploads."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 20.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._http = httpx.Client(base_url=self.base_url + API, timeout=timeout, transport=transport,
                                  headers={"User-Agent": CLIENT})

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            r = self._http.request(method, path, headers=headers, **kw)
        except httpx.TransportError as exc:  # refused, reset, timed out, DNS: nothing was answered
            raise ApiError(None, "network", "网络不可用，稍后自动重试", f"{type(exc).__name__}: {exc}") from exc
        if r.status_code >= 400:
            raise _error(r)
        return r

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        r = self._call(method, path, **kw)
        try:
            return r.json()
        except ValueError as exc:  # a proxy's page, a cut body
            raise ApiError(None, "bad_response", "服务器响应不完整，稍后重试", r.text[:200]) from exc

    # ---------------------------------------------------------------- account
    def login(self, username: str, password: str) -> str:
        data = self._json("POST", "/auth/token", data={"username": username, "password": password})
        self.token = data["access_token"]
        return self.token

    def me(self) -> dict[str, Any]:
        return self._json("GET", "/auth/me")

    def change_password(self, current: str, new: str) -> dict[str, Any]:
        return self._json("POST", "/auth/password", json={"current_password": current, "new_password": new})

    def app_session(self) -> dict[str, Any]:
        return self._json("POST", "/app/sessions", json={"app_version": APP_VERSION})

    # ---------------------------------------------------------------- reference data
    def categories(self) -> list[dict[str, Any]]:
        return self._json("GET", "/events/categories")

    def grids_geojson(self) -> dict[str, Any]:
        return self._json("GET", "/grids/geojson", params={"page_size": 5000})

    # ---------------------------------------------------------------- events
    def create_event(self, body: dict[str, Any]) -> dict[str, Any]:
        """201 the first time, 200 with the first result for a retry of the same uuid and body."""
        return self._json("POST", "/events", json=body)

    def attach_photos(self, uuid: str, keys: list[str]) -> dict[str, Any]:
        return self._json("POST", f"/events/{uuid}/photos", json={"photos": keys})

    def transition(self, uuid: str, body: dict[str, Any], key: str) -> dict[str, Any]:
        return self._json("POST", f"/events/{uuid}/transitions", json=body, headers={"Idempotency-Key": key})

    def event(self, uuid: str) -> dict[str, Any]:
        return self._json("GET", f"/events/{uuid}")

    def events(self, page: int = 1, page_size: int = 100) -> dict[str, Any]:
        return self._json("GET", "/events", params={"page": page, "page_size": page_size, "sort": "-updated_at"})

    def changes(self, cursor: int, limit: int = 500) -> dict[str, Any]:
        return self._json("GET", "/events/changes", params={"cursor": cursor, "limit": limit})

    def all_changes(self, cursor: int) -> tuple[list[dict[str, Any]], int]:
        """Every change after `cursor`, page after page, and the cursor to ask from next time."""
        found: list[dict[str, Any]] = []
        while True:
            page = self.changes(cursor)
            found += page["changes"]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                return found, cursor

    # ---------------------------------------------------------------- photos and visits
    def upload_photo(self, data: bytes, filename: str, timeout: float = 120.0) -> dict[str, Any]:
        return self._json("POST", "/photos", files={"file": (filename, data, "image/jpeg")}, timeout=timeout)

    def create_visit(self, body: dict[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/visits", json=body)

    def visit(self, uuid: str) -> dict[str, Any]:
        return self._json("GET", f"/visits/{uuid}")

    # ---------------------------------------------------------------- key persons (重点人员)
    def key_persons(self, page: int = 1, page_size: int = 500) -> dict[str, Any]:
        """The people of the worker's grids, masked, with their follow-up state."""
        return self._json("GET", "/key-persons", params={"page": page, "page_size": page_size})

    def key_person(self, person_id: int) -> dict[str, Any]:
        return self._json("GET", f"/key-persons/{person_id}")

    def key_person_update(self, person_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """201 the first time, 200 with the first record for a retry of the same uuid."""
        return self._json("POST", f"/key-persons/{person_id}/updates", json=body)
