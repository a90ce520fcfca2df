"""The phone's clock: the app is an entry point (it runs on the device), so its screens and the
background sync read the wall clock here, as AppService's default `now`; tests pass their own."""

from __future__ import annotations

from datetime import UTC, datetime


def phone_now() -> datetime:
    return datetime.now(UTC)
