"""Photos compressed on the phone before they are queued: a 12 MP camera JPEG (4–8 MB) becomes a
few hundred kB, which a weak network uploads in seconds. The picture keeps its orientation (the
EXIF rotation is applied to the pixels, and the tag reset, so every viewer shows it upright) and
its other EXIF (time taken, GPS), which the server reads."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image, ImageOps

MAX_EDGE = 1600  # px, the long side
QUALITY = 80  # JPEG quality: the usual trade-off of field apps (ODK Collect's "medium" scales similarly)
ORIENTATION = 0x0112


def compress(source: Path | bytes, *, max_edge: int = MAX_EDGE, quality: int = QUALITY) -> bytes:
    """JPEG bytes, at most `max_edge` px on the long side; never enlarged."""
    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as im:
        upright = ImageOps.exif_transpose(im)  # a copy; EXIF other than the orientation carried over
        exif = upright.getexif()
        exif.get_ifd(0x8825)  # load the GPS directory so that it is written back
        exif.get_ifd(0x8769)  # and the Exif one (DateTimeOriginal)
        if ORIENTATION in exif:
            exif[ORIENTATION] = 1
        upright.thumbnail((max_edge, max_edge), Image.Resampling.LANCZOS)
        if upright.mode not in ("RGB", "L"):
            upright = upright.convert("RGB")
        out = io.BytesIO()
        upright.save(out, "JPEG", quality=quality, optimize=True, exif=exif.tobytes())
        return out.getvalue()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_compressed(source: Path | bytes, directory: Path) -> tuple[str, Path, int]:
    """(sha256, path, size): the compressed photo written under its hash, as the server keys it."""
    data = compress(source)
    key = sha256(data)
    path = Path(directory) / f"{key}.jpg"
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)  # never a half-written file under the final name
    return key, path, len(data)
