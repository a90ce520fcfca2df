"""Small upright JPEG previews for event lists and the supervisor's map pop-ups.

Thumbnails are always JPEG (every browser and WeChat web view shows it, unlike HEIC), always
upright (phones store pixels sideways plus an EXIF orientation tag), and carry no EXIF, so a
preview never leaks GPS or device data; the colour profile is kept (iPhones shoot Display P3).
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps

from server.errors import InvalidInput
from server.photos.inspect import HEIC, HEIF_DECODE, decode_pixels, open_image, sniff_content_type

JPEG_QUALITY = 80


def make_thumbnail(data: bytes, *, max_side: int = 320, max_pixels: int | None = None) -> bytes:
    """JPEG whose longer side is at most `max_side`, never upscaled; refuses what inspect refuses."""
    if max_side < 1:
        raise ValueError("max_side must be positive")
    content_type = sniff_content_type(data)
    if content_type == HEIC and not HEIF_DECODE:
        raise InvalidInput("HEIC photos cannot be previewed on this server", "本服务器无法预览 HEIC 照片",
                           code="heic_unavailable")
    im = open_image(data, content_type, max_pixels=max_pixels)
    try:
        # thumbnail() first: it lets JPEG (DCT scaling) and HEIC (embedded preview) decode small
        im.draft(None, (max_side * 2, max_side * 2))
        decode_pixels(im)
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        upright = ImageOps.exif_transpose(im)
        icc = im.info.get("icc_profile")
    finally:
        im.close()
    out = io.BytesIO()
    _to_rgb(upright).save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, icc_profile=icc)
    return out.getvalue()


def _to_rgb(im: Image.Image) -> Image.Image:
    """Flatten transparency onto white: JPEG has no alpha, and black (the default) hides content."""
    if im.mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif im.mode in ("LA", "PA"):
        im = im.convert("RGBA")
    elif im.mode.startswith("I"):  # 16-bit PNG: a plain convert() clips everything to white
        im = im.convert("I").point(lambda v: v * (1 / 257)).convert("L")
    if im.mode == "RGBA":
        background = Image.new("RGB", im.size, "white")
        background.paste(im, mask=im.getchannel("A"))
        return background
    return im if im.mode == "RGB" else im.convert("RGB")
