"""The one facade the app's screens call: log-in, reporting, my work, visits, the queue, sync.

Everything the worker creates is written to the local store first and sent by `sync_now`; the
screens never talk HTTP and never wait for the network to keep what the worker did. No Kivy here
(tests drive this module against a real server).
"""

from __future__ import annotations

import uuid as uuid_
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mobile import location, photos, track
from mobile.api import ApiClient, ApiError
from mobile.clock import phone_now
from mobile.location import AccuracyVerdict, Fix
from mobile.store import Store
from mobile.sync import Backoff, Syncer

DEFAULT_BACKOFF, DEFAULT_TRACK_RULES = Backoff(), track.TrackRules()
STATE_ZH = {"queued": "待发送", "sent": "已发送", "failed": "发送失败"}
KIND_ZH = {"event": "事件上报", "transition": "处置登记", "visit": "巡查走访", "photo": "照片",
           "key_person_update": "重点人员信息更新"}
CHECK_IN_KINDS = {"household": "住户", "rental": "出租屋", "key_person": "重点人员"}
FOLLOW_UP_ZH = {"up_to_date": "已按期走访", "due_soon": "即将到期", "overdue": "已逾期"}


@dataclass
class LoginResult:
    ok: bool
    must_change_password: bool
    error: str | None  # the server's zh message


@dataclass
class QueueItem:
    kind: str  # event | transition | visit | photo
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
    """One worker's phone: a store in `data_dir`, the server it logged in to, and a clock."""

    def __init__(self, data_dir: Path, server_url: str | None = None,
                 now: Callable[[], datetime] = phone_now, *, backoff: Backoff = DEFAULT_BACKOFF,
                 warn_accuracy_m: float = location.DEFAULT_WARN_ACCURACY_M,
                 track_rules: track.TrackRules = DEFAULT_TRACK_RULES) -> None:
        self.data_dir = Path(data_dir)
        self.store = Store(self.data_dir)
        self.now = now
        self.backoff = backoff
        self.warn_accuracy_m = warn_accuracy_m
        self.track_rules = track_rules
        self.server_url = server_url or self.store.get("server_url")
        self._track: track.TrackFilter | None = None

    def close(self) -> None:
        self.store.close()

    def _api(self) -> ApiClient:
        if not self.server_url:
            raise RuntimeError("no server: log in first")
        return ApiClient(self.server_url, self.store.get("token"))

    def _owner(self) -> str:
        u = self.store.get("user")
        if u is None:
            raise RuntimeError("not logged in")
        return str(u["username"])

    # ---------------------------------------------------------------- account
    def login(self, server_url: str, username: str, password: str) -> LoginResult:
        """Logs in and downloads what the app needs offline (user, categories, grids, my work)."""
        api = ApiClient(server_url)
        try:
            token = api.login(username, password)
            me = api.me()
        except ApiError as exc:
            api.close()
            return LoginResult(False, False, exc.message_zh)
        self.server_url = server_url.rstrip("/")
        with self.store.transaction():
            self.store.put("server_url", self.server_url)
            self.store.put("token", token)
            self.store.put("user", {**me, "grid_codes": []})
        if me.get("must_change_password"):  # the server answers nothing else until it is changed
            api.close()
            return LoginResult(True, True, None)
        try:
            self._download(api)
        except ApiError as exc:
            return LoginResult(False, False, exc.message_zh)
        finally:
            api.close()
        return LoginResult(True, False, None)

    def _download(self, api: ApiClient) -> None:
        """What the app needs offline: categories, the worker's grids and my work."""
        categories = api.categories()
        grids = api.grids_geojson()
        with self.store.transaction():
            user = self.store.get("user") or {}
            self.store.put("user", {**user, "grid_codes": sorted(f["id"] for f in grids.get("features", []))})
            self.store.put("categories", categories)
            self.store.put("grids", grids)
        self._refresh_work()
        self._refresh_key_persons(api)

    def _refresh_key_persons(self, api: ApiClient) -> None:
        """The key persons of my grids (masked, as the server lists them to a worker), kept so the
        visit screen offers them offline; the follow-up state is the server's at this refresh."""
        people: list[dict] = []
        try:
            page = 1
            while True:
                answer = api.key_persons(page=page)
                people += answer["items"]
                if page * answer["page_size"] >= answer["total"]:
                    break
                page += 1
        except ApiError:
            return  # offline or an older server: the cache stays as it was
        self.store.put("key_persons", [
            {k: p.get(k) for k in ("id", "type_code", "type_name", "name", "address", "grid_code", "follow_up",
                                   "next_due_at", "last_update_at")} for p in people])

    def key_persons(self) -> list[dict]:
        """The key persons of my grids as cached at the last log-in or sync, the most urgent first:
        id, type name, masked name and address, follow_up (and its zh), next_due_at."""
        rank = {"overdue": 0, "due_soon": 1, "up_to_date": 2}
        rows = [{**p, "follow_up_zh": FOLLOW_UP_ZH.get(p["follow_up"], p["follow_up"])}
                for p in self.store.get("key_persons", [])]
        return sorted(rows, key=lambda p: (rank.get(p["follow_up"], 3), p["next_due_at"] or "", p["id"]))

    def _key_person_label(self, person_id: int) -> str:
        p = next((p for p in self.store.get("key_persons", []) if p["id"] == person_id), None)
        return f"{p['type_name']} {p['name']}" if p else f"编号 {person_id}"

    def change_password(self, old: str, new: str) -> str | None:
        """None when the server took the new password; else its reason (zh). Needs the network."""
        api = self._api()
        try:
            me = api.change_password(old, new)
        except ApiError as exc:  # the server's password policy speaks for itself (GET /auth/password-policy)
            return exc.message_zh
        finally:
            api.close()
        user = self.store.get("user") or {}
        self.store.put("user", {**user, **me})
        api = self._api()
        try:
            self._download(api)  # refused until now: the first log-in with an initial password
        except ApiError as exc:
            return exc.message_zh
        finally:
            api.close()
        return None

    def must_change_password(self) -> bool:
        return bool((self.store.get("user") or {}).get("must_change_password"))

    def logout(self) -> None:
        """Forgets the token, keeps the queue: what was not sent goes out at the next log-in."""
        self.store.delete("token")

    def is_logged_in(self) -> bool:
        return self.store.get("token") is not None and self.store.get("user") is not None

    def user(self) -> dict | None:
        u = self.store.get("user")
        if u is None:
            return None
        return {"username": u["username"], "name": u.get("full_name"), "role": u.get("role"),
                "grid_codes": u.get("grid_codes", [])}

    def categories(self) -> list[dict]:
        """Two levels, active ones only, as cached at the last log-in or sync."""
        rows = [c for c in self.store.get("categories", []) if c.get("active", True)]
        tops = [{"code": c["code"], "name": c["name"], "children": []} for c in rows if not c.get("parent_code")]
        by_code = {t["code"]: t for t in tops}
        for c in rows:
            if c.get("parent_code") in by_code:
                by_code[c["parent_code"]]["children"].append({"code": c["code"], "name": c["name"]})
        return tops

    def my_grids_geojson(self) -> dict:
        return self.store.get("grids", {"type": "FeatureCollection", "features": []})

    def location_check(self, fix: Fix) -> AccuracyVerdict:
        return location.check(fix, self.warn_accuracy_m)

    # ---------------------------------------------------------------- events
    def report_event(self, *, category_code: str, description: str, photos: list[Path],
                     fix: Fix | None = None, picked: tuple[float, float] | None = None,
                     picked_datum: str = "cgcs2000") -> str:
        """Queues a report; returns its uuid. `picked` (lon, lat) is a point chosen on the app's map,
        whose boundaries are the server's CGCS2000 (so its datum is cgcs2000 unless said)."""
        if not description.strip():
            raise ValueError("请填写事件描述")
        if fix is None and picked is None:
            raise ValueError("请定位或在地图上选点")
        owner = self._owner()
        now = self.now()
        keys = [self._add_photo(p, owner, now) for p in photos]
        payload: dict[str, Any] = {"uuid": str(uuid_.uuid4()), "category_code": category_code,
                                   "description": description, "reported_at": now.isoformat()}
        if picked is not None:
            payload.update(lon=picked[0], lat=picked[1], datum=picked_datum)
        else:
            assert fix is not None
            payload.update(lon=fix.lon, lat=fix.lat, datum=fix.datum, gps_accuracy_m=fix.accuracy_m)
        if fix is not None and fix.mock:
            payload["location_mock"] = True
        name = self._category_name(category_code)
        self.store.enqueue(local_id=payload["uuid"], kind="event", owner=owner, payload=payload, created_at=now,
                           label=f"{name}：{description[:20]}", photos=keys)
        return str(payload["uuid"])

    def _add_photo(self, path: Path, owner: str, now: datetime) -> str:
        key, stored, size = photos.store_compressed(Path(path), self.data_dir / "photos")
        self.store.add_photo(sha256=key, path=stored, size=size, owner=owner, created_at=now)
        return key

    def _category_name(self, code: str) -> str:
        return next((c["name"] for c in self.store.get("categories", []) if c["code"] == code), code)

    def my_work(self) -> list[dict]:
        """My reports and the events of my grids: the server's view as last synced, and what is
        still on the phone (sync state queued/failed), newest first."""
        owner = self._owner()
        out: dict[str, dict] = {}
        for e in self.store.work(owner):
            out[e["uuid"]] = self._work_row(e, "sent")
        for item in self.store.items(owner):
            if item["kind"] != "event" or item["local_id"] in out:
                continue
            if item["state"] == "sent" and item["response"]:
                out[item["local_id"]] = self._work_row(item["response"], "sent")
            else:
                p = item["payload"]
                out[item["local_id"]] = {
                    "uuid": item["local_id"], "short_id": item["local_id"][:8],
                    "category_name": self._category_name(p["category_code"]), "description": p["description"],
                    "state": None, "state_zh": STATE_ZH[item["state"]], "deadline": None,
                    "reported_at": p["reported_at"], "sync_state": item["state"], "reason": item["reason"]}
        return sorted(out.values(), key=lambda r: r["reported_at"], reverse=True)

    @staticmethod
    def _work_row(e: dict, sync_state: str) -> dict:
        return {"uuid": e["uuid"], "short_id": e["uuid"][:8], "category_name": e["category_name"],
                "description": e["description"], "state": e["state"], "state_zh": e["state_zh"],
                "deadline": e.get("due_at"), "closure_due_at": e.get("closure_due_at"), "overdue": e.get("overdue"),
                "reported_at": e["reported_at"], "allowed_next": e.get("allowed_next", []),
                "sync_state": sync_state, "reason": None}

    def event_detail(self, uuid: str) -> dict:
        """The server's record with its history (fetched if the network allows, else as cached)."""
        try:
            api = self._api()
            try:
                e = api.event(uuid)
            finally:
                api.close()
            self.store.put_work(self._owner(), [e])
            return e
        except (ApiError, RuntimeError):
            cached = self.store.work_item(uuid)
            if cached is not None:
                return cached
            item = self.store.item(uuid)
            if item is None:
                raise KeyError(uuid) from None
            return {**(item["response"] or item["payload"]), "uuid": uuid, "history": [],
                    "sync_state": item["state"], "reason": item["reason"]}

    def record_handled(self, uuid: str, note: str) -> str | None:
        """Queues the on-the-spot handling (就地处置) of an event of my grids; a reason (zh) if not allowed."""
        user = self.store.get("user") or {}
        if user.get("role") not in ("grid_worker", "street_admin", "district_admin", "command_center"):
            return "当前角色无权登记处置"
        event = self.store.work_item(uuid)
        if event is None:
            return "该事件尚未同步，请同步后再登记处置"
        if "handled" not in event.get("allowed_next", []):
            return f"事件当前状态为“{event.get('state_zh')}”，不能登记处置"
        if not note.strip():
            return "请填写处置情况"
        key = str(uuid_.uuid4())
        self.store.enqueue(local_id=key, kind="transition", owner=self._owner(), target=uuid, created_at=self.now(),
                           payload={"to_state": "handled", "note": note}, label=f"处置：{event['category_name']}")
        return None

    # ---------------------------------------------------------------- visits
    def start_visit(self, fix: Fix | None = None) -> str:
        if self.store.get("visit_current") is not None:
            raise RuntimeError("已有进行中的走访")
        visit = {"uuid": str(uuid_.uuid4()), "started_at": self.now().isoformat(),
                 "datum": fix.datum if fix else None, "owner": self._owner()}
        self.store.put("visit_current", visit)
        self._track = track.TrackFilter(self.track_rules)
        if fix is not None:
            self.add_track_point(fix)
        return str(visit["uuid"])

    def _visit(self, fix: Fix | None) -> dict:
        visit = self.store.get("visit_current")
        if visit is None:
            raise RuntimeError("没有进行中的走访")
        if fix is not None:
            if visit["datum"] is None:
                visit["datum"] = fix.datum
                self.store.put("visit_current", visit)
            elif fix.datum != visit["datum"]:
                raise ValueError(f"a visit's points share one datum ({visit['datum']}), got {fix.datum}")
        return visit

    def add_track_point(self, fix: Fix) -> None:
        """Keeps the fix if the track rules want it (distance moved, time passed, accuracy)."""
        visit = self._visit(fix)
        if self._track is None:  # the app was restarted during the visit: go on from the last kept point
            self._track = track.TrackFilter(self.track_rules)
        if self._track.accept(fix):
            self.store.add_point(visit["uuid"], kind="track", lon=fix.lon, lat=fix.lat, accuracy_m=fix.accuracy_m,
                                 datum=fix.datum, at=fix.time, mock=fix.mock)

    def check_in(self, *, target_kind: str, target_id: str | int | None, note: str, fix: Fix | None) -> None:
        """A stop at a household, a rental or a key person: always kept, with its point. At a key
        person (target_id: the register's id) it also queues an information update tied to the visit,
        sent once the server has accepted the visit (the server takes only the worker's own visit)."""
        if target_kind not in CHECK_IN_KINDS:
            raise ValueError(f"target_kind must be one of {sorted(CHECK_IN_KINDS)}")
        person_id = None
        if target_kind == "key_person":
            try:
                person_id = int(str(target_id))
            except ValueError:
                raise ValueError("请选择重点人员") from None
            target_id = str(person_id)
        visit = self._visit(fix)
        if fix is None:
            last = self.store.points(visit["uuid"])
            if not last:
                raise ValueError("签到需要定位")
            p = last[-1]
            fix = Fix(p["lon"], p["lat"], p["accuracy_m"], p["datum"], "track", self.now(), bool(p["mock"]))
        with self.store.transaction():
            self.store.add_point(visit["uuid"], kind="checkin", lon=fix.lon, lat=fix.lat, accuracy_m=fix.accuracy_m,
                                 datum=fix.datum, at=fix.time, mock=fix.mock, target_kind=target_kind,
                                 target_id=target_id, note=note)
            if person_id is not None:
                key = str(uuid_.uuid4())
                payload = {"person_id": person_id, "uuid": key, "at": fix.time.isoformat(),
                           "note": note.strip()[:2000] or None, "visit_uuid": visit["uuid"]}
                self.store.enqueue(local_id=key, kind="key_person_update", owner=visit["owner"], target=visit["uuid"],
                                   payload=payload, created_at=self.now(),
                                   label=f"重点人员信息更新：{self._key_person_label(person_id)}")

    def end_visit(self, fix: Fix | None = None) -> str:
        """Queues the visit with its (thinned) track and check-ins; the verdict comes after sync."""
        visit = self._visit(fix)
        if fix is not None:
            self.store.add_point(visit["uuid"], kind="track", lon=fix.lon, lat=fix.lat, accuracy_m=fix.accuracy_m,
                                 datum=fix.datum, at=fix.time, mock=fix.mock)
        points = track.thin(self.store.points(visit["uuid"]))
        if not points:
            raise ValueError("走访没有任何定位点，无法提交")
        checkins = [p for p in points if p["kind"] == "checkin"]
        households = [p["target_id"] or p["note"] or "" if p["target_kind"] == "household"
                      else f"{CHECK_IN_KINDS[p['target_kind']]}:{p['target_id'] or p['note'] or ''}" for p in checkins]
        notes = "\n".join(f"{CHECK_IN_KINDS[p['target_kind']]} {p['target_id'] or ''}：{p['note']}"
                          for p in checkins if p["note"])
        mocked = sum(p["mock"] for p in points)
        if mocked:
            notes = (notes + "\n" if notes else "") + f"[模拟定位] {mocked}个定位点来自模拟定位"
        payload = {"uuid": visit["uuid"], "started_at": visit["started_at"], "ended_at": self.now().isoformat(),
                   "datum": visit["datum"], "points": [{"lon": p["lon"], "lat": p["lat"], "at": p["at"]} for p in points],
                   "households": [h[:128] for h in households if h][:200], "notes": notes[:4000] or None}
        with self.store.transaction():
            self.store.enqueue(local_id=visit["uuid"], kind="visit", owner=visit["owner"], payload=payload,
                               created_at=self.now(), label=f"走访：{len(checkins)}处签到，{len(points)}个定位点")
            self.store.delete("visit_current")
        self._track = None
        return str(visit["uuid"])

    def visits(self) -> list[dict]:
        """My visits, newest first: the server's verdict (counted, reason) once synced."""
        out = []
        for item in reversed(self.store.items(self._owner())):
            if item["kind"] != "visit":
                continue
            r, p = item["response"] or {}, item["payload"]
            out.append({"uuid": item["local_id"], "started_at": p["started_at"], "ended_at": p["ended_at"],
                        "points": len(p["points"]), "sync_state": item["state"], "reason": item["reason"],
                        "counted": r.get("counted"), "not_counted_reason": r.get("not_counted_reason"),
                        "not_counted_detail": r.get("not_counted_detail"), "minutes": r.get("minutes")})
        return out

    # ---------------------------------------------------------------- queue and sync
    def queue_status(self) -> list[QueueItem]:
        owner = self._owner()
        rows = [QueueItem(i["kind"], i["local_id"], datetime.fromisoformat(i["created_at"]), i["state"], i["reason"],
                          i["attempts"], i["label"]) for i in self.store.items(owner)]
        rows += [QueueItem("photo", p["sha256"], datetime.fromisoformat(p["created_at"]), p["state"], p["reason"],
                           p["attempts"], f"照片 {p['size'] // 1024} KB") for p in self.store.photos(owner)]
        return sorted(rows, key=lambda q: q.created)

    def sync_now(self, max_seconds: float = 20.0) -> SyncReport:
        """Sends what it can within `max_seconds`; never drops anything; refreshes my work."""
        if not self.is_logged_in():
            return SyncReport(errors=["请先登录"])
        api = self._api()
        try:
            result = Syncer(self.store, api, self._owner(), now=self.now, backoff=self.backoff).run(max_seconds)
            if not result.offline:
                self._refresh_work(api)
                self._refresh_key_persons(api)
        finally:
            api.close()
        return SyncReport(result.sent, result.failed, result.pending, result.offline, result.errors)

    def retry(self, local_id: str) -> None:
        """The worker's retry of a failed row (after fixing what the server said, or a rental/category
        restored on the server): queued again; the next sync sends it."""
        if self.store.item(local_id) is not None:
            self.store.requeue(local_id)
        else:
            self.store.requeue_photo(local_id)

    def fix_event(self, local_id: str, **changes: Any) -> None:
        """Edit a rejected report (its category, description, point) and queue it again."""
        item = self.store.item(local_id)
        if item is None or item["kind"] != "event" or item["state"] != "failed":
            raise ValueError("只能修改发送失败的事件")
        allowed = {"category_code", "description", "lon", "lat", "datum", "address"}
        if set(changes) - allowed:
            raise ValueError(f"can change only {sorted(allowed)}")
        self.store.requeue(local_id, {**item["payload"], **changes})

    def _refresh_work(self, api: ApiClient | None = None) -> None:
        """My work from the server: the events I may see (mine and my grids'), newest changes first;
        the change feed's cursor kept so that the next refresh fetches only the events that changed."""
        own = api is None
        api = api or self._api()
        try:
            owner = self._owner()
            cursor = self.store.get("changes_cursor", 0)
            if cursor == 0:
                page = api.events(page_size=100)
                self.store.put_work(owner, page["items"])
            found, cursor = api.all_changes(cursor)
            changed = [c["event_uuid"] for c in found]
            if self.store.get("changes_cursor", 0) != 0:
                fresh = list(dict.fromkeys(changed))
                if len(fresh) > 50:
                    self.store.put_work(owner, api.events(page_size=100)["items"])
                else:
                    self.store.put_work(owner, [api.event(u) for u in fresh])
            self.store.put("changes_cursor", cursor)
        except ApiError:
            pass  # the cache stays as it was; the queue does not depend on it
        finally:
            if own:
                api.close()
