"""Alembic environment: runs migrations on the connection `centralita.core.migrate` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from centralita.core.db import make_engine
from centralita.core.models import Base
from centralita.core.settings import database_url_from_env


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things: alembic rebuilds the table instead ("batch").
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; use `centralita db upgrade`")

connection = context.config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    # Someone ran alembic's own command line: use DATABASE_URL as the application does.
    engine = make_engine(database_url_from_env(), sqlite_foreign_keys=False)
    try:
        with engine.begin() as conn:
            run(conn)
    finally:
        engine.dispose()
