"""grid_at / grids_at: the one point → grid lookup, by the gis.assign rule, for one point or many."""

from __future__ import annotations

import pytest
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon
from sqlalchemy import event as sa_event

from gis.assign import OUTSIDE, GridIndex
from gis.crs import CGCS2000
from server.auth.enums import Role
from server.devices import placement
from server.devices import service as devices
from server.devices.schemas import DeviceCreate
from server.events import service as events
from server.events.schemas import EventCreate
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
    assert placement.grid_ids(db_session, [(c.x, c.y)]) == [None]


# Four cells meeting at one vertex, stored in an order unlike their codes' (ties go by code, not rows).
CELLS = {(1, 1): "440112001001001", (0, 0): "440112001001004", (1, 0): "440112001001002",
         (0, 1): "440112001001003"}


@pytest.fixture
def four(db_session):  # type: ignore[no-untyped-def]
    factories.tree(db_session)
    return {cell: factories.grid(db_session, code, factories.gk_square(*cell)) for cell, code in CELLS.items()}


def _points() -> list[tuple[float, float]]:
    """Centres, every vertex (exact: shared by two or four cells, or outer), the midpoints of the
    four inner edges (rounding puts them in one cell or the other) and a point outside."""
    squares = [factories.gk_square(*cell) for cell in CELLS]
    corners = {xy for s in squares for xy in s.exterior.coords}
    inner = [(s.centroid.x, s.centroid.y) for s in squares]
    segments = [frozenset(ab) for s in squares for ab in zip(s.exterior.coords, list(s.exterior.coords)[1:])]
    shared = {seg for seg in segments if segments.count(seg) == 2}
    edges = [((a[0] + b[0]) / 2, (a[1] + b[1]) / 2) for a, b in map(sorted, shared)]
    assert len(shared) == 4
    return inner + sorted(corners) + sorted(edges) + [(100.0, 30.0)]


def test_a_grid_whose_outline_changes_is_looked_up_by_its_new_outline(db_session) -> None:  # type: ignore[no-untyped-def]
    """The candidates' index is cached by their codes and geometries: a changed outline is a new key."""
    factories.tree(db_session)
    grid = factories.grid(db_session, "440112001001001", factories.gk_square(0, 0))
    c = factories.gk_square(0, 0).centroid
    assert service.grid_at(db_session=db_session, lon=c.x, lat=c.y).code == grid.code  # cached now
    holed = factories.gk_square(0, 0).difference(c.buffer(0.0001))  # same frame, a hole at the point
    grid.geom = from_shape(MultiPolygon([holed]), srid=CGCS2000)
    db_session.flush()
    assert service.grid_at(db_session=db_session, lon=c.x, lat=c.y) is None  # a hole where the point is
    grid.geom = from_shape(MultiPolygon([factories.gk_square(0, 0)]), srid=CGCS2000)
    db_session.flush()
    assert service.grid_at(db_session=db_session, lon=c.x, lat=c.y).code == grid.code


def test_one_point_and_many_agree_with_the_index(db_session, four) -> None:  # type: ignore[no-untyped-def]
    points = _points()
    one = [service.grid_at(db_session=db_session, lon=x, lat=y) for x, y in points]
    many = service.grids_at(db_session=db_session, points=points)
    ids = placement.grid_ids(db_session, [None, *points, None])
    grids = list(four.values())
    index = GridIndex([g.code for g in grids], [factories.gk_square(*cell) for cell in four])
    expected = [None if i == OUTSIDE else grids[i].code
                for i in index.assign([x for x, _ in points], [y for _, y in points]).tolist()]
    assert [g and g.code for g in one] == [g and g.code for g in many] == expected
    assert ids == [None, *[g and g.id for g in many], None]
    centre = next(xy for xy in points if sum(xy in set(factories.gk_square(*c).exterior.coords) for c in CELLS) == 4)
    assert service.grid_at(db_session=db_session, lon=centre[0], lat=centre[1]).code == min(CELLS.values())
    assert expected.count(None) == 1 and set(expected) - {None} == set(CELLS.values())


def test_spatialite_lookup_goes_through_the_spatial_index(db_session, four) -> None:  # type: ignore[no-untyped-def]
    if db_session.get_bind().dialect.name != "sqlite":
        pytest.skip("SpatiaLite only: PostGIS's ST_Intersects uses its GiST index by itself")
    seen: list[str] = []

    def remember(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    c = factories.gk_square(0, 0).centroid
    sa_event.listen(db_session.get_bind(), "before_cursor_execute", remember)
    try:
        service.grid_at(db_session=db_session, lon=c.x, lat=c.y)
        placement.grid_ids(db_session, [(c.x, c.y)])
    finally:
        sa_event.remove(db_session.get_bind(), "before_cursor_execute", remember)
    grid_reads = [s for s in seen if "FROM grid" in s]
    assert len(grid_reads) == 2 and all("SpatialIndex" in s for s in grid_reads)


def test_event_and_device_on_borders_land_in_the_same_grid(db_session, four) -> None:  # type: ignore[no-untyped-def]
    """The report path (one point) and the registry path (devices, rentals) are one lookup."""
    worker = factories.user(db_session, Role.grid_worker)
    for n, (x, y) in enumerate(_points()[:-1]):
        body = factories.event_body(lon=x, lat=y)
        event, _ = events.create(db_session=db_session, reporter=worker, data=EventCreate(**body), now=NOW)
        device, _ = devices.create(db_session=db_session, now=NOW, device_in=DeviceCreate(
            code=f"CAM-{n}", name="摄像机", kind="camera", lon=x, lat=y, datum="cgcs2000"))
        assert device.grid_id == event.grid_id, (x, y)
