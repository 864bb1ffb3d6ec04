"""Consent changes the retailer sends a second before an export, over real HTTP (the
consent API and an ingest upload), are what that export honours: the server's worker
runs it, and reads consent from the state every writer keeps in step."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from endcap.client import EndcapClient
from endcap.consent.models import Purpose
from endcap.db.engine import SessionFactory
from endcap.db.types import utcnow
from endcap.identity.models import Customer
from endcap.privacy.channels import Channel
from tests.activation.data import build_shop, set_endpoint
from tests.activation.run import rows


async def customer_id(sessions: SessionFactory, ref: int) -> str:
    async with sessions() as session:
        customer = await session.get(Customer, ref)
        assert customer is not None
        return customer.customer_id


async def test_withdrawals_and_a_new_grant_sent_a_second_before_the_export_are_honoured(
    sessions: SessionFactory, admin: EndcapClient, server_drop_dir: Path, tmp_path: Path
) -> None:
    shop = await build_shop(sessions, channels=(Channel.INSTORE_SCREEN,))
    await set_endpoint(sessions, Channel.INSTORE_SCREEN, None)
    onsite = shop.consented[Purpose.TARGETING_ONSITE]
    before = [p for p in shop.treated() if p in onsite]
    by_api, by_upload = before[3], before[-3]
    # Granted, then withdrawn a month later: not in a file until granted again.
    returning = next(p for p in shop.treated() if p not in onsite and (p - shop.members[0]) % 5)
    second_ago = (utcnow() - timedelta(seconds=1)).isoformat()

    admin.record_consent(
        await customer_id(sessions, shop.customer_of[by_api]),
        "targeting_onsite",
        "withdrawn",
        recorded_at=second_ago,
    )
    admin.record_consent(
        await customer_id(sessions, shop.customer_of[returning]),
        "targeting_onsite",
        "granted",
        recorded_at=second_ago,
    )
    upload = tmp_path / "consents.csv"
    upload.write_text(
        "customer_id,purpose,status,recorded_at\n"
        f"{await customer_id(sessions, shop.customer_of[by_upload])},targeting_onsite,"
        f"withdrawn,{second_ago}\n"
    )
    loaded = admin.wait(admin.upload("consents", upload).id, timeout=60)
    queued = admin.request("POST", f"/api/v1/campaigns/{shop.campaign.id}/activations").json()
    done = admin.wait(uuid.UUID(str(queued[0]["job_id"])), timeout=60)

    read = admin.request("GET", f"/api/v1/activations/{queued[0]['id']}").json()
    exported = [int(r[0]) for r in rows(Path(read["destination"]))[1:]]
    expected = sorted({*before, returning} - {by_api, by_upload})
    assert (loaded.status, done.status, read["status"]) == ("succeeded", "succeeded", "delivered")
    assert exported == expected
    assert read["exported"] == len(before) - 1
