"""Refuse public and weak keys outside the demo (the FastAPI template's `_enforce_non_default_secrets`).

The development secret is in the repository: a token signed with it passes for any user, and
a tenant's ID number encrypted under a key derived from it is readable by anyone who reads the
code. So outside the demo (`GRIDOPS_DEMO`) `gridops serve` and `gridops devices ingest` refuse
to start with it, the app factory refuses to build, and tokens are neither signed nor accepted
with it even by a server started some other way. The demo may use it, with a warning.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from dataclasses import dataclass

from server.config import DEV_SECRET, Settings
from server.errors import GridopsError

log = logging.getLogger(__name__)

MIN_SECRET_BYTES = 32  # HS256: a key shorter than the hash is weaker than the signature

GENERATE_SECRET = "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
GENERATE_PII_KEY = "python3 -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())'"

HOW_TO_ZH = f"""生成密钥并写入服务的环境（例如 systemd 的 EnvironmentFile=/etc/gridops.env），妥善保管：
  GRIDOPS_SECRET_KEY=$({GENERATE_SECRET})
  GRIDOPS_PII_KEY=$({GENERATE_PII_KEY})
GRIDOPS_PII_KEY 一经使用就不能更换或丢失，否则已加密的身份证号和电话无法读取。
此前未设置 GRIDOPS_PII_KEY 而已登记租户的安装：用原来的 GRIDOPS_SECRET_KEY 运行
`gridops secrets derived-pii-key`，把输出设为 GRIDOPS_PII_KEY。
仅用于演示：设置 GRIDOPS_DEMO=true（./dev up 会这样做）。"""

HOW_TO_EN = f"""Generate the keys, put them in the service's environment (e.g. systemd
EnvironmentFile=/etc/gridops.env) and keep them safe:
  GRIDOPS_SECRET_KEY=$({GENERATE_SECRET})
  GRIDOPS_PII_KEY=$({GENERATE_PII_KEY})
Once used, GRIDOPS_PII_KEY must never change or be lost: encrypted ID numbers and phones
would become unreadable. An installation that registered tenants without GRIDOPS_PII_KEY:
run `gridops secrets derived-pii-key` with the old GRIDOPS_SECRET_KEY and set its output as
GRIDOPS_PII_KEY. For the demo only: GRIDOPS_DEMO=true (./dev up sets it)."""


class InsecureSettings(GridopsError):
    """The server would run with a public or weak key: it refuses instead."""

    status_code = 503
    default_code = "insecure_settings"


@dataclass(frozen=True)
class KeyProblem:
    code: str
    message_en: str
    message_zh: str
    demo_ok: bool  # the demo may run with it (and logs a warning)


def _secret_problems(settings: Settings) -> list[KeyProblem]:
    secret = settings.secret_key
    if secret == DEV_SECRET:
        return [KeyProblem("secret_key_default",
                           "GRIDOPS_SECRET_KEY is not set: the development secret is public (it is in the repository)",
                           "未设置 GRIDOPS_SECRET_KEY：开发用密钥写在代码仓库里，是公开的", demo_ok=True)]
    size = len(secret.encode())
    if size < MIN_SECRET_BYTES:
        return [KeyProblem("secret_key_short",
                           f"GRIDOPS_SECRET_KEY has {size} bytes, at least {MIN_SECRET_BYTES} are needed",
                           f"GRIDOPS_SECRET_KEY 只有 {size} 字节，至少需要 {MIN_SECRET_BYTES} 字节", demo_ok=False)]
    return []


def _pii_problems(settings: Settings) -> list[KeyProblem]:
    if settings.pii_key is None:
        return [KeyProblem("pii_key_missing",
                           "GRIDOPS_PII_KEY is not set: tenants' ID numbers and phones would be encrypted "
                           "with a key derived from GRIDOPS_SECRET_KEY",
                           "未设置 GRIDOPS_PII_KEY：租户身份证号和电话将用由 GRIDOPS_SECRET_KEY 派生的密钥加密",
                           demo_ok=True)]
    if not is_fernet_key(settings.pii_key.get_secret_value()):
        return [KeyProblem("pii_key_invalid",
                           "GRIDOPS_PII_KEY is not a Fernet key (32 bytes in url-safe base64)",
                           "GRIDOPS_PII_KEY 不是有效的 Fernet 密钥（32 字节，URL 安全的 base64 编码）", demo_ok=False)]
    return []


def problems(settings: Settings) -> list[KeyProblem]:
    """Every key problem of these settings, whether or not the demo excuses it."""
    return _secret_problems(settings) + _pii_problems(settings)


def _refuse(refused: list[KeyProblem]) -> InsecureSettings:
    en = "refusing to start with unsafe keys:\n" + "\n".join(f"- {p.message_en}" for p in refused)
    zh = "密钥不安全，拒绝启动：\n" + "\n".join(f"- {p.message_zh}" for p in refused)
    return InsecureSettings(f"{en}\n{HOW_TO_EN}", f"{zh}\n{HOW_TO_ZH}", code=refused[0].code,
                            detail=[p.code for p in refused])


def _refused(found: list[KeyProblem], settings: Settings) -> list[KeyProblem]:
    return [p for p in found if not (settings.demo and p.demo_ok)]


def enforce(settings: Settings) -> None:
    """Raise InsecureSettings (saying how to set the keys) unless every key is safe or excused by the demo."""
    found = problems(settings)
    refused = _refused(found, settings)
    if refused:
        raise _refuse(refused)
    for p in found:
        log.warning("GRIDOPS_DEMO: %s / %s (never in production)", p.message_zh, p.message_en)


def token_secret(settings: Settings) -> str:
    """The JWT key, checked at every use: a token is never signed or accepted with the public secret."""
    refused = _refused(_secret_problems(settings), settings)
    if refused:
        raise _refuse(refused)
    return settings.secret_key


def derived_pii_key(secret_key: str) -> str:
    """The Fernet key that earlier versions derived from GRIDOPS_SECRET_KEY when GRIDOPS_PII_KEY was unset."""
    return base64.urlsafe_b64encode(hashlib.sha256(b"gridops-pii:" + secret_key.encode()).digest()).decode()


def pii_key(settings: Settings) -> str:
    """The Fernet key for personal data: GRIDOPS_PII_KEY, or in the demo one derived from the secret."""
    refused = _refused(_pii_problems(settings), settings)
    if refused:
        raise _refuse(refused)
    if settings.pii_key is not None:
        return settings.pii_key.get_secret_value()
    return derived_pii_key(settings.secret_key)


def is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except (binascii.Error, ValueError):
        return False
