"""Per-device MQTT secrets, hashed in Mosquitto's own password_file format.

Storing the PBKDF2-SHA512 hash exactly as `mosquitto_passwd` writes it ($7$ = sha512-pbkdf2)
means the server can write the broker's password_file from the database without ever
keeping a plain secret: the secret is shown once, when it is issued. The secrets are 128-bit
random tokens, so Mosquitto's 101 iterations are enough: there is no dictionary to guess from.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable

ITERATIONS = 101  # mosquitto_passwd's default for $7$
SALT_BYTES = 12
KEY_BYTES = 64


def new_secret() -> str:
    return secrets.token_urlsafe(16)


def hash_secret(secret: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """`$7$<iterations>$<b64 salt>$<b64 key>`, the format of Mosquitto 2.0 password files."""
    salt = salt if salt is not None else secrets.token_bytes(SALT_BYTES)
    key = hashlib.pbkdf2_hmac("sha512", secret.encode(), salt, iterations, KEY_BYTES)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"


def verify_secret(secret: str, hashed: str) -> bool:
    try:
        _, alg, iterations, salt, key = hashed.split("$")
        if alg != "7":
            return False
        expected = base64.b64decode(key)
        got = hashlib.pbkdf2_hmac("sha512", secret.encode(), base64.b64decode(salt), int(iterations),
                                  len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


def password_file(entries: Iterable[tuple[str, str]]) -> str:
    """password_file text for (username, hash) pairs; Mosquitto reads it at start and on SIGHUP."""
    return "".join(f"{user}:{hashed}\n" for user, hashed in entries)
