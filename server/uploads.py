"""Upload safety: a body-size limit enforced before the body is read, and safe zip extraction.

The limit is checked against Content-Length first (a 2 GB upload is refused without reading
a byte of it) and again while streaming, for chunked bodies that declare no length.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path, PurePosixPath

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.errors import BadRequest, InvalidInput, PayloadTooLarge


class BodyTooLarge(HTTPException):
    """Raised from inside `receive`: an HTTPException, so frameworks re-raise it instead of
    turning it into a generic "error parsing the body" 400 (FastAPI does that to others)."""

    def __init__(self) -> None:
        super().__init__(status_code=413, detail="upload_too_large")


def too_large(limit: int) -> PayloadTooLarge:
    mb = limit // (1024 * 1024)
    return PayloadTooLarge(f"request body over the {mb} MB limit", f"上传内容超过 {mb} MB 限制",
                           code="upload_too_large", detail={"limit_bytes": limit})


class BodySizeLimit:
    """ASGI middleware: refuse bodies over `limit` bytes with 413 and a JSON reason."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(too_large(self.limit).body(), ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json; charset=utf-8"),
                                (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


def _safe_member(name: str) -> PurePosixPath:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise BadRequest(f"zip entry {name!r} escapes the archive", f"压缩包条目 {name!r} 含非法路径",
                         code="zip_path_traversal")
    return path


def extract_shapefile_zip(archive: Path, dest: Path, *, max_total_bytes: int, layer: str | None = None) -> Path:
    """Extract a zipped shapefile safely and return its .shp path.

    Every entry is checked before anything is written: path traversal and zip bombs
    (declared uncompressed size over the limit) are refused whole.
    """
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile:
        raise BadRequest("the upload is not a zip archive", "上传文件不是 zip 压缩包", code="not_a_zip") from None
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        paths = [_safe_member(i.filename) for i in infos]
        if sum(i.file_size for i in infos) > max_total_bytes:
            raise BadRequest("zip expands beyond the allowed size", "压缩包解压后超过允许大小", code="zip_too_large")
        shps = [p for p in paths if p.suffix.lower() == ".shp" and (layer is None or p.stem == layer)]
        if len(shps) != 1:
            found = ", ".join(str(p) for p in shps) or "none"
            raise InvalidInput(f"expected exactly one .shp in the zip (found: {found}); name one with layer=",
                               f"压缩包内应恰好有一个 .shp 文件（找到：{found}）", code="shp_not_found")
        for info, path in zip(infos, paths, strict=True):
            target = dest.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                out.write(src.read(max_total_bytes + 1))
        return dest.joinpath(*shps[0].parts)
