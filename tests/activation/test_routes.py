"""The activation routes over real HTTP, with the server's own worker running the exports."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from endcap.activation.models import Activation
from endcap.client import EndcapAPIError, EndcapClient
from endcap.consent.models import Purpose
from endcap.db.engine import SessionFactory
from endcap.marketplace.models import CampaignStatus
from endcap.privacy.channels import Channel
from tests.activation.conftest import ATTEMPTS
from tests.activation.data import build_shop, set_endpoint
from tests.activation.receiver import ChannelReceiver
from tests.activation.run import rows

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def enqueue(admin: EndcapClient, campaign_id: uuid.UUID) -> list[dict[str, object]]:
    response = admin.request("POST", f"/api/v1/campaigns/{campaign_id}/activations")
    assert response.status_code == 202
    body: list[dict[str, object]] = response.json()
    return body


def refused(client: EndcapClient, path: str, method: str = "GET") -> EndcapAPIError:
    with pytest.raises(EndcapAPIError) as caught:
        client.request(method, path)
    return caught.value


async def test_an_admin_activates_to_the_file_drop_through_the_worker(
    sessions: SessionFactory, admin: EndcapClient, server_drop_dir: Path
) -> None:
    shop = await build_shop(sessions, channels=(Channel.INSTORE_SCREEN,))
    await set_endpoint(sessions, Channel.INSTORE_SCREEN, None)

    [queued] = enqueue(admin, shop.campaign.id)
    job = admin.wait(uuid.UUID(str(queued["job_id"])), timeout=60)

    read = admin.request("GET", f"/api/v1/activations/{queued['id']}").json()
    expected = [p for p in shop.treated() if p in shop.consented[Purpose.TARGETING_ONSITE]]
    path = server_drop_dir / str(shop.campaign.id) / f"instore_screen-{queued['id']}.csv"
    assert (queued["status"], job.status) == ("queued", "succeeded")
    assert (read["status"], read["method"], read["destination"]) == ("delivered", "file", str(path))
    assert (read["members"], read["exported"], read["exact"]) == (245, len(expected), True)
    assert rows(path) == [["profile_id"], *[[str(p)] for p in expected]]


async def test_an_endpoint_that_always_fails_fails_the_job_and_the_activation(
    sessions: SessionFactory, admin: EndcapClient, receiver: ChannelReceiver
) -> None:
    receiver.behaviour.always_fail = True
    shop = await build_shop(sessions, shoppers=40, channels=(Channel.COUPON,))
    await set_endpoint(sessions, Channel.COUPON, receiver.url)

    [queued] = enqueue(admin, shop.campaign.id)
    job = admin.wait(uuid.UUID(str(queued["job_id"])), timeout=60)

    read = admin.request("GET", f"/api/v1/activations/{queued['id']}").json()
    reason = f"channel endpoint {receiver.url} answered 503 on {ATTEMPTS} attempts"
    assert job.status == "failed"
    assert job.error is not None
    assert job.error.startswith(reason)
    assert (read["status"], read["attempts"], read["exported"]) == ("failed", ATTEMPTS, None)
    assert read["error"] == job.error
    assert len(receiver.requests) == ATTEMPTS


async def test_a_draft_campaign_is_not_activated(
    sessions: SessionFactory, admin: EndcapClient
) -> None:
    shop = await build_shop(sessions, shoppers=10, status=CampaignStatus.DRAFT)

    error = refused(admin, f"/api/v1/campaigns/{shop.campaign.id}/activations", "POST")

    assert error.status == 409
    assert error.type == "urn:endcap:problem:conflict"
    assert "is draft" in error.detail
    listed = admin.request("GET", f"/api/v1/campaigns/{shop.campaign.id}/activations").json()
    assert listed["items"] == []


async def test_an_admin_may_activate_some_of_the_campaigns_channels_only(
    sessions: SessionFactory, admin: EndcapClient
) -> None:
    shop = await build_shop(
        sessions, shoppers=20, channels=(Channel.INSTORE_SCREEN, Channel.ONSITE_DISPLAY)
    )
    for channel in (Channel.INSTORE_SCREEN, Channel.ONSITE_DISPLAY):
        await set_endpoint(sessions, channel, None)
    path = f"/api/v1/campaigns/{shop.campaign.id}/activations"

    [one] = admin.activate(shop.campaign.id, channels=["instore_screen"])
    with pytest.raises(EndcapAPIError) as elsewhere:
        admin.activate(shop.campaign.id, channels=["email"])
    with pytest.raises(EndcapAPIError) as unknown_field:
        admin.request("POST", path, json={"channel": "email"})
    with pytest.raises(EndcapAPIError) as twice:
        admin.activate(shop.campaign.id, channels=["onsite_display", "onsite_display"])
    admin.wait(one.job_id, timeout=60)
    listed = admin.request("GET", path).json()["items"]

    assert one.channel == "instore_screen"
    assert [a["channel"] for a in listed] == ["instore_screen"]
    assert (elsewhere.value.status, unknown_field.value.status) == (422, 422)
    assert elsewhere.value.problem["errors"][0]["field"] == "/channels/0"
    # A repeat was dropped without a word; a forecast or a campaign refuses one.
    assert twice.value.status == 422
    assert twice.value.problem["errors"][0]["field"] == "/channels"


async def test_a_brand_reads_no_counts_and_only_its_own_campaigns(
    sessions: SessionFactory,
    admin: EndcapClient,
    brand: EndcapClient,
    brand_partner_id: uuid.UUID,
) -> None:
    own = await build_shop(sessions, shoppers=10, partner_id=brand_partner_id)
    other = await build_shop(sessions, shoppers=10)
    # Every count is above the minimum, so only the rule that counts are the retailer's
    # hides them from the brand.
    counts = {
        "members": 7321,
        "holdout_excluded": 732,
        "no_consent_excluded": 1650,
        "pressure_excluded": 1700,
    }
    async with sessions() as session:
        mine = Activation(campaign_id=own.campaign.id, channel="email", exported=3239, **counts)
        theirs = Activation(campaign_id=other.campaign.id, channel="email", **counts)
        session.add_all([mine, theirs])
        await session.commit()

    listed = brand.request("GET", f"/api/v1/campaigns/{own.campaign.id}/activations").json()
    exact = admin.request("GET", f"/api/v1/activations/{mine.id}").json()

    [seen] = listed["items"]
    assert seen["id"] == str(mine.id)
    assert (seen["members"], seen["holdout_excluded"]) == (None, None)
    assert (seen["no_consent_excluded"], seen["pressure_excluded"]) == (None, None)
    assert (seen["exported"], seen["exact"], seen["status"]) == (None, False, "queued")
    assert seen["destination"] is None
    assert (exact["members"], exact["holdout_excluded"], exact["exported"]) == (7321, 732, 3239)
    assert (exact["no_consent_excluded"], exact["pressure_excluded"]) == (1650, 1700)
    for foreign, unknown in (
        (
            f"/api/v1/campaigns/{other.campaign.id}/activations",
            f"/api/v1/campaigns/{uuid.uuid4()}/activations",
        ),
        (f"/api/v1/activations/{theirs.id}", f"/api/v1/activations/{uuid.uuid4()}"),
    ):
        a, b = refused(brand, foreign), refused(brand, unknown)
        assert (a.status, b.status) == (404, 404)
        assert set(a.problem) == set(b.problem) == PROBLEM_KEYS
        assert a.type == b.type == "urn:endcap:problem:not-found"
        assert a.detail.rsplit(" ", 1)[0] == b.detail.rsplit(" ", 1)[0]
    assert refused(brand, f"/api/v1/campaigns/{own.campaign.id}/activations", "POST").status == 403
