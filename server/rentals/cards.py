"""Tenants from access-controller card events (门禁数据): detections for a worker to confirm.

* card issued at a rental's controller, unknown card → a tenant `pending` and a pending
  registration (source card_issued): someone moved in and must be registered;
* card revoked → a pending deregistration (card_revoked) and status deregistration_candidate;
* no entry with a registered card for `no_entry_days` → a pending deregistration (no_entry),
  dated when the silence reached that length;
* entry swipes keep `last_entry_at`.
Nothing is registered or deregistered without a person confirming it (service.confirm_registration,
service.deregister) or rejecting the detection (service.reject_record). Events are read once, in
id order, from where the last sync stopped (rental_card_cursor).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from server.devices.models import CardEvent
from server.rentals.models import CardCursor, RentalAccessController, Tenant, TenantRecord
from server.rentals.schemas import CardSyncReport, TenantStatus

CURSOR = "cards"
CHUNK = 20_000
ACTIVE = (TenantStatus.pending.value, TenantStatus.registered.value, TenantStatus.deregistration_candidate.value)


Holders = dict[tuple[int, str], Tenant]


def _holders(db_session: Session, rental_ids: set[int]) -> Holders:
    """The active tenant holding each card at these rentals (the newest, if a card was reissued): loaded
    once per chunk, because a query per event made a year of a building's swipes take minutes."""
    tenants = db_session.scalars(select(Tenant).where(Tenant.rental_id.in_(rental_ids), Tenant.card_no.is_not(None),
                                                      Tenant.status.in_(ACTIVE)).order_by(Tenant.id))
    return {(t.rental_id, t.card_no): t for t in tenants if t.card_no is not None}


def _candidate(db_session: Session, tenant: Tenant, source: str, at: datetime) -> bool:
    if tenant.status == TenantStatus.deregistration_candidate.value:
        return False
    tenant.status = TenantStatus.deregistration_candidate.value
    db_session.add(TenantRecord(tenant_id=tenant.id, kind="deregistration", status="pending", source=source,
                                occurred_at=at))
    return True


def _apply(db_session: Session, holders: Holders, rental_id: int, ts: datetime, card_no: str, action: str,
           report: dict[str, int], now: datetime) -> None:
    """Nothing here makes a tenant inactive, so `holders` stays true through a chunk once new ones are added."""
    tenant = holders.get((rental_id, card_no))
    if action == "issued" and tenant is None:
        tenant = Tenant(rental_id=rental_id, card_no=card_no, status=TenantStatus.pending.value, source="card",
                        moved_in_at=ts, created_at=now)
        db_session.add(tenant)
        db_session.flush()
        holders[rental_id, card_no] = tenant
        db_session.add(TenantRecord(tenant_id=tenant.id, kind="registration", status="pending", source="card_issued",
                                    occurred_at=ts))
        report["registrations"] += 1
    elif action == "revoked" and tenant is not None:
        report["deregistrations"] += _candidate(db_session, tenant, "card_revoked", ts)
    elif action == "entry" and tenant is not None:
        tenant.last_entry_at = max(tenant.last_entry_at, ts) if tenant.last_entry_at else ts


def _events(db_session: Session, after: int) -> list:  # type: ignore[type-arg]
    q = (select(CardEvent.id, CardEvent.ts, CardEvent.card_no, CardEvent.action, RentalAccessController.rental_id)
         .outerjoin(RentalAccessController, RentalAccessController.device_id == CardEvent.device_id)
         .where(CardEvent.id > after).order_by(CardEvent.id).limit(CHUNK))
    return list(db_session.execute(q))


def _no_entry(db_session: Session, now: datetime, days: int) -> int:
    limit = now - timedelta(days=days)
    last = func.coalesce(Tenant.last_entry_at, Tenant.registered_at)
    silent = db_session.scalars(select(Tenant).where(
        Tenant.status == TenantStatus.registered.value, Tenant.card_no.is_not(None),
        or_(and_(Tenant.last_entry_at.is_not(None), Tenant.last_entry_at < limit),
            and_(Tenant.last_entry_at.is_(None), Tenant.registered_at < limit)), last.is_not(None)))
    count = 0
    for tenant in silent:
        since = tenant.last_entry_at or tenant.registered_at
        count += _candidate(db_session, tenant, "no_entry", (since or now) + timedelta(days=days))
    return count


def sync_cards(*, db_session: Session, no_entry_days: int, now: datetime) -> CardSyncReport:
    """Read new card events into tenant detections; the caller commits (cursor and rows together)."""
    cursor = db_session.get(CardCursor, CURSOR)
    if cursor is None:
        cursor = CardCursor(name=CURSOR, last_event_id=0)
        db_session.add(cursor)
    report = {"events": 0, "registrations": 0, "deregistrations": 0}
    while rows := _events(db_session, cursor.last_event_id):
        holders = _holders(db_session, {r.rental_id for r in rows if r.rental_id is not None})
        for event_id, ts, card_no, action, rental_id in rows:
            if rental_id is not None:
                _apply(db_session, holders, rental_id, ts, card_no, action, report, now)
            cursor.last_event_id = event_id
        report["events"] += len(rows)
        db_session.flush()
    no_entry = _no_entry(db_session, now, no_entry_days)
    db_session.flush()
    return CardSyncReport(**report, no_entry=no_entry)
