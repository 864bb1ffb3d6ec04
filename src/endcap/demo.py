"""`endcap demo`: a demo retailer on an embedded SQLite file, served, with next steps printed."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from endcap.auth.roles import Role
from endcap.auth.schemas import ApiKeyCreate, ApiKeyCreated
from endcap.auth.service import ApiKeyService
from endcap.config import DatabaseSettings, Settings, get_settings
from endcap.db import migrate
from endcap.db.session import standalone_session
from endcap.demo_marketplace import open_marketplace
from endcap.demo_retailer import ExampleShopper, example_shopper, generate_files, load_files
from endcap.partners.models import PartnerKind
from endcap.partners.schemas import PartnerCreate
from endcap.partners.service import PartnerService

DEMO_PARTNER = "Demo Foods Co."


@dataclass(frozen=True, slots=True)
class DemoKeys:
    admin: str
    buyer: str
    brand: str
    partner_id: str


def run_demo(console: Console, *, directory: str, host: str, port: int, serve: bool) -> None:
    """Start over in ``directory``: migrate, create keys, print next steps, then serve."""
    folder = Path(directory).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    database = folder / "endcap.db"
    # A demo starts clean each time, so its printed keys always work.
    for stale in folder.glob("endcap.db*"):
        stale.unlink()
    settings = get_settings()
    settings.database = DatabaseSettings(url=f"sqlite+aiosqlite:///{database}")
    settings.activation.drop_dir = str(folder / "activations")

    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console
    ) as progress:
        step = progress.add_task("migrating the embedded database", total=5)
        migrate.upgrade(settings.database.url)
        progress.update(step, advance=1, description="generating a synthetic retailer")
        files = generate_files(folder / "retailer")
        progress.update(step, advance=1, description="loading it through the normal loaders")
        loaded = asyncio.run(load_files(settings, files))
        progress.update(step, advance=1, description="creating the demo partner and API keys")
        keys = asyncio.run(_create_keys(settings))
        shopper = asyncio.run(example_shopper(settings, files["identifiers"]))
        progress.update(step, advance=1, description="pricing channels for the marketplace")
        maker = asyncio.run(open_marketplace(settings, uuid.UUID(keys.partner_id)))
        progress.update(step, advance=1, description="demo retailer ready")

    base = f"http://{host}:{port}"
    # soft_wrap: the curl lines must stay whole so they can be pasted.
    console.print(_loaded(loaded, folder / "retailer"), soft_wrap=True, highlight=False)
    console.print(
        _next_steps(base, database, keys, shopper, files["stores"], _market_steps(base, maker)),
        soft_wrap=True,
        highlight=False,
    )
    if serve:
        _serve(settings, host, port)


async def _create_keys(settings: Settings) -> DemoKeys:
    async with standalone_session(settings.database) as session:
        partner = await PartnerService(session).create(
            PartnerCreate(name=DEMO_PARTNER, kind=PartnerKind.MANUFACTURER)
        )
        keys = ApiKeyService(session, settings.auth.key_prefix)
        admin = await keys.create(ApiKeyCreate(name="demo admin", role=Role.RETAILER_ADMIN))
        buyer = await keys.create(ApiKeyCreate(name="demo buyer", role=Role.BUYER))
        brand = await keys.create(
            ApiKeyCreate(name="demo brand", role=Role.BRAND, partner_id=partner.id)
        )
    return DemoKeys(
        admin=_secret(admin), buyer=_secret(buyer), brand=_secret(brand), partner_id=str(partner.id)
    )


def _secret(created: ApiKeyCreated) -> str:
    if created.key is None:  # only a replayed answer to an HTTP create goes without it
        raise RuntimeError(f"the new key {created.id} came without its secret")
    return created.key


def _loaded(loaded: dict[str, int], folder: Path) -> str:
    counts = ", ".join(f"{n:,} {entity}" for entity, n in loaded.items())
    return f"Loaded {counts} (files in {folder})\n"


def _shopper_steps(base: str, shopper: ExampleShopper | None, stores_file: Path) -> str:
    if shopper is None:
        return ""
    auth = '-H "Authorization: Bearer $ADMIN"'
    lookup = ""
    if shopper.email:
        body = f'{{"id_type": "email", "value": "{shopper.email}"}}'
        lookup = (
            f'  curl -s -X POST {auth} -H "Content-Type: application/json" \\\n'
            f"       -d '{body}' {base}/api/v1/profiles/lookup\n"
        )
    records = ", ".join(shopper.customer_ids)
    profile = f"{base}/api/v1/profiles/{shopper.profile_id}"
    return f"""
A key chain: profile {shopper.profile_id} joins the records {records}
{lookup}  curl -s {auth} {profile}
  curl -s {auth} {profile}/consents
  curl -s {auth} "{base}/api/v1/catalog/products?department=Bakery&limit=5"
  curl -s {auth} -F data=@{stores_file} {base}/api/v1/ingest/stores
"""


def _next_steps(
    base: str,
    database: Path,
    keys: DemoKeys,
    shopper: ExampleShopper | None,
    stores_file: Path,
    market: str,
) -> str:
    return f"""[bold]Endcap demo[/] on {base}   (database: {database})

API docs:     {base}/schema        OpenAPI: {base}/schema/openapi.json

Keys (shown once; the database keeps only their hashes):
  retailer admin  {keys.admin}
  buyer           {keys.buyer}
  brand           {keys.brand}   (partner {DEMO_PARTNER}, {keys.partner_id})

Try:
  export ADMIN={keys.admin}
  export BRAND={keys.brand}
  curl -s {base}/health/ready
  curl -s -H "Authorization: Bearer $ADMIN" {base}/api/v1/me
  curl -s -H "Authorization: Bearer $ADMIN" {base}/api/v1/partners
  curl -s -H "Authorization: Bearer $BRAND" {base}/api/v1/partners/{keys.partner_id}
  curl -s -H "Authorization: Bearer $BRAND" {base}/api/v1/keys   # 403: not for brands
  curl -s -X POST -H "Authorization: Bearer $ADMIN" -H "Content-Type: application/json" \\
       -d '{{"name": "Acme Snacks", "kind": "manufacturer"}}' {base}/api/v1/partners

{_shopper_steps(base, shopper, stores_file)}{market}
Stop with Ctrl-C."""


def _market_steps(base: str, maker: str | None) -> str:
    if maker is None:
        return ""
    return f"""
The marketplace: every channel has a rate card (GET {base}/api/v1/rate-cards) and the
demo partner promotes {maker}'s brands. Refresh traits, publish an audience (README tour),
then as the brand: POST /api/v1/forecasts, POST /api/v1/campaigns, POST .../book; as the
retailer: GET /api/v1/approvals, POST .../actions/approve, POST .../actions/schedule
(activation files land in the demo folder's activations/).
"""


def _serve(settings: Settings, host: str, port: int) -> None:
    import uvicorn  # noqa: PLC0415

    from endcap.app import create_app  # noqa: PLC0415

    uvicorn.run(create_app(settings), host=host, port=port, access_log=False, log_config=None)
