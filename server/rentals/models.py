"""Rental housing (出租屋), its access controllers, tenants (来穗人员) and who read their personal data.

ID numbers and phones are stored encrypted (Fernet) with a keyed hash beside the ID number so
the same person is found again without decrypting anything.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gis.crs import CGCS2000
from server.database.core import Base
from server.database.types import UTCDateTime, utcnow
from server.grids.models import Grid


class Rental(Base):
    __tablename__ = "rental"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(256))
    building: Mapped[str | None] = mapped_column(String(64))
    rooms: Mapped[int] = mapped_column(Integer, default=1)
    landlord_name: Mapped[str] = mapped_column(String(64))
    landlord_phone_enc: Mapped[str | None] = mapped_column(Text)
    location = mapped_column(Geometry("POINT", srid=CGCS2000, spatial_index=True), nullable=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"), index=True)
    managed: Mapped[bool] = mapped_column(Boolean, default=False)  # 纳管
    managed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # no longer let
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    grid: Mapped[Grid | None] = relationship()


class RentalAccessController(Base):
    """An access controller (a device of kind access_controller) serving one rental."""

    __tablename__ = "rental_access_controller"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rental_id: Mapped[int] = mapped_column(ForeignKey("rental.id"), index=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id"), unique=True)


class Tenant(Base):
    """A person living in a rental. status: pending | registered | deregistration_candidate | deregistered."""

    __tablename__ = "tenant"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rental_id: Mapped[int] = mapped_column(ForeignKey("rental.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(64))
    id_type: Mapped[str | None] = mapped_column(String(16))  # resident_id | other
    id_number_enc: Mapped[str | None] = mapped_column(Text)
    id_number_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_enc: Mapped[str | None] = mapped_column(Text)
    card_no: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(24), index=True)
    source: Mapped[str] = mapped_column(String(16))  # api | card
    moved_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deregistered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_entry_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    rental: Mapped[Rental] = relationship()


class TenantRecord(Base):
    """A registration or deregistration to be made: pending until confirmed (or rejected).

    source: api (reported by a worker), card_issued, card_revoked, no_entry (from the access controller).
    """

    __tablename__ = "tenant_record"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenant.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # registration | deregistration
    status: Mapped[str] = mapped_column(String(16), index=True)  # pending | confirmed | rejected
    source: Mapped[str] = mapped_column(String(16))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(64))


class PiiAccess(Base):
    """Every read of full personal data: who, when, which record, which fields."""

    __tablename__ = "pii_access_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    record_type: Mapped[str] = mapped_column(String(16))  # tenant | rental
    record_id: Mapped[int] = mapped_column(Integer)
    fields: Mapped[str] = mapped_column(String(128))


class PiiImport(Base):
    """Every import that wrote personal data: who ran it (a user, or the operator of the CLI), when,
    from which file (name and SHA-256), how many records, which fields. Not scoped to grids: the
    district's auditors read it whole."""

    __tablename__ = "pii_import_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    actor: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(8))  # api | cli
    filename: Mapped[str] = mapped_column(String(256))
    sha256: Mapped[str] = mapped_column(String(64))
    rentals: Mapped[int] = mapped_column(Integer)
    tenants: Mapped[int] = mapped_column(Integer)
    fields: Mapped[str] = mapped_column(String(128))


class CardCursor(Base):
    """How far the card-event sync has read device_card_event (by id)."""

    __tablename__ = "rental_card_cursor"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
