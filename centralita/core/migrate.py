"""Schema migrations (Alembic), configured in code: no alembic.ini needed."""

from __future__ import annotations

from dataclasses import dataclass

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from centralita.core.db import make_engine
from centralita.core.settings import redact_url

SCRIPT_LOCATION = "centralita:migrations"
# Any constant works: it only has to be the same for every `db upgrade` against one database,
# so two processes upgrading at once (e.g. several `serve` starting) take turns.
_POSTGRES_LOCK_KEY = 0x63656E7472616C  # "central"


class MigrationError(RuntimeError):
    """The migration ran but left the database inconsistent; nothing was committed."""


@dataclass(frozen=True)
class UpgradeResult:
    url: str  # with any password masked, fit to print
    before: str | None  # revision before, None for an empty database
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["connection"] = connection
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str, revision: str = "head") -> UpgradeResult:
    """Migrate the database at `url` to `revision` in one transaction.

    Raises sqlalchemy.exc.OperationalError when the database is unreachable.
    """
    # SQLite: foreign keys off while migrating, since batch mode rebuilds tables (copy, drop,
    # rename) and a drop would cascade or fail; they are checked as a whole before commit.
    engine = make_engine(url, sqlite_foreign_keys=False)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_LOCK_KEY}
                )
            before = current_revision(connection)
            command.upgrade(alembic_config(connection), revision)
            if connection.dialect.name == "sqlite":
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise MigrationError(f"foreign keys broken by the migration: {broken[:5]}")
            after = current_revision(connection)
    finally:
        engine.dispose()
    return UpgradeResult(url=redact_url(url), before=before, after=after)
