"""Photos are stored once per content (sha256); events and visits refer to them by key."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.database.core import Base
from server.database.types import UTCDateTime, utcnow


class Photo(Base):
    __tablename__ = "photo"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(32))
    size_bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # EXIF DateTimeOriginal
    exif_lon: Mapped[float | None] = mapped_column(Float)  # EXIF GPS, WGS-84 as phones write it
    exif_lat: Mapped[float | None] = mapped_column(Float)
    thumbnail_key: Mapped[str | None] = mapped_column(String(64))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PhotoLink(Base):
    """Where a photo is used, with that record's place and owner: a photo is read by whoever may
    see one of the records it belongs to (and by its uploader), by the one territory rule."""

    __tablename__ = "photo_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("photo.sha256"), index=True)
    record_type: Mapped[str] = mapped_column(String(16))  # event | visit
    record_id: Mapped[int] = mapped_column(Integer)
    street_code: Mapped[str | None] = mapped_column(String(12))
    grid_id: Mapped[int | None] = mapped_column(Integer)  # events only: a worker sees their grids' event photos
    owner_id: Mapped[int | None] = mapped_column(Integer)  # the reporter or the visiting worker
