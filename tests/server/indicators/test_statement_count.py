"""Every indicator costs a fixed number of statements whatever the number of scopes: the map asks
for every grid of a district at once (issue 17: 3 s for 288 grids when rentals, trainings and weekly
reports were computed scope by scope), and each scope still gets what it gets alone."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session

from server.indicators import service
from server.indicators.periods import parse_period, parse_scope
from tests import factories
from tests.statements import counted

NOW = datetime(2026, 12, 10, tzinfo=UTC)
YEAR = parse_period("2026")


def test_statements_do_not_grow_with_the_scopes(db_session: Session) -> None:
    factories.event_world(db_session)
    district = parse_scope("district:440112")
    every_area = [district, *(s for level in ("street", "community", "grid")
                              for s in service.scopes_below(db_session, district, level, YEAR))]
    assert len(every_area) > 5
    codes = list(service.COMPUTABLE)
    few = [district, every_area[-1]]  # one area of each kind of statement: the district and a grid
    with counted(db_session) as one:
        service.compute_many(db_session=db_session, scopes=few, codes=codes, period=YEAR, now=NOW)
    with counted(db_session) as many:
        together = service.compute_many(db_session=db_session, scopes=every_area, codes=codes, period=YEAR, now=NOW)
    assert len(many) == len(one)
    for scope in every_area:
        single = service.compute_many(db_session=db_session, scopes=[scope], codes=codes, period=YEAR, now=NOW)
        assert {c: together[scope, c] for c in codes} == {c: single[scope, c] for c in codes}
