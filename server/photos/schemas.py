"""API shapes for photos."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class PhotoRead(BaseModel):
    """What an upload stored; put `sha256` in an event's or a visit's `photos`."""

    sha256: str
    content_type: str = Field(description="image/jpeg, image/png or image/heic, recognised from the content")
    size_bytes: int
    width: int | None
    height: int | None
    taken_at: datetime | None = Field(description="EXIF DateTimeOriginal")
    exif_lon: float | None = Field(description="EXIF GPS, WGS-84 as phones write it")
    exif_lat: float | None
