"""The ``endcap`` command: serve, migrate, keys, demo."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from endcap.auth.key_changes import until_no_process_accepts
from endcap.auth.principal import Principal
from endcap.auth.roles import Role
from endcap.auth.schemas import ApiKeyCreate, ApiKeyPublic
from endcap.auth.service import ApiKeyService
from endcap.config import Settings, get_settings
from endcap.db import migrate
from endcap.db.session import standalone_session
from endcap.errors import EndcapError
from endcap.pagination import MAX_PAGE_SIZE, PageRequest

console = Console()
T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except EndcapError as exc:
        raise click.ClickException(exc.detail) from exc


@click.group()
@click.version_option(package_name="endcap")
def main() -> None:
    """Endcap: privacy-safe retail media on the retailer's own customer data."""


@main.command()
@click.option("--host", default=None, help="interface to bind (ENDCAP_HOST, default 127.0.0.1)")
@click.option("--port", type=int, default=None, help="port (ENDCAP_PORT, default 8000)")
@click.option("--workers", type=int, default=1, show_default=True, help="worker processes")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Serve the API (the database must be migrated: see `endcap migrate`)."""
    import uvicorn  # noqa: PLC0415  (only this command needs the server)

    settings = get_settings()
    uvicorn.run(
        "endcap.app:create_app",
        factory=True,
        host=host or settings.server.host,
        port=port or settings.server.port,
        workers=workers,
        access_log=False,
        log_config=None,
    )


@main.command(name="migrate")
@click.option("--revision", default="head", show_default=True)
def migrate_command(revision: str) -> None:
    """Bring the database (ENDCAP_DATABASE_URL) to the latest schema."""
    settings = get_settings()
    with console.status(f"migrating {_safe_url(settings.database.url)} to {revision}"):
        migrate.upgrade(settings.database.url, revision)
    console.print(f"[green]database is at {revision}[/]")


@main.group()
def keys() -> None:
    """Create, list and revoke API keys directly in the database (bootstrap)."""


@keys.command(name="create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", default=None, help="a label, e.g. who holds the key")
@click.option(
    "--partner-id", type=click.UUID, default=None, help="the partner a brand key acts for"
)
def keys_create(role: str, name: str | None, partner_id: uuid.UUID | None) -> None:
    """Create a key and print it once; it cannot be shown again."""
    data = ApiKeyCreate(name=name or f"{role} key", role=Role(role), partner_id=partner_id)
    created = _run(_with_keys(get_settings(), lambda svc: svc.create(data)))
    console.print(f"id:   {created.id}\nrole: {created.role}\nkey:  [bold]{created.key}[/]")
    console.print("[yellow]Store this key now: Endcap keeps only its hash.[/]")


@keys.command(name="list")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=None)
def keys_list(role: str | None) -> None:
    """List keys (never their secrets)."""
    page = _run(
        _with_keys(
            get_settings(),
            lambda svc: svc.list(
                PageRequest(limit=MAX_PAGE_SIZE), role=Role(role) if role else None
            ),
        )
    )
    table = Table("id", "prefix", "role", "name", "partner", "created", "revoked")
    for key in page.items:
        table.add_row(
            str(key.id),
            key.prefix,
            key.role,
            key.name,
            str(key.partner_id or ""),
            key.created_at.isoformat(timespec="seconds"),
            key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else "",
        )
    console.print(table)


@keys.command(name="revoke")
@click.argument("key_id", type=click.UUID)
def keys_revoke(key_id: uuid.UUID) -> None:
    """Revoke a key at once."""
    bootstrap = _bootstrap_principal()
    settings = get_settings()
    revoked: ApiKeyPublic = _run(_with_keys(settings, lambda svc: svc.revoke(key_id, by=bootstrap)))
    # Committed; said once no running server can still accept the key from its cache.
    _run(until_no_process_accepts(settings))
    console.print(f"revoked {revoked.prefix} ({revoked.role})")


async def _with_keys(
    settings: Settings, action: Callable[[ApiKeyService], Coroutine[Any, Any, T]]
) -> T:
    async with standalone_session(settings.database) as session:
        return await action(ApiKeyService(session, settings.auth.key_prefix))


def _bootstrap_principal() -> Principal:
    # The operator at the shell acts outside any key.
    return Principal(key_id=uuid.UUID(int=0), role=Role.RETAILER_ADMIN, partner_id=None)


def _safe_url(url: str) -> str:
    """The URL without its password, for printing."""
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    return make_url(url).render_as_string(hide_password=True)


@main.command()
@click.option(
    "--dir",
    "directory",
    default="endcap-demo",
    show_default=True,
    help="where the demo keeps its files",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--no-serve", is_flag=True, help="set up and print the next steps, but do not serve")
def demo(directory: str, host: str, port: int, no_serve: bool) -> None:
    """Set up a demo retailer on an embedded SQLite file and serve the API."""
    from endcap.demo import run_demo  # noqa: PLC0415

    run_demo(console, directory=directory, host=host, port=port, serve=not no_serve)


def _register() -> None:
    # Domain commands live beside their domain; the group only collects them.
    from endcap.ingest.command import ingest_command  # noqa: PLC0415
    from endcap.jobs.command import worker_command  # noqa: PLC0415
    from endcap.privacy.command import erase_command  # noqa: PLC0415
    from endcap.synthetic.command import generate_command  # noqa: PLC0415

    for command in (ingest_command, worker_command, erase_command, generate_command):
        main.add_command(command)


_register()
