"""GET /divisions/geojson: street and community outlines for the map, in one's territory only; a
community's imported boundary, else the union of its active grids; a street, its communities' union."""

from __future__ import annotations

from typing import Any

import pytest
from shapely.geometry import shape
from shapely.ops import unary_union

from server.auth.enums import Role
from server.divisions import service as divisions
from server.grids import service
from tests import factories
from tests.conftest import NOW

STREET1, STREET2 = "440112001000", "440112002000"
C1, C2, C3 = "440112001001", "440112001002", "440112002001"  # C2 has an imported boundary
URL = "/api/v1/divisions/geojson"


@pytest.fixture
def world(db_session):  # type: ignore[no-untyped-def]
    """Street 1: C1 outlined by its two grids, C2 by its boundary; street 2: C3 by one grid (and a
    fourth community, 440112002002, with nothing to draw); a worker on C1's second grid."""
    factories.tree(db_session)
    squares = {f"{C1}001": (0, 0), f"{C1}002": (1, 0), f"{C2}001": (2, 0), f"{C3}001": (5, 5)}
    grids = {code: factories.grid(db_session, code, factories.gk_square(*cell)) for code, cell in squares.items()}
    divisions.set_boundaries(db_session=db_session, boundaries={C2: unary_union(  # wider than its grid
        [factories.gk_square(2, 0), factories.gk_square(3, 0)])})
    worker = factories.user(db_session, Role.grid_worker)
    service.assign_worker(db_session=db_session, grid=grids[f"{C1}002"], worker=worker, at=NOW)
    users = {"admin": factories.user(db_session, Role.district_admin), "command": factories.user(db_session, Role.command_center),
             "street": factories.user(db_session, Role.street_admin), "worker": worker,
             "idle": factories.user(db_session, Role.grid_worker)}  # a worker without a grid
    return {"users": users}


def _get(client, world, who: str, **params: str) -> dict[str, dict[str, Any]]:  # type: ignore[no-untyped-def]
    r = client.get(URL, params=params, headers=factories.auth_headers(world["users"][who]))
    assert r.status_code == 200, r.text
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    return {f["id"]: f for f in fc["features"]}


def _squares(*cells: tuple[int, int]):  # type: ignore[no-untyped-def]
    return unary_union([factories.gk_square(*c) for c in cells])


def test_communities_are_their_boundary_or_their_grids(client, world) -> None:  # type: ignore[no-untyped-def]
    got = _get(client, world, "admin", level="community")
    assert list(got) == [C1, C2, C3]  # by code; 440112002002 has neither boundary nor grid
    assert got[C1]["properties"] == {"code": C1, "name": "社区1-1", "level": "community", "street_code": STREET1,
                                     "district_code": "440112", "source": "grids"}
    assert got[C2]["properties"]["source"] == "boundary"
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in got.values())
    assert shape(got[C1]["geometry"]).equals(_squares((0, 0), (1, 0)))  # two grids, one outline
    assert shape(got[C2]["geometry"]).equals(_squares((2, 0), (3, 0)))  # the boundary, not its one grid
    # the same coordinates as the grids' own GeoJSON: EPSG:4490 lon/lat, unrounded
    grid = client.get("/api/v1/grids/geojson", params={"community_code": C3},
                      headers=factories.auth_headers(world["users"]["admin"])).json()["features"][0]
    assert _points(got[C3]["geometry"]) == _points(grid["geometry"])


def _points(geometry: dict[str, Any]) -> set[tuple[float, float]]:
    return {tuple(p) for poly in geometry["coordinates"] for ring in poly for p in ring}


def test_streets_are_the_union_of_their_communities(client, world) -> None:  # type: ignore[no-untyped-def]
    got = _get(client, world, "command", level="street")
    assert list(got) == [STREET1, STREET2]
    assert got[STREET1]["properties"]["name"] == "街道1" and got[STREET1]["properties"]["source"] == "mixed"
    assert got[STREET2]["properties"]["source"] == "grids"
    assert shape(got[STREET1]["geometry"]).equals(_squares((0, 0), (1, 0), (2, 0), (3, 0)))
    assert len(shape(got[STREET1]["geometry"]).geoms) == 1  # adjacent communities merge into one ring


def test_a_retired_grid_leaves_the_outline(client, world, db_session) -> None:  # type: ignore[no-untyped-def]
    service.retire(db_session=db_session, code=f"{C1}001", replaced_by_code=None, at=NOW)
    db_session.flush()
    got = _get(client, world, "admin", level="community")
    assert shape(got[C1]["geometry"]).equals(_squares((1, 0)))


@pytest.mark.parametrize(("who", "level", "expected"), [
    ("street", "community", [C1, C2]),
    ("street", "street", [STREET1]),
    ("worker", "community", [C1]),  # the community of their grid, whole
    ("worker", "street", [STREET1]),
    ("idle", "community", []),
    ("idle", "street", []),
])
def test_each_role_gets_its_territory(client, world, who: str, level: str, expected: list[str]) -> None:  # type: ignore[no-untyped-def]
    assert list(_get(client, world, who, level=level)) == expected


def test_a_worker_gets_the_whole_outline_of_their_community(client, world) -> None:  # type: ignore[no-untyped-def]
    got = _get(client, world, "worker", level="community")
    assert shape(got[C1]["geometry"]).equals(_squares((0, 0), (1, 0)))  # an outline, not the other grid's record


def test_street_filter(client, world) -> None:  # type: ignore[no-untyped-def]
    assert list(_get(client, world, "admin", level="community", street_code=STREET2)) == [C3]
    assert list(_get(client, world, "admin", level="street", street_code=STREET2)) == [STREET2]
    assert _get(client, world, "street", level="community", street_code=STREET2) == {}  # outside: empty
    assert _get(client, world, "street", level="street", street_code=STREET2) == {}


@pytest.mark.parametrize("params", [{}, {"level": "grid"}, {"level": "street", "street_code": "4401120010"}])
def test_bad_requests_are_refused_with_a_reason(client, world, params: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    r = client.get(URL, params=params, headers=factories.auth_headers(world["users"]["admin"]))
    assert r.status_code == 422 and r.json()["error"]["code"] == "validation_error"
    assert client.get(URL, params={"level": "street"}).status_code == 401
