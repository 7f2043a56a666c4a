"""Alembic environment: runs on a connection handed in by hotline.stores.sql.engine.migrate."""

from __future__ import annotations

from alembic import context

from hotline.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `hotline migrate`, which supplies the connection")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
