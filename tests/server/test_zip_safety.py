"""Zip bombs within the upload limit, sizes that lie, damaged archives: refused before memory or disk
fill up, with a stable code; the xlsx of a device ledger is a zip too."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pytest

from server.errors import GridopsError
from server.uploads import MAX_RATIO, RATIO_FLOOR, _copy, extract_shapefile_zip
from tests import factories

MB = 1 << 20
SHAPEFILE = ("g.shp", "g.shx", "g.dbf", "g.prj")


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _bomb(size: int = 64 * MB) -> bytes:
    """A shapefile zip whose .shp is `size` zeros: a few dozen KB on the wire."""
    return _zip({"g.shp": bytes(size), "g.shx": b"x", "g.dbf": b"x", "g.prj": b"x"})


def _patch_member(data: bytes, name: str, *, crc: int | None = None, size: int | None = None) -> bytes:
    """Rewrite a member's CRC or uncompressed size in its local header and in the central directory."""
    out = bytearray(data)
    encoded = name.encode()
    for signature, crc_at, size_at, name_len_at, name_at in ((b"PK\x03\x04", 14, 22, 26, 30),
                                                             (b"PK\x01\x02", 16, 24, 28, 46)):
        start = 0
        while (start := out.find(signature, start)) >= 0:
            length = struct.unpack_from("<H", out, start + name_len_at)[0]
            if bytes(out[start + name_at:start + name_at + length]) == encoded:
                if crc is not None:
                    struct.pack_into("<I", out, start + crc_at, crc)
                if size is not None:
                    struct.pack_into("<I", out, start + size_at, size)
            start += 4
    return bytes(out)


def _extract(tmp_path: Path, data: bytes, limit: int = 1024 * MB) -> tuple[GridopsError, Path]:
    archive, dest = tmp_path / "up.zip", tmp_path / "x"
    archive.write_bytes(data)
    with pytest.raises(GridopsError) as err:
        extract_shapefile_zip(archive, dest, max_total_bytes=limit)
    return err.value, dest


def test_bomb_refused_from_its_directory_without_extracting(tmp_path: Path) -> None:
    data = _bomb()
    assert len(data) < 200_000  # 64 MB in well under 200 KB: the kind of file that fit the upload limit
    err, dest = _extract(tmp_path, data)
    assert err.code == "zip_too_large" and err.detail["reason"] == "compression_ratio"
    assert err.detail["member"] == "g.shp" and not dest.exists()  # nothing was written


def test_declared_total_over_the_limit_refused_without_extracting(tmp_path: Path) -> None:
    err, dest = _extract(tmp_path, _zip({n: b"0123456789" * 100_000 for n in SHAPEFILE}), limit=2 * MB)
    assert err.code == "zip_too_large" and err.detail["reason"] == "declared_total" and not dest.exists()


def test_sizes_that_lie_stop_at_the_declared_size(tmp_path: Path) -> None:
    """The directory says 100 KB (ratio and total look harmless); the data inflates to 64 MB."""
    declared = 100_000
    err, dest = _extract(tmp_path, _patch_member(_bomb(), "g.shp", size=declared))
    assert err.code == "zip_corrupt" and err.status_code == 422
    assert (dest / "g.shp").stat().st_size <= declared  # streamed: never more than was declared


def test_running_total_stops_the_stream(tmp_path: Path) -> None:
    data = _zip({"g.shp": bytes(3 * MB)})
    with zipfile.ZipFile(io.BytesIO(data)) as zf, pytest.raises(GridopsError) as err:
        _copy(zf, zf.getinfo("g.shp"), tmp_path / "g.shp", budget=2 * MB)
    assert err.value.detail["reason"] == "streamed_total"
    assert (tmp_path / "g.shp").stat().st_size <= 2 * MB


def test_ordinary_compression_passes(tmp_path: Path) -> None:
    text = b"".join(b"%08d,\xe7\xbd\x91\xe6\xa0\xbc%05d,440112001001\n" % (i, i % 977) for i in range(200_000))
    data = _zip({"g.shp": text, "g.shx": b"x", "g.dbf": b"x", "g.prj": b"x"})
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("g.shp")
    assert info.file_size > RATIO_FLOOR and info.file_size < MAX_RATIO * info.compress_size
    (tmp_path / "up.zip").write_bytes(data)
    shp = extract_shapefile_zip(tmp_path / "up.zip", tmp_path / "x", max_total_bytes=1024 * MB)
    assert shp.read_bytes() == text


@pytest.mark.parametrize("damage", ["crc", "garbage", "cut", "offset"])
def test_damaged_archive_is_422_zip_corrupt(tmp_path: Path, damage: str) -> None:
    data = _zip({"g.shp": b"0123456789abcdef" * 10_000, "g.shx": b"x", "g.dbf": b"x", "g.prj": b"x"})
    if damage == "crc":
        data = _patch_member(data, "g.shp", crc=0xDEADBEEF)
    elif damage == "garbage":  # the deflate stream of g.shp overwritten, the directory intact
        start = data.find(b"PK\x03\x04") + 30 + len("g.shp")
        data = data[:start] + b"\xff" * 64 + data[start + 64:]
    elif damage == "offset":  # the directory's start moved 1000 bytes on: members "begin" before the file
        data = bytearray(data)  # does; zipfile's seek there was an OSError (EINVAL), a 500 (fuzzer)
        end = data.rfind(b"PK\x05\x06")
        struct.pack_into("<I", data, end + 16, struct.unpack_from("<I", data, end + 16)[0] + 1000)
        data = bytes(data)
    else:  # a transfer cut short: the directory at the end is gone
        data = data[: len(data) // 2]
    err, _ = _extract(tmp_path, data)
    assert err.code == "zip_corrupt" and err.status_code == 422


def test_not_a_zip_at_all_stays_not_a_zip(tmp_path: Path) -> None:
    err, _ = _extract(tmp_path, b"GIF89a not a zip")
    assert err.code == "not_a_zip"


def test_grid_import_refuses_bomb_and_bad_crc(client, db_session) -> None:  # type: ignore[no-untyped-def]
    world = factories.event_world(db_session)
    h = factories.auth_headers(world["users"]["admin"])
    r = client.post("/api/v1/grids/import", files={"file": ("g.zip", _bomb(), "application/zip")}, headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "zip_too_large"
    bad = _patch_member(_zip({n: b"x" * 1000 for n in SHAPEFILE}), "g.shp", crc=1)
    r = client.post("/api/v1/grids/import", files={"file": ("g.zip", bad, "application/zip")}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "zip_corrupt"


def test_device_ledger_xlsx_bomb_refused_before_openpyxl(client, db_session) -> None:  # type: ignore[no-untyped-def]
    world = factories.event_world(db_session)
    h = factories.auth_headers(world["users"]["admin"])
    bomb = _zip({"[Content_Types].xml": b"<x/>", "xl/worksheets/sheet1.xml": bytes(64 * MB)})
    r = client.post("/api/v1/devices/import", files={"file": ("台账.xlsx", bomb, "application/octet-stream")},
                    headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "zip_too_large"
