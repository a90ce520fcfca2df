"""The key-person register (重点人员): sensitive personal information under PIPL art. 28.

Name, ID number, phone, address and update notes are stored encrypted (server.personal_data); a
keyed hash of the ID number finds a person again without decrypting. A person is placed in a grid
(their household) or at a rental (and so in its grid); a removal keeps the row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.database.core import Base
from server.database.types import UTCDateTime


class KeyPerson(Base):
    __tablename__ = "key_person"
    __table_args__ = (Index("ix_key_person_grid_type", "grid_id", "type_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type_code: Mapped[str] = mapped_column(String(32))
    name_enc: Mapped[str] = mapped_column(Text)
    id_type: Mapped[str] = mapped_column(String(16), default="resident_id")
    id_number_enc: Mapped[str | None] = mapped_column(Text)
    id_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_enc: Mapped[str | None] = mapped_column(Text)
    address_enc: Mapped[str | None] = mapped_column(Text)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grid.id"))
    rental_id: Mapped[int | None] = mapped_column(ForeignKey("rental.id"))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    registered_by: Mapped[int] = mapped_column(ForeignKey("user.id"))
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    removed_reason: Mapped[str | None] = mapped_column(String(256))


class KeyPersonUpdate(Base):
    """An information update (信息更新), usually recorded at a visit's check-in: exactly once by `uuid`."""

    __tablename__ = "key_person_update"
    __table_args__ = (Index("ix_key_person_update_person_at", "key_person_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    key_person_id: Mapped[int] = mapped_column(ForeignKey("key_person.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"))
    actor_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    note_enc: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
