"""Upload safety: body-size limits enforced before the body is read, and safe zip extraction.

Every request has a small body limit (JSON); only the upload routes get a large one of their
own. The limit is checked against Content-Length first (a 2 GB upload is refused without
reading a byte of it) and again while streaming, for chunked bodies that declare no length.

A zip is judged by its directory before anything is decompressed (declared total size and
compression ratio), then extracted in chunks with a running total, so a bomb that fits the
upload limit cannot fill memory or disk.
"""

from __future__ import annotations

import io
import json
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import IO

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gis.grid_files import ACCEPTED, ACCEPTED_ZH, SINGLE_FILE_SUFFIXES
from server.errors import BadRequest, InvalidInput, PayloadTooLarge

MAX_RATIO = 200  # deflate reaches ~1,000:1 on repeated bytes; shapefiles and xlsx sheets stay far below
RATIO_FLOOR = 1 << 20  # members declaring less than this may compress as well as they like
CHUNK = 1 << 20


class BodyTooLarge(HTTPException):
    """Raised from inside `receive`: an HTTPException, so frameworks re-raise it instead of
    turning it into a generic "error parsing the body" 400 (FastAPI does that to others)."""

    def __init__(self, error: PayloadTooLarge) -> None:
        super().__init__(status_code=413, detail=error.code)
        self.error = error


def _size(limit: int) -> str:
    return f"{limit / (1 << 20):g} MB" if limit >= 1 << 20 else f"{limit / 1024:g} KB"


def too_large(limit: int, *, upload: bool = True) -> PayloadTooLarge:
    """413 for a body over `limit`: `upload_too_large` on upload routes, `body_too_large` elsewhere."""
    if upload:
        return PayloadTooLarge(f"request body over the {_size(limit)} limit", f"上传内容超过 {_size(limit)} 限制",
                               code="upload_too_large", detail={"limit_bytes": limit})
    return PayloadTooLarge(f"request body over the {_size(limit)} limit of this endpoint",
                           f"请求内容超过本接口 {_size(limit)} 限制", code="body_too_large",
                           detail={"limit_bytes": limit})


class BodySizeLimit:
    """ASGI middleware: refuse bodies over the limit with 413 and the JSON envelope.

    `limit` applies to every path but those in `routes` (exact paths: the upload endpoints),
    which carry their own.
    """

    def __init__(self, app: ASGIApp, limit: int, routes: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.routes = dict(routes or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope.get("path") in self.routes
        error = too_large(self.routes[scope["path"]] if upload else self.limit, upload=upload)
        limit = error.detail["limit_bytes"]
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await self._refuse(send, error)
            return
        seen = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge(error)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._refuse(send, error)

    async def _refuse(self, send: Send, error: PayloadTooLarge) -> None:
        body = json.dumps(error.body(), ensure_ascii=False).encode()
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


def _too_large(reason: str, **detail: object) -> BadRequest:
    return BadRequest("zip expands beyond the allowed size", "压缩包解压后超过允许大小", code="zip_too_large",
                      detail={"reason": reason, **detail})


def _corrupt(exc: BaseException) -> InvalidInput:
    return InvalidInput(f"the zip archive is damaged or unreadable ({exc})",
                        "压缩包已损坏或无法读取（校验失败、内容截断或加密）", code="zip_corrupt")


# What zipfile raises for a damaged member: bad CRC or sizes, truncated data, encryption, unknown method.
_DAMAGED = (zipfile.BadZipFile, EOFError, zlib.error, RuntimeError, NotImplementedError, ValueError)


def _starts_like_a_zip(archive: Path | IO[bytes]) -> bool:
    if isinstance(archive, Path):
        with open(archive, "rb") as f:
            return f.read(4) == b"PK\x03\x04"
    archive.seek(0)
    return archive.read(4) == b"PK\x03\x04"


def open_zip(archive: Path | IO[bytes]) -> zipfile.ZipFile:
    """The archive's directory; a file that starts like a zip but has none was cut short (zip_corrupt)."""
    try:
        return zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        if _starts_like_a_zip(archive):
            raise _corrupt(exc) from None
        raise BadRequest("the upload is not a zip archive", "上传文件不是 zip 压缩包", code="not_a_zip") from None
    except (EOFError, ValueError, OSError) as exc:  # a directory that lies about its own offsets
        raise _corrupt(exc) from None


def check_zip(zf: zipfile.ZipFile, *, max_total_bytes: int, max_ratio: int = MAX_RATIO) -> list[zipfile.ZipInfo]:
    """The members (no directories), if their declared sizes promise no bomb: nothing is decompressed here."""
    infos = [i for i in zf.infolist() if not i.is_dir()]
    total = sum(i.file_size for i in infos)
    if total > max_total_bytes:
        raise _too_large("declared_total", declared_bytes=total, limit_bytes=max_total_bytes)
    for info in infos:
        if info.file_size > RATIO_FLOOR and info.file_size > max_ratio * max(info.compress_size, 1):
            raise _too_large("compression_ratio", member=info.filename, declared_bytes=info.file_size,
                             compressed_bytes=info.compress_size, max_ratio=max_ratio)
    return infos


def check_xlsx(data: bytes, *, max_total_bytes: int) -> None:
    """An uploaded xlsx judged as the zip it is before openpyxl inflates anything: not a zip is 422
    unreadable_file, a bomb 400 zip_too_large."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        raise InvalidInput(f"cannot read the xlsx file: {exc}", "无法读取 xlsx 文件", code="unreadable_file") from None
    with archive:
        check_zip(archive, max_total_bytes=max_total_bytes)


def _chunk(src: IO[bytes]) -> bytes:
    try:
        return src.read(CHUNK)
    except OSError as exc:  # the archive's own seek (see _copy); writing is elsewhere: a full disk stays a 500
        raise _corrupt(exc) from None


def _copy(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int) -> int:
    """Stream one member to `target`, stopping once it passes its declared size or the budget left."""
    written = 0
    try:
        src = zf.open(info)
    except OSError as exc:  # a directory whose offsets point before the file's start: zipfile seeks there, EINVAL
        raise _corrupt(exc) from None
    with src, open(target, "wb") as out:
        while chunk := _chunk(src):
            written += len(chunk)
            if written > info.file_size:
                raise _too_large("size_mismatch", member=info.filename, declared_bytes=info.file_size)
            if written > budget:
                raise _too_large("streamed_total", member=info.filename)
            out.write(chunk)
    return written


def extract_shapefile_zip(archive: Path, dest: Path, *, max_total_bytes: int, layer: str | None = None) -> Path:
    """Extract a zipped grid layer safely and return the path to read: its one .shp or, when it
    holds no shapefile, its one GeoPackage or GeoJSON file.

    Every entry is checked before anything is written: path traversal and zip bombs (declared
    uncompressed size over the limit, or a compression ratio no shapefile has) are refused whole.
    Extraction streams with a running total, so sizes that lie are caught too; a damaged
    archive (bad CRC, truncated data) is 422 zip_corrupt.
    """
    with open_zip(archive) as zf:
        infos = check_zip(zf, max_total_bytes=max_total_bytes)
        paths = [_safe_member(i.filename) for i in infos]
        shps = [p for p in paths if p.suffix.lower() == ".shp" and (layer is None or p.stem == layer)]
        if not shps:
            shps = [p for p in paths if p.suffix.lower() in SINGLE_FILE_SUFFIXES]
            if not shps:
                names = ", ".join(sorted({p.suffix.lower() or p.name for p in paths})) or "nothing"
                raise InvalidInput(f"the zip holds no grid layer (found {names}); accepted are {', '.join(ACCEPTED)}",
                                   f"压缩包内没有可导入的图层（找到：{names}）。支持：{ACCEPTED_ZH}",
                                   code="unsupported_format", detail={"accepted": list(ACCEPTED)})
        if len(shps) != 1:
            found = ", ".join(str(p) for p in shps)
            raise InvalidInput(f"expected exactly one .shp in the zip (found: {found}); name one with layer=",
                               f"压缩包内应恰好有一个 .shp 文件（找到：{found}）", code="shp_not_found")
        budget = max_total_bytes
        for info, path in zip(infos, paths, strict=True):
            target = dest.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                budget -= _copy(zf, info, target, budget)
            except _DAMAGED as exc:
                raise _corrupt(exc) from None
        return dest.joinpath(*shps[0].parts)
