"""Rental and tenant API: scoped like grids; personal data masked except on the audited /pii read."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Query, UploadFile
from sqlalchemy import select

from server.auth.enums import Role
from server.auth.models import User
from server.config import get_settings
from server.deps import CurrentUser, DbSession, Now, WriteDbSession, require_roles
from server.devices import service as devices
from server.inputs import ApiDatetime, IdPath, IdQuery, Page, PageSize
from server.errors import InvalidInput
from server.openapi import UPLOAD_RESPONSES
from server.rentals import cards, imports, pii, rates, service
from server.rentals.models import Rental, Tenant, TenantRecord
from server.rentals.schemas import (
    CardSyncReport, LinkController, ManageRequest, PiiAccessRead, PiiImportRead, RentalCreate, RentalImportReport,
    RentalPage, RentalRatesRead, RentalRead,
    TenantCreate, TenantPage, TenantRead, TenantRecordRead, TenantStatus,
)
from server.territory import ensure_holds

router = APIRouter(prefix="/rentals", tags=["rentals"])
Admin = Annotated[User, Depends(require_roles(Role.district_admin))]
Editor = Annotated[User, Depends(require_roles(Role.district_admin, Role.street_admin))]
FieldEditor = Annotated[User, Depends(require_roles(Role.district_admin, Role.street_admin, Role.grid_worker))]
Auditor = Annotated[User, Depends(require_roles(Role.district_admin, Role.auditor))]


def _rental(r: Rental, controllers: list[str]) -> RentalRead:
    lon, lat = devices.lon_lat(r.location)
    return RentalRead(
        id=r.id, address=r.address, building=r.building, rooms=r.rooms, landlord_name=r.landlord_name,
        landlord_phone=pii.mask_phone(pii.decrypt(r.landlord_phone_enc)), lon=lon, lat=lat,
        grid_code=r.grid.code if r.grid else None, managed=r.managed, managed_at=r.managed_at,
        closed_at=r.closed_at, access_controllers=controllers,
    )


def _tenant(t: Tenant, *, full: bool = False, pending: list[int] | None = None) -> TenantRead:
    number, phone = pii.decrypt(t.id_number_enc), pii.decrypt(t.phone_enc)
    return TenantRead(
        id=t.id, rental_id=t.rental_id, name=t.name if full else pii.mask_name(t.name), id_type=t.id_type,
        id_number=number if full else pii.mask_id(number), phone=phone if full else pii.mask_phone(phone),
        card_no=t.card_no, status=TenantStatus(t.status), source=t.source, moved_in_at=t.moved_in_at,
        registered_at=t.registered_at, deregistered_at=t.deregistered_at, last_entry_at=t.last_entry_at,
        pending_records=pending or [],
    )


@router.post("", response_model=RentalRead, status_code=201)
def create_rental(db_session: DbSession, user: Editor, body: RentalCreate, now: Now) -> RentalRead:
    point = devices.to_point(body.lon, body.lat, body.datum) if body.lon is not None else None
    ensure_holds(db_session, user, now, devices.grid_ids(db_session, [point]))  # only inside one's own area
    rental = service.create_rental(db_session=db_session, rental_in=body, now=now)
    db_session.commit()
    return _rental(rental, [])


@router.get("", response_model=RentalPage)
def list_rentals(db_session: DbSession, user: CurrentUser, now: Now, page: Page = 1, page_size: PageSize = 50,
                 street_code: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
                 grid_code: Annotated[str | None, Query(pattern=r"^\d{15}$")] = None,
                 managed: bool | None = None) -> RentalPage:
    rows, total = service.list_rentals(db_session=db_session, user=user, now=now, page=page, page_size=page_size,
                                       street_code=street_code, grid_code=grid_code, managed=managed)
    ctl = service.controllers_of(db_session=db_session, rental_ids=[r.id for r in rows])
    return RentalPage(items=[_rental(r, ctl[r.id]) for r in rows], total=total, page=page, page_size=page_size)


@router.get("/rates", response_model=RentalRatesRead)
def rental_rates(db_session: DbSession, user: CurrentUser, now: Now, start: ApiDatetime, end: ApiDatetime | None = None,
                 group_by: str = "street") -> RentalRatesRead:
    """rental_managed_rate at `end` (default now); registration and deregistration rates over [start, end)."""
    return rates.rental_rates(db_session=db_session, user=user, start=start, end=end or now, now=now,
                              group_by=group_by)


@router.post("/sync-cards", response_model=CardSyncReport)
def sync_cards(db_session: DbSession, _: Admin, now: Now) -> CardSyncReport:
    """Turn new access-controller card events into pending registrations and deregistrations."""
    report = cards.sync_cards(db_session=db_session, no_entry_days=get_settings().tenant_no_entry_days, now=now)
    db_session.commit()
    return report


@router.post("/import", response_model=RentalImportReport, responses=UPLOAD_RESPONSES)
def import_ledgers(
    db_session: DbSession, user: Editor, now: Now,
    rentals: Annotated[UploadFile | None, File(description="出租屋台账 .xlsx or .csv")] = None,
    tenants: Annotated[UploadFile | None, File(description="来穗人员 .xlsx or .csv")] = None,
    dry_run: bool = True,
) -> RentalImportReport:
    """Check both files whole, then (dry_run=false) write all of them or nothing; tenants are placed in the
    rentals of the same upload or already registered, by address. Each written file is logged."""
    db_session.commit()  # end the transaction of the token check: no database lock is held while the files are read
    if rentals is None and tenants is None:
        raise InvalidInput("send a rental ledger (rentals) and/or a tenant registry (tenants)",
                           "请上传出租屋台账（rentals）和/或来穗人员表（tenants）", code="missing_file")
    ledgers = {k: imports.LedgerFile(f.filename or "upload.csv", f.file.read())
               for k, f in (("rentals", rentals), ("tenants", tenants)) if f is not None}
    report = imports.import_ledgers(db_session=db_session, rentals=ledgers.get("rentals"),
                                    tenants=ledgers.get("tenants"), now=now, apply=not dry_run, user=user,
                                    actor=user.username, channel="api")
    if report.committed:
        db_session.commit()
    return report


@router.get("/tenants", response_model=TenantPage)
def list_tenants(db_session: DbSession, user: CurrentUser, now: Now, rental_id: IdQuery | None = None,
                 status: TenantStatus | None = None, page: Page = 1, page_size: PageSize = 50) -> TenantPage:
    rows, total = service.list_tenants(db_session=db_session, user=user, now=now, rental_id=rental_id,
                                       status=status.value if status else None, page=page, page_size=page_size)
    return TenantPage(items=[_tenant(t) for t in rows], total=total, page=page, page_size=page_size)


@router.get("/tenants/{tenant_id}", response_model=TenantRead)
def get_tenant(db_session: DbSession, user: CurrentUser, tenant_id: IdPath, now: Now) -> TenantRead:
    t = service.get_tenant(db_session=db_session, user=user, tenant_id=tenant_id, now=now)
    pending = db_session.scalars(select(TenantRecord.id).where(TenantRecord.tenant_id == t.id,
                                                               TenantRecord.status == "pending"))
    return _tenant(t, pending=list(pending))


@router.get("/tenants/{tenant_id}/pii", response_model=TenantRead)
def read_tenant_pii(db_session: WriteDbSession, user: CurrentUser, tenant_id: IdPath, now: Now) -> TenantRead:
    """Full name, ID number and phone: district and street admins only; every read is logged (a GET
    that writes: a write session)."""
    t = service.get_tenant(db_session=db_session, user=user, tenant_id=tenant_id, now=now)
    pii.audit_read(db_session, user=user, record_type="tenant", record_id=t.id, fields="name,id_number,phone", now=now)
    db_session.commit()
    return _tenant(t, full=True)


@router.post("/tenants/{tenant_id}/register", response_model=TenantRead)
def confirm_registration(db_session: DbSession, user: FieldEditor, tenant_id: IdPath, body: TenantCreate,
                         now: Now) -> TenantRead:
    t = service.get_tenant(db_session=db_session, user=user, tenant_id=tenant_id, now=now)
    service.confirm_registration(db_session=db_session, tenant=t, tenant_in=body, actor=user.username, now=now)
    db_session.commit()
    return _tenant(t)


@router.post("/tenants/{tenant_id}/deregister", response_model=TenantRead)
def deregister(db_session: DbSession, user: FieldEditor, tenant_id: IdPath, now: Now) -> TenantRead:
    t = service.get_tenant(db_session=db_session, user=user, tenant_id=tenant_id, now=now)
    service.deregister(db_session=db_session, tenant=t, actor=user.username, now=now)
    db_session.commit()
    return _tenant(t)


@router.get("/records", response_model=list[TenantRecordRead])
def list_records(db_session: DbSession, user: CurrentUser, now: Now, status: str | None = "pending") -> list[TenantRecordRead]:
    """Registrations and deregistrations waiting for a person (default), or all with status=."""
    rows = service.list_records(db_session=db_session, user=user, now=now, status=status or None)
    return [TenantRecordRead.model_validate(r, from_attributes=True) for r in rows]


@router.post("/records/{record_id}/reject", response_model=TenantRecordRead)
def reject_record(db_session: DbSession, user: FieldEditor, record_id: IdPath, now: Now) -> TenantRecordRead:
    record = service.reject_record(db_session=db_session, user=user, record_id=record_id, actor=user.username, now=now)
    db_session.commit()
    return TenantRecordRead.model_validate(record, from_attributes=True)


@router.get("/pii-log", response_model=list[PiiAccessRead])
def pii_log(db_session: DbSession, user: Auditor, now: Now, page: Page = 1,
            page_size: PageSize = 100) -> list[dict[str, object]]:
    """Who read full personal data of the records in one's territory, when, and which (newest first)."""
    rows = service.pii_log(db_session=db_session, user=user, now=now, page=page, page_size=page_size)
    return [{"at": r.at, "username": r.username, "role": r.role, "record_type": r.record_type,
             "record_id": r.record_id, "fields": r.fields} for r in rows]


@router.get("/pii-import-log", response_model=list[PiiImportRead])
def pii_import_log(db_session: DbSession, user: Auditor, page: Page = 1, page_size: PageSize = 100) -> list[PiiImportRead]:
    """Who imported ledgers holding ID numbers and phones, when, from which file (newest first)."""
    rows = service.pii_import_log(db_session=db_session, user=user, page=page, page_size=page_size)
    return [PiiImportRead.model_validate(r, from_attributes=True) for r in rows]


@router.get("/{rental_id}", response_model=RentalRead)
def get_rental(db_session: DbSession, user: CurrentUser, rental_id: IdPath, now: Now) -> RentalRead:
    r = service.get_rental(db_session=db_session, user=user, rental_id=rental_id, now=now)
    return _rental(r, service.controllers_of(db_session=db_session, rental_ids=[r.id])[r.id])


@router.post("/{rental_id}/managed", response_model=RentalRead)
def set_managed(db_session: DbSession, user: Editor, rental_id: IdPath, body: ManageRequest, now: Now) -> RentalRead:
    r = service.get_rental(db_session=db_session, user=user, rental_id=rental_id, now=now)
    service.set_managed(db_session=db_session, rental=r, managed=body.managed, at=devices.as_utc(body.at) or now)
    db_session.commit()
    return _rental(r, service.controllers_of(db_session=db_session, rental_ids=[r.id])[r.id])


@router.post("/{rental_id}/access-controllers", response_model=RentalRead)
def link_controller(db_session: DbSession, user: Admin, rental_id: IdPath, body: LinkController, now: Now) -> RentalRead:
    r = service.get_rental(db_session=db_session, user=user, rental_id=rental_id, now=now)
    service.link_controller(db_session=db_session, user=user, rental=r, device_code=body.device_code, now=now)
    db_session.commit()
    return _rental(r, service.controllers_of(db_session=db_session, rental_ids=[r.id])[r.id])


@router.post("/{rental_id}/tenants", response_model=TenantRead, status_code=201)
def register_tenant(db_session: DbSession, user: FieldEditor, rental_id: IdPath, body: TenantCreate,
                    now: Now) -> TenantRead:
    r = service.get_rental(db_session=db_session, user=user, rental_id=rental_id, now=now)
    t = service.register_tenant(db_session=db_session, rental=r, tenant_in=body, actor=user.username, now=now)
    db_session.commit()
    return _tenant(t)
