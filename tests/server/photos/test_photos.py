"""Photo pipeline: sniffing by content, EXIF time and GPS, bombs, storage, thumbnails."""

from __future__ import annotations

import io
import random
import struct
import zlib
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from PIL.ExifTags import GPS, IFD, Base
from PIL.TiffImagePlugin import IFDRational

from server.config import Settings
from server.errors import InvalidInput, NotFound, PayloadTooLarge
from server.photos import inspect as inspect_mod
from server.photos.inspect import PhotoInfo, inspect_photo, sniff_content_type
from server.photos.storage import FileSystemStorage, PhotoStorage, S3Storage, photo_key, storage_from_settings
from server.photos.thumbnails import make_thumbnail

MB = 1024 * 1024
SHANGHAI = ZoneInfo("Asia/Shanghai")
GUANGZHOU = (113.26, 23.13)  # lon, lat: 113°15'36"E 23°07'48"N
RED, BLUE = (255, 0, 0), (0, 0, 255)


def _dms(value: float) -> tuple[IFDRational, IFDRational, IFDRational]:
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60 * 100)
    return IFDRational(degrees), IFDRational(minutes), IFDRational(seconds, 100)


def _exif(*, orientation: int | None = None, taken: str | None = "2024:05:01 09:30:15",
          offset: str | None = None, subsec: str | None = None,
          gps: tuple[float, float] | None = GUANGZHOU, refs: tuple[str, str] = ("E", "N")) -> Image.Exif:
    exif = Image.Exif()
    if orientation:
        exif[Base.Orientation] = orientation
    exif_ifd = exif.get_ifd(IFD.Exif)
    for tag, value in ((Base.DateTimeOriginal, taken), (Base.OffsetTimeOriginal, offset),
                       (Base.SubsecTimeOriginal, subsec)):
        if value is not None:
            exif_ifd[tag] = value
    if gps:
        gps_ifd = exif.get_ifd(IFD.GPSInfo)
        gps_ifd[GPS.GPSLongitudeRef], gps_ifd[GPS.GPSLatitudeRef] = refs
        gps_ifd[GPS.GPSLongitude], gps_ifd[GPS.GPSLatitude] = _dms(gps[0]), _dms(gps[1])
    return exif


def _picture(size: tuple[int, int] = (400, 300), mode: str = "RGB") -> Image.Image:
    """Blue with a red top-left marker, so rotations can be seen in the thumbnail."""
    im = Image.new(mode, size, BLUE if mode == "RGB" else (*BLUE, 255))
    im.paste(RED if mode == "RGB" else (*RED, 255), (0, 0, size[0] // 4, size[1] // 4))
    return im


def _save(im: Image.Image, fmt: str, **params: object) -> bytes:
    if isinstance(params.get("exif"), Image.Exif):  # Pillow's PNG writer skips an Exif whose IFD0
        params["exif"] = params["exif"].tobytes()  # is empty (falsy mapping) even with GPS inside
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def jpeg(exif: Image.Exif | bytes | None = None, size: tuple[int, int] = (400, 300)) -> bytes:
    return _save(_picture(size), "JPEG", quality=90, **({"exif": exif} if exif is not None else {}))


def png_alpha() -> bytes:
    im = _picture((200, 100), "RGBA")
    im.paste((0, 0, 0, 0), (100, 0, 200, 100))  # right half fully transparent
    return _save(im, "PNG")


def png_palette() -> bytes:
    im = Image.new("P", (64, 32), 0)
    im.putpalette([0, 0, 0, 0, 128, 0] + [0] * 762)
    im.paste(1, (0, 0, 32, 32))
    return _save(im, "PNG", transparency=0)


def heic(exif: Image.Exif | None = None) -> bytes:
    if not inspect_mod.HEIF_DECODE:
        pytest.skip("pillow-heif not installed")
    return _save(_picture(), "HEIF", quality=80, **({"exif": exif} if exif is not None else {}))


def png_declaring(width: int, height: int) -> bytes:
    """A few dozen bytes whose header claims a huge grey image: the classic decompression bomb."""
    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    body = major + b"\x00\x00\x00\x00" + b"".join(compatible)
    return struct.pack(">I", 8 + len(body)) + b"ftyp" + body + b"\x00" * 64


# ---------------------------------------------------------------- type sniffing


@pytest.mark.parametrize("make, content_type, size", [
    (lambda: jpeg(), "image/jpeg", (400, 300)),
    (png_alpha, "image/png", (200, 100)),
    (png_palette, "image/png", (64, 32)),
    (lambda: heic(), "image/heic", (400, 300)),
])
def test_accepts_supported_photos(make, content_type: str, size: tuple[int, int]) -> None:
    data = make()
    info = inspect_photo(data, max_bytes=15 * MB)
    assert isinstance(info, PhotoInfo)
    assert (info.content_type, (info.width, info.height), info.size_bytes) == (content_type, size, len(data))
    assert info.sha256 == photo_key(data) and len(info.sha256) == 64


def _gif() -> bytes:
    return _save(Image.new("P", (8, 8)), "GIF")


@pytest.mark.parametrize("make, detected", [
    (_gif, "GIF"),
    (lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "PDF"),
    (lambda: random.Random(20240501).randbytes(4096), "unknown"),
    (lambda: b"", "empty"),
    (lambda: _save(Image.new("RGB", (8, 8)), "BMP"), "BMP"),
    (lambda: _save(Image.new("RGB", (8, 8)), "TIFF"), "TIFF"),
    (lambda: b"RIFF\x1a\x00\x00\x00WEBPVP8 " + b"\x00" * 32, "WebP"),
    (lambda: ftyp(b"avif", b"avif", b"mif1", b"miaf"), "AVIF"),
    (lambda: ftyp(b"mif1", b"mif1", b"avif"), "AVIF"),
    (lambda: ftyp(b"isom", b"isom", b"mp42"), "ISO BMFF 'isom'"),
    (lambda: b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG"),
])
def test_refuses_other_types_naming_them(make, detected: str) -> None:
    with pytest.raises(InvalidInput) as err:
        inspect_photo(make(), max_bytes=15 * MB)
    assert err.value.code == "unsupported_photo_type"
    assert err.value.detail == {"detected": detected}
    assert detected in err.value.message_en and detected in err.value.message_zh


@pytest.mark.parametrize("major", [b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1"])
def test_heif_brands_sniff_as_heic(major: bytes) -> None:
    assert sniff_content_type(ftyp(major, b"mif1", major)) == "image/heic"


def test_content_wins_over_file_name(tmp_path: Path) -> None:
    disguised = tmp_path / "IMG_0001.png"
    disguised.write_bytes(jpeg())
    assert inspect_photo(disguised.read_bytes(), max_bytes=MB).content_type == "image/jpeg"
    renamed_gif = tmp_path / "photo.jpg"
    renamed_gif.write_bytes(_gif())
    with pytest.raises(InvalidInput, match="GIF"):
        inspect_photo(renamed_gif.read_bytes(), max_bytes=MB)


# ---------------------------------------------------------------- limits and damage


def test_size_limit_is_inclusive_and_checked_first() -> None:
    data = jpeg()
    assert inspect_photo(data, max_bytes=len(data)).size_bytes == len(data)
    with pytest.raises(PayloadTooLarge) as err:
        inspect_photo(data, max_bytes=len(data) - 1)
    assert err.value.code == "photo_too_large" and err.value.status_code == 413
    assert err.value.detail["limit_bytes"] == len(data) - 1
    with pytest.raises(PayloadTooLarge):  # even bytes we would refuse anyway cost no decoding
        inspect_photo(b"%PDF-" + b"x" * 100, max_bytes=50)


@pytest.mark.parametrize("make", [
    lambda: jpeg()[: len(jpeg()) // 2],
    lambda: jpeg()[:-200],
    lambda: b"\xff\xd8\xff\xe0" + b"garbage" * 20,
    lambda: png_alpha()[: len(png_alpha()) - 40],
    lambda: png_alpha()[:60] + b"\x00" * 30,
    lambda: heic()[: len(heic()) // 2],
])
def test_truncated_or_corrupt_photos_are_refused(make) -> None:
    with pytest.raises(InvalidInput) as err:
        inspect_photo(make(), max_bytes=15 * MB)
    assert err.value.code == "corrupt_photo"


@pytest.mark.parametrize("width, height, max_pixels", [
    (30000, 30000, None),  # over Pillow's hard limit: refused while opening
    (10000, 10000, None),  # between Pillow's warning and error: our own check refuses
    (200, 200, 10_000),  # a stricter limit set by the caller
])
def test_decompression_bombs_are_refused(width: int, height: int, max_pixels: int | None) -> None:
    data = png_declaring(width, height)
    assert len(data) < 100
    with pytest.raises(InvalidInput) as err:
        inspect_photo(data, max_bytes=MB, max_pixels=max_pixels)
    assert err.value.code == "photo_too_many_pixels"


# ---------------------------------------------------------------- EXIF


@pytest.mark.parametrize("exif_kwargs, expected", [
    ({}, datetime(2024, 5, 1, 9, 30, 15, tzinfo=SHANGHAI)),
    ({"offset": "+08:00"}, datetime(2024, 5, 1, 1, 30, 15, tzinfo=ZoneInfo("UTC"))),
    ({"offset": "-05:00"}, datetime(2024, 5, 1, 14, 30, 15, tzinfo=ZoneInfo("UTC"))),
    ({"offset": "bogus"}, datetime(2024, 5, 1, 9, 30, 15, tzinfo=SHANGHAI)),
    ({"subsec": "123"}, datetime(2024, 5, 1, 9, 30, 15, 123000, tzinfo=SHANGHAI)),
    ({"taken": "0000:00:00 00:00:00"}, None),
    ({"taken": "    :  :     :  :  "}, None),
    ({"taken": None}, None),
    # outside the API's years: 9999-12-31T23:59:59-14:00 has no UTC (it was a 500 storing the photo, fuzzer)
    ({"taken": "9999:12:31 23:59:59", "offset": "-14:00"}, None),
    ({"taken": "0001:01:01 00:00:00", "offset": "+14:00"}, None),
    ({"taken": "1980:01:01 00:00:00"}, None),
    ({"taken": "2000:01:01 08:00:00"}, datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC"))),
])
def test_taken_at_is_aware(exif_kwargs: dict, expected: datetime | None) -> None:
    info = inspect_photo(jpeg(_exif(**exif_kwargs)), max_bytes=MB)
    assert info.taken_at == expected
    if expected is not None:
        assert info.taken_at.utcoffset() is not None


def test_default_zone_is_a_parameter() -> None:
    info = inspect_photo(jpeg(_exif()), max_bytes=MB, default_tz="Asia/Urumqi")
    assert info.taken_at.utcoffset() == timedelta(hours=6)


@pytest.mark.parametrize("gps, refs, expected", [
    (GUANGZHOU, ("E", "N"), GUANGZHOU),
    (GUANGZHOU, ("W", "S"), (-113.26, -23.13)),
    (GUANGZHOU, ("", ""), (None, None)),  # no hemisphere: refuse to guess
    ((0.0, 0.0), ("E", "N"), (None, None)),  # "no fix" placeholder
    (None, ("E", "N"), (None, None)),
])
def test_gps_to_decimal_degrees(gps, refs, expected) -> None:
    info = inspect_photo(jpeg(_exif(gps=gps, refs=refs)), max_bytes=MB)
    if expected[0] is None:
        assert (info.gps_lon, info.gps_lat) == (None, None)
    else:
        assert (info.gps_lon, info.gps_lat) == pytest.approx(expected, abs=1e-6)


def test_gps_with_zero_denominators_is_ignored() -> None:
    exif = _exif()
    exif.get_ifd(IFD.GPSInfo)[GPS.GPSLatitude] = (IFDRational(0, 0), IFDRational(0, 0), IFDRational(0, 0))
    info = inspect_photo(jpeg(exif), max_bytes=MB)
    assert (info.gps_lon, info.gps_lat) == (None, None)


def test_mangled_exif_costs_metadata_not_the_photo() -> None:
    good = _exif(orientation=6).tobytes()
    rng = random.Random(7)
    for _ in range(100):
        mangled = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            mangled[rng.randrange(6, len(mangled))] = rng.randrange(256)
        info = inspect_photo(jpeg(bytes(mangled)), max_bytes=MB)
        assert info.content_type == "image/jpeg" and 1 <= info.orientation <= 8


@pytest.mark.parametrize("orientation, size", [(None, (400, 300)), (1, (400, 300)), (3, (400, 300)),
                                               (6, (300, 400)), (8, (300, 400))])
def test_orientation_gives_upright_size(orientation: int | None, size: tuple[int, int]) -> None:
    info = inspect_photo(jpeg(_exif(orientation=orientation)), max_bytes=MB)
    assert (info.width, info.height) == size
    assert info.orientation == (orientation or 1)


def test_png_and_heic_carry_exif_too() -> None:
    png = _save(_picture(), "PNG", exif=_exif())
    for data in (png, heic(_exif())):
        info = inspect_photo(data, max_bytes=MB)
        assert info.taken_at == datetime(2024, 5, 1, 9, 30, 15, tzinfo=SHANGHAI)
        assert (info.gps_lon, info.gps_lat) == pytest.approx(GUANGZHOU)


def test_heic_without_decoder_is_still_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    data = heic(_exif())
    monkeypatch.setattr(inspect_mod, "HEIF_DECODE", False)
    import server.photos.thumbnails as thumbs
    monkeypatch.setattr(thumbs, "HEIF_DECODE", False)
    info = inspect_photo(data, max_bytes=MB)
    assert (info.content_type, info.width, info.taken_at) == ("image/heic", None, None)
    assert info.sha256 == photo_key(data)
    with pytest.raises(InvalidInput) as err:
        make_thumbnail(data)
    assert err.value.code == "heic_unavailable"


# ---------------------------------------------------------------- filesystem storage

BAD_KEYS = ["../../etc/passwd", "A" * 64, "a" * 63, "a" * 65, "a" * 64 + "\n", "g" * 64, "",
            "a" * 31 + "/" + "a" * 32, "/" + "a" * 63]


@pytest.fixture
def fs_storage(tmp_path: Path) -> FileSystemStorage:
    return FileSystemStorage(tmp_path / "media")


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_filesystem_round_trip_and_layout(fs_storage: FileSystemStorage) -> None:
    data = jpeg()
    key = fs_storage.put(data, content_type="image/jpeg")
    assert key == photo_key(data) and isinstance(fs_storage, PhotoStorage)
    assert fs_storage.exists(key) and fs_storage.get(key) == data
    assert _files(fs_storage.root) == [fs_storage.root / key[:2] / key[2:4] / key]
    assert (fs_storage.root / key[:2] / key[2:4] / key).stat().st_mode & 0o777 == 0o644
    fs_storage.delete(key)
    fs_storage.delete(key)  # idempotent
    assert not fs_storage.exists(key)
    with pytest.raises(NotFound) as err:
        fs_storage.get(key)
    assert err.value.code == "photo_not_found"


def test_filesystem_dedups_identical_photos(fs_storage: FileSystemStorage) -> None:
    data = jpeg()
    keys = {fs_storage.put(data, content_type="image/jpeg") for _ in range(3)}
    other = fs_storage.put(png_alpha(), content_type="image/png")
    assert len(keys) == 1 and other not in keys
    assert len(_files(fs_storage.root)) == 2


@pytest.mark.parametrize("key", BAD_KEYS)
@pytest.mark.parametrize("op", ["get", "exists", "delete"])
def test_filesystem_refuses_bad_keys(fs_storage: FileSystemStorage, key: str, op: str) -> None:
    with pytest.raises(InvalidInput) as err:
        getattr(fs_storage, op)(key)
    assert err.value.code == "invalid_photo_key"


def test_filesystem_write_is_atomic(fs_storage: FileSystemStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    fs_storage.put(jpeg(), content_type="image/jpeg")
    assert not [p for p in fs_storage.root.rglob("*") if p.name.startswith(".tmp-")]

    def crash(*_: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("server.photos.storage.os.replace", crash)
    data = png_alpha()
    with pytest.raises(OSError, match="disk full"):
        fs_storage.put(data, content_type="image/png")
    assert not fs_storage.exists(photo_key(data))
    assert not [p for p in fs_storage.root.rglob("*") if p.name.startswith(".tmp-")]


def test_storage_from_settings_filesystem(tmp_path: Path) -> None:
    storage = storage_from_settings(Settings(media_backend="filesystem", media_root=str(tmp_path / "m")))
    assert isinstance(storage, FileSystemStorage) and storage.root == tmp_path / "m"


@pytest.mark.parametrize("overrides, message", [
    ({"media_backend": "ftp"}, "must be 'filesystem' or 's3'"),
    ({"media_backend": "s3", "s3_bucket": ""}, "GRIDOPS_S3_BUCKET"),
    ({"media_backend": "s3", "s3_bucket": "b", "s3_secret_access_key": "s"}, "both or neither"),
])
def test_storage_from_settings_refuses_bad_config(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        storage_from_settings(Settings(**overrides))


# ---------------------------------------------------------------- S3 (moto)


@pytest.fixture
def s3_client(monkeypatch: pytest.MonkeyPatch):
    moto = pytest.importorskip("moto")
    boto3 = pytest.importorskip("boto3")
    for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                        ("AWS_DEFAULT_REGION", "cn-north-1")):
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="gridops-photos")
        yield client


def test_s3_round_trip_dedup_and_bad_keys(s3_client) -> None:
    storage = S3Storage("gridops-photos", client=s3_client, prefix="photos/")
    data = jpeg()
    key = storage.put(data, content_type="image/jpeg")
    assert storage.put(data, content_type="image/jpeg") == key == photo_key(data)
    listed = s3_client.list_objects_v2(Bucket="gridops-photos")["Contents"]
    assert [o["Key"] for o in listed] == [f"photos/{key[:2]}/{key[2:4]}/{key}"]
    head = s3_client.head_object(Bucket="gridops-photos", Key=listed[0]["Key"])
    assert head["ContentType"] == "image/jpeg"
    assert storage.exists(key) and storage.get(key) == data
    storage.delete(key)
    assert not storage.exists(key)
    with pytest.raises(NotFound):
        storage.get(key)
    for bad in BAD_KEYS:
        with pytest.raises(InvalidInput):
            storage.get(bad)


def test_s3_put_skips_upload_of_known_photo(s3_client, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = S3Storage("gridops-photos", client=s3_client)
    data = jpeg()
    storage.put(data, content_type="image/jpeg")
    calls: list[str] = []
    monkeypatch.setattr(s3_client, "put_object", lambda **kw: calls.append(kw["Key"]))
    storage.put(data, content_type="image/jpeg")
    assert calls == []


def test_storage_from_settings_s3(s3_client) -> None:
    storage = storage_from_settings(Settings(media_backend="s3", s3_bucket="gridops-photos",
                                             s3_region="us-east-1", s3_prefix=""))
    assert isinstance(storage, S3Storage)
    key = storage.put(b"bytes", content_type="image/jpeg")
    assert s3_client.get_object(Bucket="gridops-photos", Key=f"{key[:2]}/{key[2:4]}/{key}")["Body"].read() == b"bytes"
    minio = storage_from_settings(Settings(media_backend="s3", s3_bucket="b", s3_endpoint_url="http://127.0.0.1:9000",
                                           s3_addressing_style="path", s3_access_key_id="k",
                                           s3_secret_access_key="s"))
    assert minio.client.meta.endpoint_url == "http://127.0.0.1:9000"
    assert minio.client.meta.config.s3 == {"addressing_style": "path"}


# ---------------------------------------------------------------- thumbnails


def _thumb(data: bytes, **kwargs: int) -> Image.Image:
    thumb = make_thumbnail(data, **kwargs)
    assert thumb.startswith(b"\xff\xd8\xff")
    im = Image.open(io.BytesIO(thumb))
    assert im.format == "JPEG" and im.mode == "RGB"
    assert not im.getexif(), "thumbnails must not leak GPS or device EXIF"
    return im


def _near(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour))


@pytest.mark.parametrize("make, max_side, size", [
    (lambda: jpeg(_exif()), 320, (320, 240)),
    (lambda: jpeg(_exif(orientation=6)), 320, (240, 320)),
    (lambda: jpeg(size=(100, 50)), 320, (100, 50)),  # never upscaled
    (lambda: jpeg(size=(3000, 4000)), 160, (120, 160)),
    (png_alpha, 100, (100, 50)),
    (png_palette, 320, (64, 32)),
    (lambda: heic(), 200, (200, 150)),
])
def test_thumbnail_dimensions(make, max_side: int, size: tuple[int, int]) -> None:
    assert _thumb(make(), max_side=max_side).size == size


@pytest.mark.parametrize("orientation, marker_at", [
    (1, (0.1, 0.1)),  # top-left as stored
    (3, (0.9, 0.9)),  # rotated 180
    (6, (0.9, 0.1)),  # rotate 90 clockwise: stored top-left ends top-right
    (8, (0.1, 0.9)),  # rotate 90 counter-clockwise: ends bottom-left
])
def test_thumbnail_applies_exif_orientation(orientation: int, marker_at: tuple[float, float]) -> None:
    im = _thumb(jpeg(_exif(orientation=orientation)))
    x, y = int(marker_at[0] * im.width), int(marker_at[1] * im.height)
    assert _near(im.getpixel((x, y)), RED)
    assert _near(im.getpixel((im.width // 2, im.height // 2)), BLUE)


def test_thumbnail_flattens_alpha_onto_white() -> None:
    im = _thumb(png_alpha())
    assert _near(im.getpixel((5, 5)), RED) and _near(im.getpixel((150, 50)), (255, 255, 255), 10)


def test_thumbnail_of_16_bit_png_is_not_blown_out() -> None:
    im = _thumb(_save(Image.new("I;16", (50, 50), 32768), "PNG"))
    assert _near(im.getpixel((25, 25)), (128, 128, 128), 5)


@pytest.mark.parametrize("data, code", [
    (b"GIF89a" + b"\x00" * 20, "unsupported_photo_type"),
    (b"\xff\xd8\xff\xe0garbage", "corrupt_photo"),
    (png_declaring(30000, 30000), "photo_too_many_pixels"),
])
def test_thumbnail_refuses_what_inspect_refuses(data: bytes, code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        make_thumbnail(data)
    assert err.value.code == code


def test_thumbnail_rejects_nonpositive_side() -> None:
    with pytest.raises(ValueError):
        make_thumbnail(jpeg(), max_side=0)
