"""Run alembic programmatically, so `gridops db upgrade` and the tests use one code path."""

from __future__ import annotations

from pathlib import Path

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from geoalchemy2 import alembic_helpers
from sqlalchemy import Connection

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

# SpatiaLite's own tables that geoalchemy2's include_object does not know (it covers
# geometry_columns*, spatial_ref_sys*, spatialite_history, views_/virts_geometry_columns, idx_*).
SPATIALITE_TABLES = frozenset({
    "KNN", "KNN2", "data_licenses", "ElementaryGeometries", "sql_statements_log", "SpatialIndex",
})


def include_object(obj, name, obj_type, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    """What autogenerate compares: our tables, not the ones the spatial extension keeps in the same database.

    One filter for env.py (autogenerate) and the test that models and migrations agree.
    """
    if obj_type == "table" and reflected and compare_to is None and name in SPATIALITE_TABLES:
        return False
    return bool(alembic_helpers.include_object(obj, name, obj_type, reflected, compare_to))


def alembic_config(url: str, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(url: str, revision: str = "head", connection: Connection | None = None) -> None:
    """One head (a test keeps it so): a second branch fails here instead of half-migrating."""
    command.upgrade(alembic_config(url, connection), revision)


def downgrade(url: str, revision: str, connection: Connection | None = None) -> None:
    command.downgrade(alembic_config(url, connection), revision)


def heads() -> list[str]:
    """The newest revisions; more than one means two branches wait for a merge revision."""
    return list(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def model_drift(connection: Connection) -> list[Any]:
    """What autogenerate would write for this database: empty when the models and the schema agree."""
    import server.database.models  # noqa: F401  (registers every table)
    from server.database.core import Base

    context = MigrationContext.configure(connection, opts={"include_object": include_object})
    return list(compare_metadata(context, Base.metadata))
