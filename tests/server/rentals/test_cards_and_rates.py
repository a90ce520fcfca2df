"""Tenant detections from card events, confirmation/rejection, and the three rental rates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from devices.codes import DeviceKind
from metrics.catalogue import CATALOGUE
from server.devices.models import CardEvent
from server.indicators import rental_queries
from server.rentals import cards, rates, service
from server.rentals.models import TenantRecord
from server.rentals.schemas import RentalRatesRead, TenantCreate
from tests.server.devices.conftest import make_device
from tests.server.rentals.conftest import ID_A, ID_B, headers

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


@pytest.fixture
def door(db_session, rentals):  # type: ignore[no-untyped-def]
    device = make_device(db_session, "MJ-1", DeviceKind.access_controller, cell=(0, 0))
    service.link_controller(db_session=db_session, user=None, rental=rentals["r1"], device_code="MJ-1", now=day(0))
    return device


def card(db_session, device, n: float, card_no: str, action: str) -> None:  # type: ignore[no-untyped-def]
    db_session.add(CardEvent(device_id=device.id, ts=day(n), seq=int(n * 1000), card_no=card_no, action=action))
    db_session.flush()


def sync(db_session, now: float = 2):  # type: ignore[no-untyped-def]
    return cards.sync_cards(db_session=db_session, no_entry_days=30, now=day(now))


def test_new_card_is_a_pending_registration_then_confirmed(client, db_session, rentals, door) -> None:  # type: ignore[no-untyped-def]
    card(db_session, door, 0, "C1", "issued")
    card(db_session, door, 0.5, "C1", "entry")
    card(db_session, door, 0.6, "C9", "entry")  # unknown card: nothing to do
    report = sync(db_session)
    assert (report.events, report.registrations, report.deregistrations) == (3, 1, 0)
    assert sync(db_session).events == 0  # read once
    pending = service.list_records(db_session=db_session, user=None, now=day(2))
    assert [(r.kind, r.source, r.occurred_at) for r in pending] == [("registration", "card_issued", day(0))]
    h = headers(rentals["world"], "worker")
    tenant_id = pending[0].tenant_id
    t = client.get(f"/api/v1/rentals/tenants/{tenant_id}", headers=h).json()
    assert t["status"] == "pending" and t["card_no"] == "C1" and t["pending_records"] == [pending[0].id]
    assert t["last_entry_at"].startswith("2026-11-01T12:00")
    r = client.post(f"/api/v1/rentals/tenants/{tenant_id}/register", json={"name": "赵六", "id_number": ID_A}, headers=h)
    assert r.json()["status"] == "registered"
    assert db_session.get(TenantRecord, pending[0].id).status == "confirmed"


def test_revoked_card_and_no_entry_make_deregistration_candidates(db_session, rentals, door) -> None:  # type: ignore[no-untyped-def]
    r1 = rentals["r1"]
    a = service.register_tenant(db_session=db_session, rental=r1, actor="w", now=day(-60),
                                tenant_in=TenantCreate(name="甲", id_number=ID_A, card_no="CA"))
    b = service.register_tenant(db_session=db_session, rental=r1, actor="w", now=day(-60),
                                tenant_in=TenantCreate(name="乙", id_number=ID_B, id_type="other", card_no="CB"))
    a.registered_at = b.registered_at = day(-60)
    card(db_session, door, 1, "CA", "revoked")
    card(db_session, door, 1, "CB", "entry")
    report = sync(db_session, now=2)
    assert report.deregistrations == 1 and report.no_entry == 0
    assert a.status == "deregistration_candidate" and b.status == "registered"
    report = sync(db_session, now=40)  # B silent since day 1
    assert report.no_entry == 1 and b.status == "deregistration_candidate"
    rec = next(r for r in service.list_records(db_session=db_session, user=None, now=day(40))
               if r.tenant_id == b.id)
    assert (rec.source, rec.occurred_at) == ("no_entry", day(31))
    service.reject_record(db_session=db_session, user=rentals["world"]["users"]["admin"], record_id=rec.id, actor="w", now=day(40))
    assert b.status == "registered"  # still lives there
    service.deregister(db_session=db_session, tenant=a, actor="w", now=day(41))
    assert a.status == "deregistered"
    statuses = {(r.tenant_id, r.kind): r.status for r in service.list_records(
        db_session=db_session, user=None, status=None, now=day(41))}
    assert statuses[(a.id, "deregistration")] == "confirmed"


def test_rates_by_street(client, db_session, rentals, door) -> None:  # type: ignore[no-untyped-def]
    r1, r2 = rentals["r1"], rentals["r2"]
    for r in rentals.values():
        if hasattr(r, "created_at"):
            r.created_at = day(-100)
    # registrations in November: 2 detected by cards (one confirmed, one pending), 1 by a worker, 1 rejected
    card(db_session, door, 1, "C1", "issued")
    card(db_session, door, 2, "C2", "issued")
    card(db_session, door, 3, "C3", "issued")
    sync(db_session, now=4)
    recs = service.list_records(db_session=db_session, user=None, now=day(4))
    service.confirm_registration(db_session=db_session, tenant=service.get_tenant(
        db_session=db_session, user=rentals["world"]["users"]["admin"], tenant_id=recs[0].tenant_id, now=day(4)),
        tenant_in=TenantCreate(name="甲", id_number=ID_A), actor="w", now=day(4))
    service.reject_record(db_session=db_session, user=rentals["world"]["users"]["admin"], record_id=recs[2].id,
                          actor="w", now=day(4))
    worker_reg = service.register_tenant(db_session=db_session, rental=r2, actor="w", now=day(5),
                                         tenant_in=TenantCreate(name="乙", id_type="other", id_number="P1234567"))
    for rec in service.list_records(db_session=db_session, user=None, status=None, now=day(5)):
        if rec.tenant_id == worker_reg.id:
            rec.occurred_at = day(5)
    db_session.flush()
    out = rates.rental_rates(db_session=db_session, user=None, start=day(0), end=day(30), now=day(30),
                             group_by="street")
    by = {row.key: row for row in out.tenant_registration_rate}
    assert (by["total"].numerator, by["total"].denominator) == (2, 3)  # the rejected one is not due
    managed = {row.key: row for row in out.rental_managed_rate}
    assert (managed["440112001000"].numerator, managed["440112001000"].denominator) == (1, 2)
    assert managed["440112002000"].rate == 0.0 and managed["total"].rate == pytest.approx(1 / 3)
    dereg = out.tenant_deregistration_rate
    assert dereg == [dereg[-1]] and dereg[-1].rate is None
    h = headers(rentals["world"], "street2")
    api = client.get("/api/v1/rentals/rates", params={"start": day(0).isoformat(), "end": day(30).isoformat()},
                     headers=h).json()
    assert [r["key"] for r in api["rental_managed_rate"]] == ["440112002000", "total"]
    assert set(rental_queries.CODES) <= set(api)  # the catalogue's names, not registration_rate
    district = rates.rental_rates(db_session=db_session, user=None, start=day(0), end=day(30), now=day(30),
                                  group_by="district")  # grid counts rolled up by gis.codes.district_of
    assert [(r.key, r.numerator, r.denominator) for r in district.rental_managed_rate] == [
        ("440112", 1, 3), ("total", 1, 3)]
    bad = client.get("/api/v1/rentals/rates", params={"start": day(0).isoformat(), "group_by": "planet"}, headers=h)
    assert bad.json()["error"]["code"] == "invalid_group_by"


def test_rate_names_are_the_catalogue_codes() -> None:
    """The rentals API, the indicator registry and the catalogue call each rate by one name."""
    assert set(rental_queries.CODES) <= set(RentalRatesRead.model_fields)
    assert set(rental_queries.CODES) <= set(CATALOGUE)
