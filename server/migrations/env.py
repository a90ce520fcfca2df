"""Alembic environment: one set of migrations for SpatiaLite and PostGIS."""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers

import server.database.models  # noqa: F401  (registers every table)
from server.database.core import Base, make_engine

config = context.config

# SpatiaLite's own metadata tables live in the same file; they are not ours to migrate.
SPATIALITE_TABLES = {
    "KNN", "KNN2", "data_licenses", "ElementaryGeometries", "sql_statements_log", "SpatialIndex",
    "spatial_ref_sys", "spatial_ref_sys_aux", "geometry_columns", "views_geometry_columns",
    "virts_geometry_columns", "spatialite_history", "geometry_columns_auth",
    "geometry_columns_statistics", "geometry_columns_field_infos", "geometry_columns_time",
}


def _include_object(obj, name, obj_type, reflected, compare_to):  # type: ignore[no-untyped-def]
    if obj_type == "table" and (name in SPATIALITE_TABLES or (name or "").startswith("idx_")):
        return False
    return alembic_helpers.include_object(obj, name, obj_type, reflected, compare_to)
target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=_include_object,
        process_revision_directives=alembic_helpers.writer,
        render_item=alembic_helpers.render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


run_migrations_online()
