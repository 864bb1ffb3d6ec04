"""Running Alembic from code (the CLI, the demo, the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine as create_sync_engine

import endcap


def migrations_dir() -> Path:
    """The migrations inside an installed wheel, else the ones in the source tree."""
    packaged = Path(endcap.__file__).parent / "migrations"
    if (packaged / "env.py").exists():
        return packaged
    source = Path(endcap.__file__).resolve().parents[2] / "migrations"
    if (source / "env.py").exists():
        return source
    raise FileNotFoundError("Endcap's migrations are missing from this installation")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.attributes["url"] = url
    config.attributes["configure_logging"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``. Synchronous: call it off the event loop."""
    command.upgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(sync_url: str) -> str | None:
    """The revision a database is at, read with a synchronous driver URL."""
    engine = create_sync_engine(sync_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
