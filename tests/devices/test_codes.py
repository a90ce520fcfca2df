"""Device codes and GB/T 28181 ids."""

from __future__ import annotations

import pytest

from common.errors import InputError
from devices import codes
from devices.codes import DeviceKind


@pytest.mark.parametrize("code", ["44011200001310000001", "44011200001320000001"])
def test_valid_gb28181_camera_ids(code: str) -> None:
    assert codes.gb28181_problem(code) is None
    assert codes.check_gb28181(code) == code


@pytest.mark.parametrize(("code", "why"), [
    ("4401120000131000000", "20 digits"),  # 19 digits
    ("440112000013100000011", "20 digits"),
    ("4401120000131000000Ａ", "20 digits"),
    ("４４011200001310000001", "20 digits"),  # full-width digits
    ("99011200001310000001", "province"),
    ("44011200001180000001", "type code 118"),  # an NVR, not a camera
    ("44011200002000000001", "type code 200"),  # a platform server
])
def test_invalid_gb28181_ids(code: str, why: str) -> None:
    problem = codes.gb28181_problem(code)
    assert problem is not None and why in problem
    with pytest.raises(InputError) as err:
        codes.check_gb28181(code)
    assert err.value.code == "invalid_gb28181_id"


@pytest.mark.parametrize(("text", "kind"), [
    ("camera", DeviceKind.camera), ("视频监控点位", DeviceKind.camera), (" 摄像机 ", DeviceKind.camera),
    ("门禁", DeviceKind.access_controller), ("政法网链路", DeviceKind.link), ("视联网终端", DeviceKind.terminal),
])
def test_parse_kind_accepts_ledger_words(text: str, kind: DeviceKind) -> None:
    assert codes.parse_kind(text) is kind


def test_parse_kind_refuses_unknown() -> None:
    with pytest.raises(InputError) as err:
        codes.parse_kind("烤面包机")
    assert err.value.code == "unknown_device_kind"


@pytest.mark.parametrize(("code", "ok"), [("CAM-001", True), ("a.b_c", True), ("a/b", False), ("a+", False),
                                          ("", False), ("x" * 64, True), ("x" * 65, False), ("_x", False)])
def test_device_code_rule(code: str, ok: bool) -> None:
    assert (codes.device_code_problem(code) is None) is ok
