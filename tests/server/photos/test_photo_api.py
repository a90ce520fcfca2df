"""Photo upload through the API, and events that refer to uploaded photos."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests import factories


@pytest.fixture
def world(db_session, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    from server.config import get_settings

    monkeypatch.setenv("GRIDOPS_MEDIA_ROOT", str(tmp_path / "media"))
    monkeypatch.setenv("GRIDOPS_PHOTO_MAX_MB", "1")
    get_settings.cache_clear()
    yield factories.event_world(db_session)
    get_settings.cache_clear()


def _jpeg(color: str = "red", size: tuple[int, int] = (640, 480)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG")
    return buf.getvalue()


def _upload(client, world, data: bytes, name: str = "p.jpg", who: str = "worker_a"):  # type: ignore[no-untyped-def]
    return client.post("/api/v1/photos", files={"file": (name, data, "image/jpeg")},
                       headers=factories.auth_headers(world["users"][who]))


def test_upload_dedupe_and_download(client, world) -> None:  # type: ignore[no-untyped-def]
    data = _jpeg()
    first = _upload(client, world, data)
    assert first.status_code == 201, first.text
    assert first.json()["content_type"] == "image/jpeg" and first.json()["width"] == 640
    again = _upload(client, world, data, name="renamed.png")
    assert again.status_code == 200 and again.json()["sha256"] == first.json()["sha256"]
    h = factories.auth_headers(world["users"]["worker_a"])  # the uploader; others once an event holds it
    got = client.get(f"/api/v1/photos/{first.json()['sha256']}", headers=h)
    assert got.status_code == 200 and got.content == data
    thumb = client.get(f"/api/v1/photos/{first.json()['sha256']}?thumbnail=true", headers=h)
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).size == (320, 240)


@pytest.mark.parametrize(("data", "status", "code"), [
    (b"GIF89a" + b"\0" * 100, 422, "unsupported_photo_type"),
    (b"%PDF-1.7 fake", 422, "unsupported_photo_type"),
    (_jpeg()[:200], 422, "corrupt_photo"),
])
def test_bad_photos_refused(client, world, data: bytes, status: int, code: str) -> None:  # type: ignore[no-untyped-def]
    r = _upload(client, world, data)
    assert r.status_code == status and r.json()["error"]["code"] == code


def test_a_photo_whose_exif_time_has_no_utc_is_kept_without_it(client, world) -> None:  # type: ignore[no-untyped-def]
    """9999-12-31 23:59:59 at -14:00 is past datetime's last UTC second: storing it was a 500 (fuzzer)."""
    exif = Image.Exif()
    exif.get_ifd(0x8769).update({0x9003: "9999:12:31 23:59:59", 0x9011: "-14:00"})  # DateTimeOriginal, its offset
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(buf, "JPEG", exif=exif)
    r = _upload(client, world, buf.getvalue())
    assert r.status_code == 201, r.text
    assert r.json()["taken_at"] is None


def test_oversized_photo_refused(client, world) -> None:  # type: ignore[no-untyped-def]
    big = _jpeg(size=(20, 20)) + b"\0" * (1024 * 1024 + 10)
    r = _upload(client, world, big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "photo_too_large"


def test_event_with_uploaded_photo(client, world) -> None:  # type: ignore[no-untyped-def]
    key = _upload(client, world, _jpeg("blue")).json()["sha256"]
    r = client.post("/api/v1/events", json=factories.event_body(photos=[key]),
                    headers=factories.auth_headers(world["users"]["worker_a"]))
    assert r.status_code == 201 and r.json()["photos"] == [key]


def test_auditor_cannot_upload(client, world) -> None:  # type: ignore[no-untyped-def]
    assert _upload(client, world, _jpeg(), who="auditor").status_code == 403


def _png(size: tuple[int, int], mode: str = "L") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size).save(buf, "PNG")
    return buf.getvalue()


def test_decompression_bomb_refused_from_its_header(client, world, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """9000×9000 (81 MP, 80 KB compressed) is over the 50 MP default: refused before any pixel is
    decoded (decoding is made to fail here, so a refusal after decoding would be a 500, not a 422)."""
    from PIL import Image, ImageFile

    def no_decoding(self):  # type: ignore[no-untyped-def]
        raise AssertionError("pixels decoded")

    bomb = _png((9000, 9000))
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    monkeypatch.setattr(Image.Image, "load", no_decoding)
    r = _upload(client, world, bomb, name="bomb.png")
    assert r.status_code == 422 and r.json()["error"]["code"] == "photo_too_many_pixels"
    assert r.json()["error"]["detail"] == {"limit_pixels": 50_000_000, "width": 9000, "height": 9000}


def test_pixel_limit_is_a_setting(client, world, settings_env) -> None:  # type: ignore[no-untyped-def]
    settings_env(GRIDOPS_PHOTO_MAX_PIXELS=str(1000 * 1000))
    assert _upload(client, world, _png((1000, 1000)), name="ok.png").status_code == 201
    r = _upload(client, world, _png((1001, 1000)), name="big.png")
    assert r.status_code == 422 and r.json()["error"]["detail"]["limit_pixels"] == 1_000_000


def test_photos_added_to_an_event_after_it_was_sent(client, world) -> None:  # type: ignore[no-untyped-def]
    """The app sends an event before its photos; the reporter adds them once uploaded, a retry adds nothing."""
    h = factories.auth_headers(world["users"]["worker_a"])
    first = _upload(client, world, _jpeg("green")).json()["sha256"]
    event = client.post("/api/v1/events", json=factories.event_body(photos=[first]), headers=h).json()
    late = [_upload(client, world, _jpeg(c)).json()["sha256"] for c in ("navy", "olive")]
    url = f"/api/v1/events/{event['uuid']}/photos"
    r = client.post(url, json={"photos": [first, *late]}, headers=h)
    assert r.status_code == 200 and r.json()["photos"] == [first, *late]
    assert [(x["kind"], x["attachments"]) for x in r.json()["history"]] == [("create", [first]), ("photos", late)]
    again = client.post(url, json={"photos": late}, headers=h).json()
    assert again["photos"] == [first, *late] and len(again["history"]) == 2
    assert client.get(f"/api/v1/photos/{late[0]}", headers=factories.auth_headers(world["users"]["street1"])
                      ).status_code == 200  # linked: readable in the event's territory


def test_adding_photos_refused_with_a_reason(client, world) -> None:  # type: ignore[no-untyped-def]
    h = factories.auth_headers(world["users"]["worker_a"])
    event = client.post("/api/v1/events", json=factories.event_body(), headers=h).json()
    url = f"/api/v1/events/{event['uuid']}/photos"
    missing = client.post(url, json={"photos": ["a" * 64]}, headers=h)
    assert missing.status_code == 422 and missing.json()["error"]["code"] == "photo_not_uploaded"
    key = _upload(client, world, _jpeg("teal"), who="street1").json()["sha256"]
    other = client.post(url, json={"photos": [key]}, headers=factories.auth_headers(world["users"]["street1"]))
    assert other.status_code == 403 and other.json()["error"]["code"] == "not_the_reporter"
    many = [_upload(client, world, _jpeg((i * 12, 255 - i * 12, 0), (32, 32))).json()["sha256"] for i in range(21)]
    assert len(set(many)) == 21
    assert client.post(url, json={"photos": many[:20]}, headers=h).status_code == 200
    over = client.post(url, json={"photos": many[20:]}, headers=h)
    assert over.status_code == 422 and over.json()["error"]["code"] == "too_many_photos"
    assert client.post(url, json={"photos": []}, headers=h).status_code == 422


def test_a_mock_location_is_kept_and_old_retries_still_replay(client, world) -> None:  # type: ignore[no-untyped-def]
    h = factories.auth_headers(world["users"]["worker_a"])
    mocked = client.post("/api/v1/events", json=factories.event_body(location_mock=True), headers=h)
    assert mocked.status_code == 201 and mocked.json()["location_mock"] is True
    body = factories.event_body()  # a client that does not know the flag
    assert client.post("/api/v1/events", json=body, headers=h).json()["location_mock"] is None
    assert client.post("/api/v1/events", json={**body, "location_mock": None}, headers=h).status_code == 200
