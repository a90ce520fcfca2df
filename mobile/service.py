"""The one facade the app's screens call: log-in, reporting, my work, visits, the queue, sync.

Everything the worker creates is written to the local store first and sent by `sync_now`; the
screens never talk HTTP. No Kivy here (tests drive this module against a real server).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mobile.location import AccuracyVerdict, Fix


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class LoginResult:
    ok: bool
    must_change_password: bool
    error: str | None  # the server's zh message


@dataclass
class QueueItem:
    kind: str  # event | transition | visit | photo | attach
    local_id: str
    created: datetime
    state: str  # queued | sent | failed
    reason: str | None  # zh, when failed or waiting
    attempts: int
    label: str = ""  # a short zh description for the list


@dataclass
class SyncReport:
    sent: int = 0
    failed: int = 0
    pending: int = 0
    offline: bool = False
    errors: list[str] = field(default_factory=list)  # zh


class AppService:
    def __init__(self, data_dir: Path, server_url: str | None = None,
                 now: Callable[[], datetime] = _utcnow) -> None:
        self.data_dir = Path(data_dir)
        self.server_url = server_url
        self.now = now

    def login(self, server_url: str, username: str, password: str) -> LoginResult:
        raise NotImplementedError

    def change_password(self, old: str, new: str) -> str | None:
        raise NotImplementedError

    def logout(self) -> None:
        raise NotImplementedError

    def is_logged_in(self) -> bool:
        raise NotImplementedError

    def user(self) -> dict | None:
        raise NotImplementedError

    def categories(self) -> list[dict]:
        raise NotImplementedError

    def my_grids_geojson(self) -> dict:
        raise NotImplementedError

    def location_check(self, fix: Fix) -> AccuracyVerdict:
        raise NotImplementedError

    def report_event(self, *, category_code: str, description: str, photos: list[Path],
                     fix: Fix | None = None, picked: tuple[float, float] | None = None) -> str:
        raise NotImplementedError

    def my_work(self) -> list[dict]:
        raise NotImplementedError

    def event_detail(self, uuid: str) -> dict:
        raise NotImplementedError

    def record_handled(self, uuid: str, note: str) -> str | None:
        raise NotImplementedError

    def start_visit(self, fix: Fix | None = None) -> str:
        raise NotImplementedError

    def add_track_point(self, fix: Fix) -> None:
        raise NotImplementedError

    def check_in(self, *, target_kind: str, target_id: str | None, note: str, fix: Fix | None) -> None:
        raise NotImplementedError

    def end_visit(self, fix: Fix | None = None) -> str:
        raise NotImplementedError

    def visits(self) -> list[dict]:
        raise NotImplementedError

    def queue_status(self) -> list[QueueItem]:
        raise NotImplementedError

    def sync_now(self) -> SyncReport:
        raise NotImplementedError

    def retry(self, local_id: str) -> None:
        raise NotImplementedError
