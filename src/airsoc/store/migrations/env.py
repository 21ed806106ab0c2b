"""Alembic environment: runs on the connection the Store hands over, or on the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from airsoc.store.base import Base
from airsoc.store.engine import load_all_models

load_all_models()
config = context.config


def migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


handed_over = config.attributes.get("connection")
if handed_over is not None:
    migrate(handed_over)
else:
    with create_engine(config.get_main_option("sqlalchemy.url") or "").begin() as conn:
        migrate(conn)
