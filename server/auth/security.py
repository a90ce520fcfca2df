"""Password hashing (bcrypt) and signed access tokens (JWT, HS256)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Any

import bcrypt
import jwt

ALGORITHM = "HS256"
MAX_PASSWORD_BYTES = 72  # bcrypt's input; bcrypt 5 raises ValueError beyond it


def hash_password(password: str, *, rounds: int = 12) -> str:
    """Callers check the length first (server.auth.schemas.Password): this raises ValueError beyond 72 bytes."""
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


@lru_cache
def dummy_hash(rounds: int) -> str:
    """A hash of a random password at this cost: a login for an unknown name is checked against it,
    so it takes as long as one for a known name (no enumeration by timing)."""
    return hash_password(secrets.token_urlsafe(24), rounds=rounds)


def verify_password(password: str, hashed: str) -> bool:
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False


def create_token(*, subject: str, role: str, secret: str, minutes: int, version: int = 0) -> str:
    """`version`: the user's token_version; a token of an older one is refused (server.deps)."""
    now = datetime.now(UTC)
    claims = {"sub": subject, "role": role, "ver": version, "iat": now, "exp": now + timedelta(minutes=minutes)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_token(token: str, *, secret: str, now: datetime) -> dict[str, object]:
    """Claims of a token valid at `now`; raises jwt.PyJWTError for expired or forged ones."""
    claims = _signed_claims(token, secret)
    if claims["exp"] <= now.timestamp():  # as PyJWT checks it (no leeway)
        raise jwt.ExpiredSignatureError("Signature has expired")
    return dict(claims)


@lru_cache(maxsize=8192)
def _signed_claims(token: str, secret: str) -> MappingProxyType[str, Any]:
    """The claims of a token whose signature and claims hold, but for its expiry, which decode_token
    checks at every use. Every request of a phone carries the same token for hours: verifying the
    same string with the same secret gives the same answer, and PyJWT's decode was the largest cost
    of authenticating a request (bench_request_cpu.py). A forged or malformed token raises, and an
    exception is never kept, so only tokens this server signed fill the cache (a few per user)."""
    return MappingProxyType(jwt.decode(token, secret, algorithms=[ALGORITHM],
                                       options={"require": ["sub", "exp"], "verify_exp": False}))
