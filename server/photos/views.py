"""Photo upload (before the event that refers to it) and download, thumbnails included."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Response, UploadFile

from server.auth.enums import Role
from server.auth.models import User
from server.config import get_settings
from server.deps import CurrentUser, DbSession, Now, require_roles
from server.errors import PayloadTooLarge
from server.openapi import UPLOAD_RESPONSES, file_response
from server.photos import service
from server.photos.inspect import HEIC, JPEG, PNG
from server.photos.schemas import PhotoRead

router = APIRouter(prefix="/photos", tags=["photos"])
Uploader = Annotated[User, Depends(require_roles(Role.grid_worker, Role.street_admin, Role.district_admin,
                                                 Role.command_center))]


@router.post("", response_model=PhotoRead, status_code=201,
             responses={**UPLOAD_RESPONSES, 200: {"model": PhotoRead, "description": "already stored: the same photo"}})
def upload_photo(db_session: DbSession, user: Uploader, file: Annotated[UploadFile, File()],
                 response: Response) -> dict[str, object]:
    """Returns the sha256 key to put in an event's `photos`. Uploading the same photo again is a no-op.
    A plain `def`: decoding runs in the thread pool, never on the event loop (other requests go on)."""
    limit = get_settings().photo_max_mb * 1024 * 1024
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"photo over the {get_settings().photo_max_mb} MB limit",
                              f"照片超过 {get_settings().photo_max_mb} MB 限制", code="photo_too_large")
    photo, created = service.store(db_session=db_session, data=data, uploader=user)
    db_session.commit()
    if not created:
        response.status_code = 200
    return {"sha256": photo.sha256, "content_type": photo.content_type, "size_bytes": photo.size_bytes,
            "width": photo.width, "height": photo.height, "taken_at": photo.taken_at,
            "exif_lon": photo.exif_lon, "exif_lat": photo.exif_lat}


@router.get("/{sha256}", response_class=Response,
            responses=file_response("the photo as uploaded, or its JPEG thumbnail", JPEG, PNG, HEIC))
def get_photo(db_session: DbSession, user: CurrentUser, sha256: str, now: Now, thumbnail: bool = False) -> Response:
    photo = service.get_visible(db_session=db_session, user=user, sha256=sha256, now=now)
    if thumbnail and photo.thumbnail_key:
        return Response(service.storage().get(photo.thumbnail_key), media_type="image/jpeg")
    return Response(service.storage().get(photo.sha256), media_type=photo.content_type)
