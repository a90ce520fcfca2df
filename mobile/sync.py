"""Sending the outbox: in creation order, each request exactly once on the server, whatever fails.

Order of a pass: the app session (the usage indicator), then events, transitions, visits and
key-person updates in the order the worker made them (a row whose parent is not yet acknowledged
waits for it: a transition for its event, a key-person update for its visit), then the photos (their own queue: a large photo on a weak network never
holds an event back), then the photos that arrived after their event was sent are added to it.

A failure is one of two kinds (mobile.api.ApiError.transient):
* the network, a 5xx, a 429/503: the same request is sent again after a backoff (exponential with
  jitter, at least the server's Retry-After), until the pass's time is up; the row stays queued;
* a 4xx refusal (a point outside every grid, a category retired meanwhile, …): the row is kept as
  failed with the server's code and zh message, for the worker to fix and retry; the pass goes on.
A retry never makes a second record: events, visits and key-person updates carry their client uuid, transitions an
Idempotency-Key, photos are keyed by content; and the body is frozen at the first send, so what is
sent again is byte for byte what the server may already hold (it then answers with the first result).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from mobile.api import ApiClient, ApiError
from mobile.store import Store

T = TypeVar("T")
# the rows that wait for a parent row (their `target`), and what the queue says while they wait
WAITING = {"transition": ("waiting_for_event", "等待所属事件先同步"),
           "key_person_update": ("waiting_for_visit", "等待所属走访结束并同步")}


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with "equal jitter": half the step fixed, half random, so phones that lost
    the network together do not all come back in the same second."""

    base_s: float = 1.0
    cap_s: float = 300.0

    def delay(self, failures: int, retry_after: float | None = None, rng: random.Random | None = None) -> float:
        step = min(self.cap_s, self.base_s * 2 ** max(0, failures - 1))
        jittered = step / 2 + (rng or random).uniform(0, step / 2)
        return max(jittered, retry_after or 0.0)


@dataclass
class SyncResult:
    sent: int = 0
    failed: int = 0
    pending: int = 0
    offline: bool = False
    errors: list[str] = field(default_factory=list)


class Offline(Exception):
    """The pass's time ran out while the server could not be reached: try again later."""


class Unauthorized(Exception):
    """The token expired or was revoked: nothing can be sent until the worker logs in again."""


class Syncer:
    def __init__(self, store: Store, api: ApiClient, owner: str, *, now: Callable[[], datetime],
                 backoff: Backoff | None = None, sleep: Callable[[float], None] = time.sleep,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store, self.api, self.owner, self.now = store, api, owner, now
        self.backoff, self.sleep, self.monotonic = backoff or Backoff(), sleep, monotonic
        self.deadline = 0.0
        self.result = SyncResult()

    # ---------------------------------------------------------------- retrying one request
    def _send(self, request: Callable[[], T], on_wait: Callable[[ApiError], None] | None = None) -> T:
        """The request's answer; ApiError for a refusal; Offline when the pass's time is up."""
        failures = 0
        while True:
            try:
                return request()
            except ApiError as exc:
                if exc.unauthorized:
                    raise Unauthorized() from exc
                if not exc.transient:
                    raise
                failures += 1
                if on_wait:
                    on_wait(exc)
                wait = self.backoff.delay(failures, exc.retry_after)
                if self.monotonic() + wait > self.deadline:
                    raise Offline() from exc
                self.sleep(wait)

    # ---------------------------------------------------------------- a pass
    def run(self, max_seconds: float = 30.0) -> SyncResult:
        """One pass over everything queued; never raises for the network (the result says offline)."""
        self.deadline = self.monotonic() + max_seconds
        self.result = SyncResult()
        try:
            self._app_session()
            self._outbox()
            self._photos()
            self._attach()
        except Offline as exc:
            cause = exc.__cause__
            self.store.note_offline(self.owner, getattr(cause, "code", "network"),
                                    getattr(cause, "message_zh", "网络不可用，稍后自动重试"))
            self.result.offline = True
            self.result.errors.append("网络不可用，未发送的记录已保留，将自动重试")
        except Unauthorized:
            self.result.errors.append("登录已过期，请重新登录后同步")
        self.result.pending = (len(self.store.items(self.owner, ("queued",)))
                               + len(self.store.photos(self.owner, ("queued",))) + len(self._unattached()))
        return self.result

    def _app_session(self) -> None:
        try:
            self._send(self.api.app_session)
        except ApiError:
            pass  # an old server without the route: the queue matters more than the usage count

    def _outbox(self) -> None:
        """In creation order; a row whose parent is not acknowledged yet waits (a key-person update is
        made during its visit, so before the visit's row): it is tried again once the rows made after
        it were sent, so a visit and its updates go out in the same pass."""
        deferred = []
        for item in self.store.items(self.owner, ("queued",)):
            if self._waits(item):
                deferred.append(item)
                continue
            self._send_item(item)
        for item in deferred:
            if not self._waits(item, note=True):
                self._send_item(item)

    def _waits(self, item: dict[str, Any], *, note: bool = False) -> bool:
        """Whether the row's parent (a transition's event, a key-person update's visit) is not yet
        on the server. An event missing from the phone was made elsewhere, on the server; a visit
        missing from the outbox is still running."""
        if item["kind"] not in WAITING:
            return False
        target = self.store.item(item["target"])
        if target is None:
            waits = item["kind"] == "key_person_update"
        else:
            waits = target["state"] != "sent"
        if waits and note:
            self.store.note_waiting(item["local_id"], *WAITING[item["kind"]])
        return waits

    def _body(self, item: dict[str, Any]) -> dict[str, Any]:
        """The frozen body, or the one this first send freezes (with the photos the server has now)."""
        if item["body"] is None:
            body = {k: v for k, v in item["payload"].items() if k != "person_id"}  # the path names the person
            if item["kind"] in ("event", "visit"):
                states = self.store.photo_states(item["photos"])
                body["photos"] = [k for k in item["photos"] if states.get(k) == "sent"]
            self.store.freeze_body(item["local_id"], body)
        frozen = self.store.item(item["local_id"])
        assert frozen is not None and frozen["body"] is not None
        return frozen["body"]

    def _send_item(self, item: dict[str, Any]) -> None:
        local_id, kind = item["local_id"], item["kind"]
        body = self._body(item)
        calls: dict[str, Callable[[], dict[str, Any]]] = {
            "event": lambda: self.api.create_event(body),
            "visit": lambda: self.api.create_visit(body),
            "transition": lambda: self.api.transition(item["target"], body, key=local_id),
            "key_person_update": lambda: self.api.key_person_update(item["payload"]["person_id"], body),
        }

        def attempt() -> dict[str, Any]:
            self.store.attempted(local_id)
            return calls[kind]()

        def waiting(exc: ApiError) -> None:
            self.store.note_waiting(local_id, exc.code, exc.message_zh)

        try:
            response = self._send(attempt, waiting)
        except ApiError as exc:
            self.store.mark_failed(local_id, exc.code, exc.message_zh)
            self.result.failed += 1
            self.result.errors.append(f"{item['label'] or kind}：{exc.message_zh}")
            return
        self.store.mark_sent(local_id, response, list(response.get("photos") or []), self.now())
        self.result.sent += 1

    def _photos(self) -> None:
        for photo in self.store.photos(self.owner, ("queued",)):
            key = photo["sha256"]
            path = Path(photo["path"])
            if not path.exists():
                self.store.photo_failed(key, "photo_file_missing", "照片文件已丢失，请重新拍摄", final=True)
                self.result.failed += 1
                continue
            data = path.read_bytes()

            def attempt(key: str = key, data: bytes = data, name: str = path.name) -> dict[str, Any]:
                self.store.photo_attempted(key)
                return self.api.upload_photo(data, name)

            def waiting(exc: ApiError, key: str = key) -> None:
                self.store.photo_failed(key, exc.code, exc.message_zh, final=False)

            try:
                answer = self._send(attempt, waiting)
            except ApiError as exc:
                self.store.photo_failed(key, exc.code, exc.message_zh, final=True)
                self.result.failed += 1
                self.result.errors.append(f"照片：{exc.message_zh}")
                continue
            if answer.get("sha256") != key:  # the server stored other bytes than the file holds
                self.store.photo_failed(key, "photo_hash_mismatch", "照片校验失败，将重新上传", final=False)
                continue
            self.store.photo_sent(key, self.now())
            self.result.sent += 1

    def _unattached(self) -> list[tuple[dict[str, Any], list[str]]]:
        """Sent events whose server record lacks some of their photos (not those refused for good,
        which the queue lists as failed photos)."""
        out = []
        for item in self.store.items(self.owner, ("sent",)):
            if item["kind"] == "event":
                states = self.store.photo_states(item["photos"])
                missing = [k for k in item["photos"] if k not in set(item["photos_sent"]) and states.get(k) != "failed"]
                if missing:
                    out.append((item, missing))
        return out

    def _attach(self) -> None:
        for item, missing in self._unattached():
            states = self.store.photo_states(missing)
            ready = [k for k in missing if states.get(k) == "sent"]
            if not ready:
                continue
            try:
                response = self._send(lambda uuid=item["local_id"], keys=ready: self.api.attach_photos(uuid, keys))
            except ApiError as exc:
                self.store.note_waiting(item["local_id"], exc.code, exc.message_zh)
                self.result.errors.append(f"{item['label']}：补充照片失败：{exc.message_zh}")
                continue
            self.store.set_photos_sent(item["local_id"], list(response.get("photos") or []), response)
