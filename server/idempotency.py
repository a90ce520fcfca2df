"""Request fingerprints for exactly-once writes from flaky phones.

Same key + same fingerprint = a retry: answer with the first result. Same key + another
fingerprint = a client bug: 409, never a silent overwrite (FACTS.md: ODK Central's rule).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel

from server.errors import Conflict


def fingerprint(payload: BaseModel | dict[str, Any]) -> str:
    data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_replay(*, key: str, stored_hash: str | None, request_hash: str) -> None:
    """Raise 409 when a key comes back with a different body."""
    if stored_hash != request_hash:
        raise Conflict(
            f"key {key} was already used with a different request body",
            f"请求标识 {key} 已用于内容不同的请求",
            code="idempotency_key_reused",
        )
