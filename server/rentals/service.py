"""Rentals and tenants: scoped reads, registration, management (纳管), controllers, records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from devices.codes import DeviceKind
from gis.codes import area_prefix
from server.auth.models import User
from server.devices import service as devices
from server.errors import Conflict, InvalidInput, NotFound
from server.rentals import pii
from server.rentals.models import PiiAccess, PiiImport, Rental, RentalAccessController, Tenant, TenantRecord
# Public: the rental rates (纳管率, 登记率, 注销率) are the rentals domain's definitions; indicators sum them.
from server.rentals.rates import rental_rates  # noqa: F401
from server.rentals.schemas import RentalCreate, TenantCreate, TenantStatus
from server.rentals.scope import rentals_query
from server.territory import territory


def create_rental(*, db_session: Session, rental_in: RentalCreate, now: datetime) -> Rental:
    point = devices.to_point(rental_in.lon, rental_in.lat, rental_in.datum) if rental_in.lon is not None else None
    managed_at = devices.as_utc(rental_in.managed_at) or (now if rental_in.managed else None)
    rental = Rental(
        address=rental_in.address, building=rental_in.building, rooms=rental_in.rooms,
        landlord_name=rental_in.landlord_name,
        landlord_phone_enc=pii.encrypt(pii.check_phone(rental_in.landlord_phone)) if rental_in.landlord_phone else None,
        location=devices.db_point(*point) if point else None, grid_id=devices.grid_ids(db_session, [point])[0],
        managed=rental_in.managed, managed_at=managed_at if rental_in.managed else None, created_at=now,
    )
    db_session.add(rental)
    db_session.flush()
    return rental


def list_rentals(*, db_session: Session, user: User, now: datetime, page: int = 1, page_size: int = 50,
                 **filters: object) -> tuple[list[Rental], int]:
    q = rentals_query(user, now=now, **filters)  # type: ignore[arg-type]
    total = db_session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = db_session.scalars(q.order_by(Rental.id).offset((page - 1) * page_size).limit(page_size))
    return list(rows), total


def get_rental(*, db_session: Session, user: User | None, rental_id: int, now: datetime) -> Rental:
    rental = db_session.scalar(select(Rental).where(Rental.id == rental_id, territory(user, now).grids(Rental.grid_id)))
    if rental is None:
        raise NotFound(f"rental {rental_id} not found", f"出租屋 {rental_id} 不存在", code="rental_not_found")
    return rental


def set_managed(*, db_session: Session, rental: Rental, managed: bool, at: datetime) -> Rental:
    """纳管: from `at` on the rental counts as managed in rental_managed_rate."""
    rental.managed = managed
    rental.managed_at = at if managed else None
    db_session.flush()
    return rental


def link_controller(*, db_session: Session, user: User | None, rental: Rental, device_code: str, now: datetime) -> None:
    device = devices.get_visible(db_session=db_session, user=user, code=device_code, now=now)
    if device.kind != DeviceKind.access_controller.value:
        raise InvalidInput(f"{device_code} is a {device.kind}, not an access controller",
                           f"{device_code} 不是门禁设备", code="not_an_access_controller")
    linked = db_session.scalar(select(RentalAccessController).where(RentalAccessController.device_id == device.id))
    if linked is not None and linked.rental_id != rental.id:
        raise Conflict(f"{device_code} serves rental {linked.rental_id}", f"{device_code} 已关联其他出租屋",
                       code="controller_linked")
    if linked is None:
        db_session.add(RentalAccessController(rental_id=rental.id, device_id=device.id))
        db_session.flush()


def controllers_of(*, db_session: Session, rental_ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in rental_ids}
    if rental_ids:
        q = (select(RentalAccessController.rental_id, devices.Device.code)
             .join(devices.Device, devices.Device.id == RentalAccessController.device_id)
             .where(RentalAccessController.rental_id.in_(rental_ids)).order_by(devices.Device.code))
        for rental_id, code in db_session.execute(q):
            out[rental_id].append(code)
    return out


def _record(db_session: Session, tenant: Tenant, kind: str, status: str, source: str, at: datetime,
            actor: str | None) -> TenantRecord:
    record = TenantRecord(tenant_id=tenant.id, kind=kind, status=status, source=source, occurred_at=at,
                          decided_at=at if status != "pending" else None, decided_by=actor)
    db_session.add(record)
    return record


def _fill_pii(tenant: Tenant, tenant_in: TenantCreate) -> None:
    number = pii.check_id(tenant_in.id_type, tenant_in.id_number)
    tenant.name, tenant.id_type = tenant_in.name, tenant_in.id_type
    tenant.id_number_enc, tenant.id_number_hash = pii.encrypt(number), pii.id_hash(number)
    tenant.phone_enc = pii.encrypt(pii.check_phone(tenant_in.phone)) if tenant_in.phone else None
    if tenant_in.card_no:
        tenant.card_no = tenant_in.card_no


def register_tenant(*, db_session: Session, rental: Rental, tenant_in: TenantCreate, actor: str,
                    now: datetime) -> Tenant:
    """A registration made by a worker: confirmed at once (its source is the API)."""
    number = pii.check_id(tenant_in.id_type, tenant_in.id_number)
    active = db_session.scalar(select(Tenant.id).where(
        Tenant.rental_id == rental.id, Tenant.id_number_hash == pii.id_hash(number),
        Tenant.status != TenantStatus.deregistered.value))
    if active is not None:
        raise Conflict("this person is already registered in this rental", "该人员已在此出租屋登记",
                       code="tenant_exists", detail={"tenant_id": active})
    tenant = Tenant(rental_id=rental.id, status=TenantStatus.registered.value, source="api",
                    moved_in_at=devices.as_utc(tenant_in.moved_in_at) or now, registered_at=now, created_at=now)
    _fill_pii(tenant, tenant_in)
    db_session.add(tenant)
    db_session.flush()
    _record(db_session, tenant, "registration", "confirmed", "api", tenant.moved_in_at or now, actor)
    db_session.flush()
    return tenant


def get_tenant(*, db_session: Session, user: User | None, tenant_id: int, now: datetime) -> Tenant:
    """404 alike for a tenant out of scope and one that does not exist."""
    in_territory = select(Rental.id).where(territory(user, now).grids(Rental.grid_id))
    tenant = db_session.scalar(select(Tenant).where(Tenant.id == tenant_id, Tenant.rental_id.in_(in_territory)))
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found", f"人员 {tenant_id} 不存在", code="tenant_not_found")
    return tenant


def _pending(db_session: Session, tenant: Tenant, kind: str) -> list[TenantRecord]:
    return list(db_session.scalars(select(TenantRecord).where(
        TenantRecord.tenant_id == tenant.id, TenantRecord.kind == kind, TenantRecord.status == "pending")))


def confirm_registration(*, db_session: Session, tenant: Tenant, tenant_in: TenantCreate, actor: str,
                         now: datetime) -> Tenant:
    """Complete a registration detected from a new card: the worker adds who it is."""
    if tenant.status != TenantStatus.pending.value:
        raise Conflict(f"tenant {tenant.id} is {tenant.status}", "该人员不是待登记状态", code="not_pending")
    _fill_pii(tenant, tenant_in)
    tenant.status, tenant.registered_at = TenantStatus.registered.value, now
    for record in _pending(db_session, tenant, "registration"):
        record.status, record.decided_at, record.decided_by = "confirmed", now, actor
    db_session.flush()
    return tenant


def deregister(*, db_session: Session, tenant: Tenant, actor: str, now: datetime,
               at: datetime | None = None) -> Tenant:
    """注销: confirms a pending deregistration (card revoked, no entry) or records one reported now."""
    if tenant.status == TenantStatus.deregistered.value:
        raise Conflict(f"tenant {tenant.id} is already deregistered", "该人员已注销", code="already_deregistered")
    pending = _pending(db_session, tenant, "deregistration")
    for record in pending:
        record.status, record.decided_at, record.decided_by = "confirmed", now, actor
    if not pending:
        _record(db_session, tenant, "deregistration", "confirmed", "api", at or now, actor)
    tenant.status, tenant.deregistered_at = TenantStatus.deregistered.value, at or now
    db_session.flush()
    return tenant


def reject_record(*, db_session: Session, user: User | None, record_id: int, actor: str, now: datetime) -> TenantRecord:
    """A detection that was wrong: the tenant still lives there, or the new card is not a tenant's."""
    in_territory = select(Tenant.id).where(Tenant.rental_id.in_(
        select(Rental.id).where(territory(user, now).grids(Rental.grid_id))))
    record = db_session.scalar(select(TenantRecord).where(TenantRecord.id == record_id,
                                                          TenantRecord.tenant_id.in_(in_territory)))
    if record is None or record.status != "pending":  # out of scope: as unknown as a record that does not exist
        raise NotFound(f"pending record {record_id} not found", f"待处理记录 {record_id} 不存在", code="record_not_found")
    tenant = get_tenant(db_session=db_session, user=user, tenant_id=record.tenant_id, now=now)
    record.status, record.decided_at, record.decided_by = "rejected", now, actor
    if record.kind == "deregistration":
        tenant.status = TenantStatus.registered.value if tenant.registered_at else TenantStatus.pending.value
    else:
        tenant.status, tenant.deregistered_at = TenantStatus.deregistered.value, now
    db_session.flush()
    return record


def list_tenants(*, db_session: Session, user: User | None, now: datetime, rental_id: int | None = None, status: str | None = None,
                 page: int = 1, page_size: int = 50) -> tuple[list[Tenant], int]:
    q = select(Tenant).where(Tenant.rental_id.in_(rentals_query(user, now=now).with_only_columns(Rental.id)))
    if rental_id is not None:
        q = q.where(Tenant.rental_id == rental_id)
    if status:
        q = q.where(Tenant.status == status)
    total = db_session.scalar(select(func.count()).select_from(q.subquery())) or 0
    return list(db_session.scalars(q.order_by(Tenant.id).offset((page - 1) * page_size).limit(page_size))), total


def list_records(*, db_session: Session, user: User | None, now: datetime,
                 status: str | None = "pending") -> list[TenantRecord]:
    tenants = select(Tenant.id).where(Tenant.rental_id.in_(rentals_query(user, now=now).with_only_columns(Rental.id)))
    q = select(TenantRecord).where(TenantRecord.tenant_id.in_(tenants))
    if status:
        q = q.where(TenantRecord.status == status)
    return list(db_session.scalars(q.order_by(TenantRecord.occurred_at, TenantRecord.id).limit(1000)))


def pii_log(*, db_session: Session, user: User | None, now: datetime, page: int = 1,
            page_size: int = 100) -> list[PiiAccess]:
    """Reads of full personal data of the tenants and rentals in the user's territory, newest first."""
    rentals = select(Rental.id).where(territory(user, now).grids(Rental.grid_id))
    tenants = select(Tenant.id).where(Tenant.rental_id.in_(rentals))
    q = select(PiiAccess).where(or_(and_(PiiAccess.record_type == "tenant", PiiAccess.record_id.in_(tenants)),
                                    and_(PiiAccess.record_type == "rental", PiiAccess.record_id.in_(rentals))))
    return list(db_session.scalars(q.order_by(PiiAccess.id.desc()).offset((page - 1) * page_size).limit(page_size)))


def pii_import_log(*, db_session: Session, user: User, page: int = 1, page_size: int = 100) -> list[PiiImport]:
    """Imports of personal data, newest first: those made from the command line (the installation's
    operator) and those of users of the reader's own district."""
    own = select(User.id).where(User.district_code == user.district_code)
    q = select(PiiImport).where(or_(PiiImport.user_id.is_(None), PiiImport.user_id.in_(own)))
    return list(db_session.scalars(q.order_by(PiiImport.id.desc()).offset((page - 1) * page_size).limit(page_size)))
