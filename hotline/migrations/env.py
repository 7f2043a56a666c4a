"""Alembic environment: runs on a connection handed in by hotline.stores.sql.engine.migrate."""

from __future__ import annotations

from alembic import context

from hotline.reports import tables as _reports_tables  # noqa: F401  (its tables)
from hotline.stores.sql.tables import metadata
from hotline.takedown import tables as _takedown_tables  # noqa: F401  (its tables)

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
