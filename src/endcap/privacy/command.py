"""`endcap erase`: erase one shopper from the shell."""

from __future__ import annotations

import asyncio

import click
from rich.console import Console

from endcap.config import get_settings
from endcap.db.session import standalone_session
from endcap.errors import EndcapError
from endcap.identity.models import IdType
from endcap.privacy.erasure import ErasureService
from endcap.privacy.schemas import ErasureRequest, Tombstone


@click.command(name="erase")
@click.option("--customer-id", default=None, help="the retailer's customer id")
@click.option("--id-type", type=click.Choice([t.value for t in IdType]), default=None)
@click.option("--value", default=None, help="the identifier, as the shopper gave it")
def erase_command(customer_id: str | None, id_type: str | None, value: str | None) -> None:
    """Erase a shopper (the whole profile) from every table; prints the tombstone."""
    try:
        request = ErasureRequest(
            customer_id=customer_id, id_type=IdType(id_type) if id_type else None, value=value
        )
    except ValueError as exc:
        raise click.UsageError("give --customer-id, or --id-type with --value") from exc
    settings = get_settings()

    async def run() -> Tombstone:
        async with standalone_session(settings.database) as session:
            return await ErasureService(session, settings).erase(request, requested_by=None)

    try:
        tombstone = asyncio.run(run())
    except EndcapError as exc:
        raise click.ClickException(exc.detail) from exc
    done = "detached" if tombstone.transactions_policy == "detach" else "deleted"
    Console().print(
        f"erased: {tombstone.customers_removed} customer record(s), "
        f"{tombstone.identifiers_removed} identifier(s), "
        f"{tombstone.consent_events_removed} consent event(s); "
        f"{tombstone.transactions_affected} purchase line(s) {done}; "
        f"{tombstone.activation_files_scrubbed} dropped activation file(s) rewritten "
        f"(tombstone {tombstone.id})"
    )
