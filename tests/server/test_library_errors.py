"""gis and devices refuse input with one class, common.errors.InputError, which one handler turns into a 422."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from common.errors import InputError
from devices import codes as device_codes
from devices import topics
from gis import codes as grid_codes
from gis import datum

REFUSALS: dict[str, Callable[[], object]] = {
    "bad_topic": lambda: topics.parse("gridops/v1/camera"),
    "invalid_gb28181_id": lambda: device_codes.check_gb28181("12345"),
    "malformed_code": lambda: grid_codes.street_of("440112000000"),
    "unknown_datum": lambda: datum.to_cgcs2000(113.4, 23.1, "mars"),
}


@pytest.mark.parametrize("code", sorted(REFUSALS))
def test_a_library_refusal_is_a_422_with_its_code(app, code: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as refused:
        REFUSALS[code]()
    assert refused.value.code == code and refused.value.message_zh and refused.value.message_en
    app.add_api_route("/refuse", lambda: REFUSALS[code]())
    with TestClient(app) as client:
        r = client.get("/refuse")
    assert r.status_code == 422
    assert r.json()["error"] | {"detail": None} == {"code": code, "message": refused.value.message_en,
                                                    "message_zh": refused.value.message_zh, "detail": None}
