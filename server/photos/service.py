"""Photos: inspect, store once by content, thumbnail, and check references from events/visits."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.auth.models import User
from server.config import get_settings
from server.errors import InvalidInput, NotFound
from server.photos.inspect import inspect_photo
from server.photos.models import Photo
from server.photos.storage import PhotoStorage, storage_from_settings
from server.photos.thumbnails import make_thumbnail


def storage() -> PhotoStorage:
    return storage_from_settings(get_settings())


def store(*, db_session: Session, data: bytes, uploader: User) -> tuple[Photo, bool]:
    """(photo, created). The same bytes uploaded again (a retry) return the stored photo."""
    settings = get_settings()
    info = inspect_photo(data, max_bytes=settings.photo_max_mb * 1024 * 1024)
    existing = db_session.get(Photo, info.sha256)
    if existing is not None:
        return existing, False
    store_ = storage()
    store_.put(data, content_type=info.content_type)
    thumb_key = _thumbnail(store_, data)
    photo = Photo(sha256=info.sha256, content_type=info.content_type, size_bytes=info.size_bytes,
                  width=info.width, height=info.height, taken_at=info.taken_at, exif_lon=info.gps_lon,
                  exif_lat=info.gps_lat, thumbnail_key=thumb_key, uploaded_by=uploader.id)
    db_session.add(photo)
    db_session.flush()
    return photo, True


def _thumbnail(store_: PhotoStorage, data: bytes) -> str | None:
    """A HEIC without the optional pillow-heif is kept, just without a thumbnail."""
    try:
        return store_.put(make_thumbnail(data), content_type="image/jpeg")
    except InvalidInput as exc:
        if exc.code == "heic_unavailable":
            return None
        raise


def ensure_exist(*, db_session: Session, keys: Sequence[str]) -> None:
    """Events may only refer to photos already uploaded: a missing one is named, not dropped."""
    if not keys:
        return
    found = set(db_session.scalars(select(Photo.sha256).where(Photo.sha256.in_(list(keys)))))
    missing = [k for k in keys if k not in found]
    if missing:
        raise InvalidInput(f"photos not uploaded yet: {', '.join(missing[:5])}; POST /api/v1/photos first",
                           "照片尚未上传，请先上传照片", code="photo_not_uploaded", detail={"missing": missing})


def get(*, db_session: Session, sha256: str) -> Photo:
    photo = db_session.get(Photo, sha256)
    if photo is None:
        raise NotFound(f"photo {sha256} not found", f"照片 {sha256} 不存在", code="photo_not_found")
    return photo
