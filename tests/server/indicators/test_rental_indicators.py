"""Rental managed rate as an indicator for any scope (definitions are the rentals domain's)."""

from __future__ import annotations

from datetime import UTC, datetime

from server.indicators import service
from server.indicators.periods import parse_period, parse_scope
from tests.server.rentals.conftest import rentals, world  # noqa: F401  (fixtures)

NOW = datetime(2026, 12, 15, tzinfo=UTC)


def test_managed_rate_per_scope(db_session, rentals) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    for key in ("r1", "r2", "r3"):
        rentals[key].created_at = datetime(2025, 6, 1, tzinfo=UTC)
    db_session.flush()

    def value(scope: str):  # type: ignore[no-untyped-def]
        return service.compute(db_session=db_session, code="rental_managed_rate", scope=parse_scope(scope),
                               period=parse_period("2026"), now=NOW)

    street = value("street:440112001")  # r1 managed, r2 not
    assert (street.numerator, street.denominator, street.value, street.status) == (1, 2, 50.0, "not_met")
    assert value("grid:440112001001001").value == 100.0
    assert value("street:440112002").value == 0.0
    district = value("district:440112")
    assert (district.numerator, district.denominator) == (1, 3)
    assert service.compute(db_session=db_session, code="tenant_registration_rate",
                           scope=parse_scope("district:440112"), period=parse_period("2026"), now=NOW).value is None
