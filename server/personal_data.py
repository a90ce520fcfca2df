"""Encryption at rest, keyed hashes and masks for personal data (ID numbers, phones), used by every domain.

Fernet (AES-128-CBC + HMAC) under GRIDOPS_PII_KEY; only the demo may go without one and use a key
derived from GRIDOPS_SECRET_KEY (server.keys). A keyed hash (HMAC-SHA256) of a normalised value lets
a service find a record again (a tenant by ID number, a user by phone) without decrypting. Tenants'
data (server.rentals.pii) and staff phones (server.auth) share these keys and rules, so one key and
one masking rule hold for the whole installation.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken

from server.config import get_settings
from server.keys import pii_key


@lru_cache(maxsize=4)
def _keys(fernet_key: str) -> tuple[Fernet, bytes]:
    return Fernet(fernet_key.encode()), hashlib.sha256(b"gridops-pii-hash:" + fernet_key.encode()).digest()


def _current() -> tuple[Fernet, bytes]:
    """Checked at every use: outside the demo, never a key derived from the secret (server.keys)."""
    return _keys(pii_key(get_settings()))


def encrypt(value: str | None) -> str | None:
    return None if value is None else _current()[0].encrypt(value.encode()).decode()


def decrypt(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return _current()[0].decrypt(token.encode()).decode()
    except InvalidToken:
        return "[key mismatch]"  # encrypted under another GRIDOPS_PII_KEY: never crash a read


def keyed_hash(value: str) -> str:
    """HMAC-SHA256 under the PII key: equal inputs match, and nobody without the key can test guesses."""
    return hmac.new(_current()[1], value.encode(), hashlib.sha256).hexdigest()


def mask_phone(value: str | None) -> str | None:
    if not value:
        return value
    return value[:3] + "****" + value[-4:] if len(value) >= 8 else "*" * len(value)
