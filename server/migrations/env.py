"""Alembic environment: one set of migrations for SpatiaLite and PostGIS."""

from __future__ import annotations

from alembic import context
from geoalchemy2 import alembic_helpers

import server.database.models  # noqa: F401  (registers every table)
from server.database.core import Base, make_engine
from server.database.migrate import include_object

config = context.config

target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_object=include_object,
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
