"""Device codes: the MQTT identity of a device, and the GB/T 28181 national id of video points.

A device code is the MQTT username and a topic level, so it must never contain `/`, `+` or
`#` (they would let one device address another's topics through wildcards) and must be
ASCII. A camera registered under GB/T 28181-2016 (公共安全视频监控联网系统) carries a 20-digit
id: 8-digit centre code (province 2, city 2, district 2, grass-roots unit 2), 2-digit industry
code, 3-digit type code, 1-digit network flag and a 6-digit serial (appendix D of the standard).
"""

from __future__ import annotations

import re
from enum import StrEnum

from common.errors import InputError

DEVICE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_GB_DIGITS = re.compile(r"[0-9]{20}")  # not \d: it would accept full-width digits

# First two digits of GB/T 2260 codes: provinces, autonomous regions, municipalities, SARs.
PROVINCE_PREFIXES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)
# GB/T 28181-2016 appendix D type codes of a video source: 131 camera, 132 network camera (IPC).
# DVR/NVR channels (111, 118) are registered under the recorder, not as a video point.
CAMERA_TYPE_CODES = frozenset({"131", "132"})


class DeviceKind(StrEnum):
    camera = "camera"  # 雪亮工程 视频监控点位
    access_controller = "access_controller"  # 出租屋 门禁系统
    link = "link"  # 政法网 链路
    terminal = "terminal"  # 视联网 终端


KIND_LABELS_ZH = {
    DeviceKind.camera: "视频监控点位", DeviceKind.access_controller: "门禁",
    DeviceKind.link: "政法网链路", DeviceKind.terminal: "视联网终端",
}
KIND_FROM_TEXT: dict[str, DeviceKind] = {
    **{k.value: k for k in DeviceKind}, **{v: k for k, v in KIND_LABELS_ZH.items()},
    "摄像头": DeviceKind.camera, "摄像机": DeviceKind.camera, "视频监控": DeviceKind.camera,
    "门禁系统": DeviceKind.access_controller, "门禁控制器": DeviceKind.access_controller,
    "链路": DeviceKind.link, "网络链路": DeviceKind.link, "终端": DeviceKind.terminal,
    "视联网": DeviceKind.terminal,
}


def device_code_problem(code: object) -> str | None:
    """Why a device code cannot be an MQTT username and topic level, or None."""
    if not isinstance(code, str) or not DEVICE_CODE.fullmatch(code):
        return (f"device code {code!r} must be 1–64 ASCII letters, digits, '_', '.', '-' "
                "starting with a letter or digit")
    return None


def gb28181_problem(code: object) -> str | None:
    """Why a string is not a GB/T 28181 video-point id, or None."""
    if not isinstance(code, str) or not _GB_DIGITS.fullmatch(code):
        return f"GB/T 28181 id {code!r} must be exactly 20 digits"
    if code[:2] not in PROVINCE_PREFIXES:
        return f"GB/T 28181 id {code}: centre code starts with {code[:2]}, not a province code"
    if code[10:13] not in CAMERA_TYPE_CODES:
        return (f"GB/T 28181 id {code}: type code {code[10:13]} (digits 11–13) is not a camera "
                f"({'/'.join(sorted(CAMERA_TYPE_CODES))})")
    return None


def check_device_code(code: str) -> str:
    if problem := device_code_problem(code):
        raise InputError("invalid_device_code", f"设备编码无效：{code!r}", problem)
    return code


def check_gb28181(code: str) -> str:
    if problem := gb28181_problem(code):
        raise InputError("invalid_gb28181_id", f"国标编码（GB/T 28181）无效：{code!r}", problem)
    return code


def parse_kind(text: str) -> DeviceKind:
    """Kind from an English name or the Chinese words used in 点位台账 spreadsheets."""
    kind = KIND_FROM_TEXT.get(text.strip()) if isinstance(text, str) else None
    if kind is None:
        raise InputError("unknown_device_kind", f"设备类型无效：{text!r}",
                               f"unknown device kind {text!r} (one of {', '.join(DeviceKind)})")
    return kind
