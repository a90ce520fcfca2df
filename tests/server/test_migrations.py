"""Migrations run both ways on both back ends, end in one head, agree with the models, and
SpatiaLite knows the CGCS2000 CRSs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from server.database.core import make_engine
from server.database.migrate import downgrade, heads, model_drift, upgrade

TABLES = {"district", "street", "community", "grid", "grid_assignment", "user"}


def test_schema_present(engine) -> None:  # type: ignore[no-untyped-def]
    assert TABLES <= set(inspect(engine).get_table_names())


def test_downgrade_and_upgrade_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    downgrade(url, "base")
    engine = make_engine(url)
    assert not TABLES & set(inspect(engine).get_table_names())
    upgrade(url)
    assert TABLES <= set(inspect(engine).get_table_names())
    engine.dispose()


@pytest.mark.parametrize("srid", [4490, 4326, 4513, 4526, 4533, 4534, 4547, 4554])
def test_spatial_ref_sys_has_cgcs2000(engine, srid: int) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        found = conn.execute(text("SELECT count(*) FROM spatial_ref_sys WHERE srid = :s"), {"s": srid}).scalar()
    assert found == 1


def test_grid_geometry_column_is_4490_with_index(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            row = conn.execute(text("SELECT srid, spatial_index_enabled FROM geometry_columns "
                                    "WHERE f_table_name='grid'")).one()
            assert tuple(row) == (4490, 1)
        else:
            srid = conn.execute(text("SELECT Find_SRID('public', 'grid', 'geom')")).scalar()
            assert srid == 4490
            assert conn.execute(text("SELECT count(*) FROM pg_indexes WHERE tablename='grid' "
                                     "AND indexdef ILIKE '%gist%'")).scalar() == 1


def test_analyze_gathers_planner_statistics(engine) -> None:  # type: ignore[no-untyped-def]
    """`gridops db analyze` (and the demo load): SQLite has no statistics until ANALYZE runs."""
    from server.database.core import analyze

    analyze(engine)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")).scalar() == 1
        else:  # reltuples is -1 until a table was first analyzed or vacuumed
            assert conn.execute(text("SELECT reltuples FROM pg_class WHERE relname = 'event'")).scalar() >= 0


def test_one_head() -> None:
    """Two heads make `gridops db upgrade` refuse: branches are joined by a merge revision."""
    assert len(heads()) == 1, f"several migration heads {heads()}: add a merge revision (alembic merge)"


def test_models_and_migrations_agree(fresh_db_url: str) -> None:
    """A fresh database migrated to head is what the models describe: autogenerate finds nothing to write."""
    engine = make_engine(fresh_db_url)
    with engine.connect() as conn:
        drift = model_drift(conn)
    engine.dispose()
    assert drift == [], "models and migrations differ (write a migration or fix the model):\n" + \
        "\n".join(map(str, drift))


def test_drift_check_sees_a_table_the_models_lack(fresh_db_url: str) -> None:
    """The comparison is not blind: the spatial extension's tables are skipped, ours are not."""
    engine = make_engine(fresh_db_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE stray_table (id integer primary key)"))
    with engine.connect() as conn:
        drift = model_drift(conn)
    engine.dispose()
    assert [(d[0], d[1].name) for d in drift] == [("remove_table", "stray_table")]


def test_time_limit_rows_survive_the_rename(fresh_db_url: str) -> None:
    """0007 renames sla_policy to time_limit_policy with its rows (seeded and edited ones), both ways."""
    engine = make_engine(fresh_db_url)

    def rows(table: str) -> list[tuple[str, str, str]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(
                f"SELECT category_code, step, time_limit FROM {table} ORDER BY category_code, step"))]

    downgrade(fresh_db_url, "0006_photo_links")
    with engine.begin() as conn:
        conn.execute(text("UPDATE sla_policy SET time_limit = '2wd' WHERE category_code = '*' AND step = 'closure'"))
    before = rows("sla_policy")
    assert ("*", "closure", "2wd") in before
    upgrade(fresh_db_url)
    assert rows("time_limit_policy") == before
    assert "sla_policy" not in inspect(engine).get_table_names()
    downgrade(fresh_db_url, "0006_photo_links")
    assert rows("sla_policy") == before
    upgrade(fresh_db_url)
    engine.dispose()


def test_phones_stored_before_0012_are_encrypted(fresh_db_url: str) -> None:
    """Users created before 0012 had their phone in clear: the upgrade encrypts it with the PII key
    and hashes it, so the duplicate check and the masked display work for them too."""
    from server.auth import phones

    engine = make_engine(fresh_db_url)
    downgrade(fresh_db_url, "0009_time_limit_policy")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO \"user\" (username, full_name, phone, hashed_password, role, is_active, "
                          "created_at) VALUES ('old', '老用户', '13800138000', 'x', 'auditor', true, "
                          "'2026-01-01 00:00:00+00:00')"))
    upgrade(fresh_db_url)
    with engine.connect() as conn:
        enc, hashed, must, version = conn.execute(text(
            "SELECT phone_enc, phone_hash, must_change_password, token_version FROM \"user\" WHERE username = 'old'"
        )).one()
        assert "phone" not in [c["name"] for c in inspect(conn).get_columns("user")]
    engine.dispose()
    assert phones.masked(enc) == "138****8000" and hashed == phones.hash_phone("13800138000")
    assert (bool(must), version) == (False, 0)


def test_disputes_before_0018_get_their_events_area(fresh_db_url: str) -> None:
    """0018 copies street, grid and time from each dispute's event (one UPDATE … FROM), both ways."""
    from sqlalchemy.orm import Session

    from server.events import service as events
    from server.events.schemas import EventCreate
    from tests import factories

    engine = make_engine(fresh_db_url)
    reported = [datetime(2026, 11, 2, 2, 0, tzinfo=UTC), datetime(2026, 10, 5, 8, 30, tzinfo=UTC)]
    with Session(engine) as s:
        world = factories.event_world(s)
        for i, at in enumerate(reported):
            body = factories.event_body(factories.gk_square(5 * i, 5 * i), reported_at=at.isoformat(),
                                        category_code="dispute.neighbour")
            events.create(db_session=s, reporter=world["users"]["admin"], data=EventCreate(**body),
                          now=at + timedelta(minutes=1))
        s.commit()
    area = "SELECT {} FROM {} ORDER BY {}"
    with engine.connect() as conn:
        expected = conn.execute(text(area.format("id, street_code, grid_id, reported_at", "event", "id"))).all()
    assert len(expected) == 2 and expected[0][1] != expected[1][1]
    downgrade(fresh_db_url, "0017_rollup")
    assert "street_code" not in [c["name"] for c in inspect(engine).get_columns("dispute")]
    upgrade(fresh_db_url)
    with engine.connect() as conn:
        copied = conn.execute(text(area.format("event_id, street_code, grid_id, reported_at", "dispute",
                                               "event_id"))).all()
        if engine.dialect.name == "postgresql":  # the planner knows a grid has one street (no sort on disk)
            assert conn.execute(text("SELECT count(*) FROM pg_statistic_ext WHERE stxname = 'st_dispute_area'")
                                ).scalar() == 1
    engine.dispose()
    assert copied == expected
