"""Request fingerprints for exactly-once writes from flaky phones.

Same key + same fingerprint = a retry: answer with the first result. Same key + another
fingerprint = a client bug: 409, never a silent overwrite (FACTS.md: ODK Central's rule).
A replay answers only its own author: a key (an event's or visit's uuid) another user already
used is a 409 that tells nothing of their record, whatever the body. Callers check the user's
right to the write before they look for a replay.
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


def check_replay(*, key: str, stored_hash: str | None, request_hash: str, owner_id: int | None,
                 user_id: int) -> None:
    """Raise 409 when a key comes back from another user, or with a different body."""
    if owner_id != user_id:  # the same answer whether or not the body matches theirs
        raise Conflict(f"{key} is already taken: generate a new one", f"标识 {key} 已被占用，请重新生成",
                       code="uuid_taken")
    if stored_hash != request_hash:
        raise Conflict(
            f"key {key} was already used with a different request body",
            f"请求标识 {key} 已用于内容不同的请求",
            code="idempotency_key_reused",
        )
