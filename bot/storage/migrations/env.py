"""Alembic environment of the conversation log, run by bot/storage/migrate.py (no alembic.ini).

migrate.py hands over an open connection made by bot.storage.db.make_engine (so SQLite gets the
same pragmas as the application) in ``config.attributes["connection"]``; offline mode (SQL
scripts for a DBA) takes ``config.attributes["url"]``. SQLite migrations run in batch mode,
because SQLite cannot alter most of a table in place.
"""

from __future__ import annotations

from alembic import context

from bot.storage.models import Base, UTCDateTime

config = context.config
target_metadata = Base.metadata
version_table = config.attributes.get("version_table", "alembic_version")


def render_item(type_: str, obj: object, autogen_context: object) -> object:
    """Autogenerate writes UTCDateTime as sa.DateTime(): revisions import nothing from models."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def run_migrations_offline() -> None:
    context.configure(
        url=config.attributes["url"],
        target_metadata=target_metadata,
        version_table=version_table,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=version_table,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
