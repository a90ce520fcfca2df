"""Photos: inspect, store once by content, thumbnail, and check references from events/visits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from server.auth.models import User
from server.config import get_settings
from server.errors import InvalidInput, NotFound
from server.photos.inspect import inspect_photo
from server.photos.models import Photo, PhotoLink
from server.photos.storage import PhotoStorage, storage_from_settings
from server.photos.thumbnails import make_thumbnail
from server.territory import territory


def storage() -> PhotoStorage:
    return storage_from_settings(get_settings())


def store(*, db_session: Session, data: bytes, uploader: User) -> tuple[Photo, bool]:
    """(photo, created). The same bytes uploaded again (a retry) return the stored photo. The slow
    work — decoding, the thumbnail, writing the bytes (content-addressed, so a retry rewrites
    nothing) — comes before the first query: the write transaction never spans it."""
    settings = get_settings()
    info = inspect_photo(data, max_bytes=settings.photo_max_mb * 1024 * 1024, max_pixels=settings.photo_max_pixels)
    store_ = storage()
    store_.put(data, content_type=info.content_type)
    thumb_key = _thumbnail(store_, data, max_pixels=settings.photo_max_pixels)
    existing = db_session.get(Photo, info.sha256)
    if existing is not None:
        return existing, False
    photo = Photo(sha256=info.sha256, content_type=info.content_type, size_bytes=info.size_bytes,
                  width=info.width, height=info.height, taken_at=info.taken_at, exif_lon=info.gps_lon,
                  exif_lat=info.gps_lat, thumbnail_key=thumb_key, uploaded_by=uploader.id)
    db_session.add(photo)
    db_session.flush()
    return photo, True


def _thumbnail(store_: PhotoStorage, data: bytes, *, max_pixels: int) -> str | None:
    """A HEIC without the optional pillow-heif is kept, just without a thumbnail."""
    try:
        return store_.put(make_thumbnail(data, max_pixels=max_pixels), content_type="image/jpeg")
    except InvalidInput as exc:
        if exc.code == "heic_unavailable":
            return None
        raise


def link(*, db_session: Session, keys: Sequence[str], record_type: str, record_id: int, street_code: str | None,
         grid_id: int | None, owner_id: int | None) -> None:
    """Record where each photo is used, so that reading it follows that record's territory."""
    db_session.add_all(PhotoLink(sha256=k, record_type=record_type, record_id=record_id, street_code=street_code,
                                 grid_id=grid_id, owner_id=owner_id) for k in dict.fromkeys(keys))


def visible(user: User, now: datetime) -> ColumnElement[bool]:
    """Photos of their uploader, and of the records (events, visits) the user may see."""
    t = territory(user, now)
    used_in_territory = select(PhotoLink.id).where(PhotoLink.sha256 == Photo.sha256, t.codes(
        PhotoLink.street_code, worker=or_(PhotoLink.grid_id.in_(t.assigned_grid_ids()), PhotoLink.owner_id == user.id)))
    return or_(Photo.uploaded_by == user.id, used_in_territory.exists())


def get_visible(*, db_session: Session, user: User, sha256: str, now: datetime) -> Photo:
    """A photo for its uploader and for whoever may see a record it belongs to; 404 otherwise,
    so hashes outside one's territory do not leak."""
    photo = db_session.scalar(select(Photo).where(Photo.sha256 == sha256, visible(user, now)))
    if photo is None:
        raise NotFound(f"photo {sha256} not found", f"照片 {sha256} 不存在", code="photo_not_found")
    return photo


def ensure_exist(*, db_session: Session, keys: Sequence[str], user: User, now: datetime) -> None:
    """Records may only refer to photos already uploaded that the user may see (a hash alone is no
    right to a photo: attaching it to one's own record would make it readable): a missing one is
    named, not dropped, and one out of sight is missing."""
    if not keys:
        return
    found = set(db_session.scalars(select(Photo.sha256).where(Photo.sha256.in_(list(keys)), visible(user, now))))
    missing = [k for k in keys if k not in found]
    if missing:
        raise InvalidInput(f"photos not uploaded yet: {', '.join(missing[:5])}; POST /api/v1/photos first",
                           "照片尚未上传，请先上传照片", code="photo_not_uploaded", detail={"missing": missing})

