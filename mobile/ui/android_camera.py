"""Android only: a photo from the phone's camera app, copied into the app's own folder.

The camera writes to a content:// URI the app created in MediaStore (no FileProvider to
declare, no storage permission on Android 10+); plyer's camera passes a file:// URI, which
modern Android refuses (FileUriExposedException, kivy/plyer#812). The copy is what the report
keeps; the service compresses it before upload.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from android import activity  # type: ignore[import-not-found]
from android.permissions import Permission, check_permission, request_permissions  # type: ignore[import-not-found]
from jnius import autoclass  # type: ignore[import-not-found]

REQUEST_CODE = 0x6D75  # any number the app does not use for another activity result
Intent = autoclass("android.content.Intent")
MediaStore = autoclass("android.provider.MediaStore")
ContentValues = autoclass("android.content.ContentValues")
PythonActivity = autoclass("org.kivy.android.PythonActivity")

_pending: dict[str, Any] = {}


def take_photo(folder: Path, on_photo: Callable[[str], None]) -> None:
    if not check_permission(Permission.CAMERA):
        request_permissions([Permission.CAMERA],
                            lambda _p, grants: take_photo(folder, on_photo) if all(grants) else None)
        return
    resolver = PythonActivity.mActivity.getContentResolver()
    values = ContentValues()
    values.put("_display_name", f"gridops-{uuid.uuid4().hex[:12]}.jpg")
    values.put("mime_type", "image/jpeg")
    uri = resolver.insert(MediaStore.Images.Media.EXTERNAL_CONTENT_URI, values)
    intent = Intent(MediaStore.ACTION_IMAGE_CAPTURE)
    intent.putExtra(MediaStore.EXTRA_OUTPUT, uri)
    _pending.update(uri=uri, folder=Path(folder), on_photo=on_photo)
    activity.bind(on_activity_result=_on_result)
    PythonActivity.mActivity.startActivityForResult(intent, REQUEST_CODE)


def _on_result(request_code: int, result_code: int, _intent: Any) -> None:
    if request_code != REQUEST_CODE:
        return
    activity.unbind(on_activity_result=_on_result)
    uri, folder, on_photo = _pending.pop("uri"), _pending.pop("folder"), _pending.pop("on_photo")
    resolver = PythonActivity.mActivity.getContentResolver()
    if result_code != -1:  # Activity.RESULT_OK; cancelled: drop the empty MediaStore row
        resolver.delete(uri, None, None)
        return
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"camera-{uuid.uuid4().hex[:12]}.jpg"
    stream = resolver.openInputStream(uri)
    try:
        buffer = bytearray(64 * 1024)
        with target.open("wb") as out:
            while (n := stream.read(buffer)) > 0:
                out.write(bytes(buffer[:n]))
    finally:
        stream.close()
    from kivy.clock import Clock

    Clock.schedule_once(lambda _dt: on_photo(str(target)))
