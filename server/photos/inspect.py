"""Check an uploaded photo by its bytes and pull out what the event record needs.

Phones and browsers lie about file names and content types, so the type is sniffed from
magic bytes, then the image is fully decoded once: a photo that cannot be decoded now would
fail later in a thumbnail job or in a supervisor's browser, far from the worker who sent it.

Metadata conventions (documented here because the EXIF standard leaves them open):

* `taken_at`: EXIF DateTimeOriginal is a wall-clock time with no zone. It is read in
  OffsetTimeOriginal's offset when the camera wrote one (EXIF 2.31+, most phones since 2018),
  otherwise in `default_tz` (Asia/Shanghai: the platform's phones are in China). A time outside
  the years the API accepts (2000–2099 in UTC: a camera's reset clock, a forged 9999) is no time.
* `gps_lon` / `gps_lat`: EXIF GPS is WGS-84 (what the phone's GNSS reports; GPSMapDatum is
  "WGS-84" in practice), NOT the GCJ-02 / BD-09 of AMap, Tencent or Baidu map tiles. Convert
  before drawing on those tiles; CGCS2000 equals WGS-84 at metre level. (0, 0) is read as
  "no fix", which some phones write, not as a point in the Gulf of Guinea.
* `width` / `height`: the upright (display) size, i.e. after the EXIF orientation is applied;
  `orientation` is the tag as the camera wrote it (1-8), for information only. HEIF keeps
  rotation in its own irot/imir boxes, which libheif applies while decoding; the EXIF tag is
  then ignored (pillow-heif resets it to 1 and keeps the original in info["original_orientation"]).
"""

from __future__ import annotations

import hashlib
import io
import math
import re
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from PIL import Image, UnidentifiedImageError
from PIL.ExifTags import GPS, IFD, Base

from server.errors import InvalidInput, PayloadTooLarge
from server.inputs import datetime_in_range

try:  # HEIC is what iPhones send by default; without pillow-heif we can still accept it unread.
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_DECODE = True
except ImportError:  # pragma: no cover - pillow-heif is a declared dependency
    HEIF_DECODE = False

JPEG, PNG, HEIC = "image/jpeg", "image/png", "image/heic"
PIL_FORMATS = {JPEG: ["JPEG"], PNG: ["PNG"], HEIC: ["HEIF"]}
DEFAULT_TZ = "Asia/Shanghai"

HEIC_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
AVIF_BRANDS = {b"avif", b"avis"}
OTHER_MAGIC: list[tuple[bytes, str]] = [
    (b"GIF87a", "GIF"), (b"GIF89a", "GIF"), (b"%PDF-", "PDF"), (b"BM", "BMP"),
    (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"PK\x03\x04", "ZIP"), (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL"), (b"<?xml", "XML/SVG"), (b"<svg", "SVG"),
]


@dataclass(frozen=True, slots=True)
class PhotoInfo:
    """What an event needs from a photo; see the module docstring for units and zones."""

    sha256: str
    content_type: str
    size_bytes: int
    width: int | None  # None only for HEIC when pillow-heif is unavailable
    height: int | None
    taken_at: datetime | None
    gps_lon: float | None
    gps_lat: float | None
    orientation: int = 1


def inspect_photo(
    data: bytes, *, max_bytes: int, max_pixels: int | None = None, default_tz: str = DEFAULT_TZ
) -> PhotoInfo:
    """Validate `data` and return its metadata, or raise InvalidInput / PayloadTooLarge.

    `max_pixels` defaults to Pillow's MAX_IMAGE_PIXELS (about 89.5 MP, above any 50 MP phone
    mode); Pillow itself refuses twice that at open, whatever is passed here.
    """
    if len(data) > max_bytes:
        mb = max_bytes / (1024 * 1024)
        raise PayloadTooLarge(f"photo is over the {mb:g} MB limit", f"照片超过 {mb:g} MB 限制",
                              code="photo_too_large", detail={"limit_bytes": max_bytes, "size_bytes": len(data)})
    content_type = sniff_content_type(data)
    base = dict(sha256=hashlib.sha256(data).hexdigest(), content_type=content_type, size_bytes=len(data))
    if content_type == HEIC and not HEIF_DECODE:
        return PhotoInfo(**base, width=None, height=None, taken_at=None, gps_lon=None, gps_lat=None)
    im = open_image(data, content_type, max_pixels=max_pixels)
    try:
        width, height = im.size
        if content_type == JPEG:  # decode at 1/8 scale: still reads every byte, a fraction of the memory
            im.draft(None, (max(1, width // 8), max(1, height // 8)))
        decode_pixels(im)
        exif = im.getexif()  # after load: a PNG's eXIf chunk may follow the pixel data
        orientation = _orientation(im, exif)
    finally:
        im.close()
    if orientation in (5, 6, 7, 8) and content_type != HEIC:
        width, height = height, width
    taken_at, lon, lat = _metadata(exif, default_tz)
    return PhotoInfo(**base, width=width, height=height, orientation=orientation,
                     taken_at=taken_at, gps_lon=lon, gps_lat=lat)


def _metadata(exif: Image.Exif, default_tz: str) -> tuple[datetime | None, float | None, float | None]:
    """Best effort: a phone's mangled EXIF must cost the event its metadata, never its photo."""
    try:
        lon, lat = _gps(exif.get_ifd(IFD.GPSInfo))
        return _taken_at(exif.get_ifd(IFD.Exif), default_tz), lon, lat
    except (ValueError, TypeError, KeyError, IndexError, OSError, SyntaxError, struct.error):
        return None, None, None


def sniff_content_type(data: bytes) -> str:
    """Return image/jpeg, image/png or image/heic from magic bytes, or refuse naming the type."""
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    kind = _ftyp_kind(data)
    if kind == "HEIC":
        return HEIC
    name = kind or next((label for magic, label in OTHER_MAGIC if data.startswith(magic)), None)
    if name is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        name = "WebP"
    name = name or ("empty" if not data else "unknown")
    raise InvalidInput(
        f"unsupported photo type: {name}; send JPEG, PNG or HEIC",
        f"不支持的照片格式：{name}；请上传 JPEG、PNG 或 HEIC",
        code="unsupported_photo_type", detail={"detected": name},
    )


def _ftyp_kind(data: bytes) -> str | None:
    """'HEIC', another ISO BMFF kind ('AVIF', "ISO BMFF 'mp42'"), or None if not ISO BMFF.

    The major brand decides, as it does for pillow-heif's opener; compatible brands only
    unmask AVIF files that declare the generic 'mif1' (pillow-heif here has no AV1 decoder).
    """
    if len(data) < 16 or data[4:8] != b"ftyp":
        return None
    box_size = struct.unpack(">I", data[:4])[0]
    end = min(len(data), box_size if box_size >= 16 else 16, 16 + 4 * 64)
    major = data[8:12]
    compatible = {data[i:i + 4] for i in range(16, end - 3, 4)}
    if major in AVIF_BRANDS or (major in {b"mif1", b"msf1"} and compatible & AVIF_BRANDS):
        return "AVIF"
    if major in HEIC_BRANDS:
        return "HEIC"
    return f"ISO BMFF {major.decode('ascii', 'replace')!r}"


def open_image(data: bytes, content_type: str, *, max_pixels: int | None = None) -> Image.Image:
    """Open with only the sniffed format's decoder (less attack surface) and the bomb guard."""
    limit = Image.MAX_IMAGE_PIXELS if max_pixels is None else max_pixels
    try:
        im = Image.open(io.BytesIO(data), formats=PIL_FORMATS[content_type])
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(None, limit) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _corrupt(exc) from exc
    if limit is not None and im.size[0] * im.size[1] > limit:
        size = im.size
        im.close()
        raise _too_many_pixels(size, limit)
    return im


def decode_pixels(im: Image.Image) -> None:
    """Decode every pixel: truncated or damaged data only shows up here."""
    try:
        im.load()
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels(im.size, Image.MAX_IMAGE_PIXELS) from exc
    except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise _corrupt(exc) from exc


def _corrupt(exc: BaseException) -> InvalidInput:
    return InvalidInput("photo is damaged or truncated and cannot be decoded",
                        "照片已损坏或不完整，无法解码", code="corrupt_photo", detail={"reason": str(exc)[:200]})


def _too_many_pixels(size: tuple[int, int] | None, limit: int | None) -> InvalidInput:
    detail: dict[str, Any] = {"limit_pixels": limit}
    if size:
        detail["width"], detail["height"] = size
    return InvalidInput("photo has too many pixels (possible decompression bomb)",
                        "照片像素过多（疑似解压炸弹）", code="photo_too_many_pixels", detail=detail)


def _orientation(im: Image.Image, exif: Image.Exif) -> int:
    value = im.info.get("original_orientation") or exif.get(Base.Orientation)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


_DATETIME = re.compile(r"(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_OFFSET = re.compile(r"([+-])(\d{2}):?(\d{2})")


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value or "").strip("\x00 ")


def _taken_at(exif_ifd: dict[int, Any], default_tz: str) -> datetime | None:
    """DateTimeOriginal as an aware datetime (zone rules in the module docstring)."""
    match = _DATETIME.fullmatch(_text(exif_ifd.get(Base.DateTimeOriginal)))
    if not match:
        return None
    subsec = re.sub(r"\D", "", _text(exif_ifd.get(Base.SubsecTimeOriginal)))[:6]
    try:
        naive = datetime(*(int(g) for g in match.groups()), int(subsec.ljust(6, "0")) if subsec else 0)
    except ValueError:  # "0000:00:00 00:00:00" and other placeholders
        return None
    taken = naive.replace(tzinfo=_offset(exif_ifd.get(Base.OffsetTimeOriginal)) or ZoneInfo(default_tz))
    # a reset or forged clock (9999:12:31 23:59:59-14:00 has no UTC at all): no time, as the API would refuse it
    return taken if datetime_in_range(taken) else None


def _offset(value: Any) -> tzinfo | None:
    match = _OFFSET.fullmatch(_text(value))
    if not match:
        return None
    sign, hours, minutes = match.groups()
    delta = timedelta(hours=int(hours), minutes=int(minutes))
    if delta > timedelta(hours=14):
        return None
    return timezone(-delta if sign == "-" else delta)


def _gps(gps_ifd: dict[int, Any]) -> tuple[float | None, float | None]:
    """(lon, lat) in WGS-84 decimal degrees, or (None, None) when absent or implausible."""
    lat = _degrees(gps_ifd.get(GPS.GPSLatitude), gps_ifd.get(GPS.GPSLatitudeRef), "N", "S", 90)
    lon = _degrees(gps_ifd.get(GPS.GPSLongitude), gps_ifd.get(GPS.GPSLongitudeRef), "E", "W", 180)
    if lat is None or lon is None or (lat == 0 and lon == 0):
        return None, None
    return lon, lat


def _degrees(dms: Any, ref: Any, positive: str, negative: str, bound: float) -> float | None:
    """Degrees/minutes/seconds rationals to signed decimal degrees; no hemisphere, no answer."""
    hemisphere = _text(ref).upper()[:1]
    if hemisphere not in (positive, negative) or dms is None:
        return None
    parts = dms if isinstance(dms, tuple | list) else (dms,)
    try:
        value = sum(float(p) / 60**i for i, p in enumerate(parts[:3]))
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    if not math.isfinite(value) or value > bound:
        return None
    return round(-value if hemisphere == negative else value, 7)
