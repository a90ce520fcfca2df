"""grid_at: the database's point → grid lookup follows the gis.assign rule."""

from __future__ import annotations

from server.grids import service
from tests import factories
from tests.conftest import NOW


def test_grid_at_inside_border_and_outside(db_session) -> None:  # type: ignore[no-untyped-def]
    factories.tree(db_session)
    g1 = factories.grid(db_session, "440112001001001", factories.gk_square(0, 0))
    g2 = factories.grid(db_session, "440112001001002", factories.gk_square(1, 0))
    for grid, square in ((g1, factories.gk_square(0, 0)), (g2, factories.gk_square(1, 0))):
        c = square.centroid
        assert service.grid_at(db_session=db_session, lon=c.x, lat=c.y).code == grid.code
    # a vertex shared by both grids is exactly on the border: the smaller code wins
    shared = set(factories.gk_square(0, 0).exterior.coords) & set(factories.gk_square(1, 0).exterior.coords)
    assert len(shared) == 2
    for x, y in shared:
        assert service.grid_at(db_session=db_session, lon=x, lat=y).code == g1.code
    assert service.grid_at(db_session=db_session, lon=100.0, lat=30.0) is None


def test_retired_grid_is_not_assigned(db_session) -> None:  # type: ignore[no-untyped-def]
    factories.tree(db_session)
    factories.grid(db_session, "440112001001001", factories.gk_square(0, 0))
    service.retire(db_session=db_session, code="440112001001001", replaced_by_code=None, at=NOW)
    c = factories.gk_square(0, 0).centroid
    assert service.grid_at(db_session=db_session, lon=c.x, lat=c.y) is None
