"""ActivationService rules, in a transaction rolled back after each test."""

from __future__ import annotations

import uuid

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.activation.models import Activation, ActivationStatus
from endcap.activation.service import EXPORT_JOB, ActivationService
from endcap.audiences.models import Audience
from endcap.auth.principal import Principal
from endcap.auth.roles import Role
from endcap.config import Settings
from endcap.errors import ConflictError, NotFoundError
from endcap.jobs.models import Job
from endcap.marketplace.models import Campaign, CampaignStatus
from endcap.partners.models import Partner, PartnerKind
from endcap.privacy.channels import Channel
from tests.activation.data import campaign_row

CHANNELS = (Channel.ONSITE_DISPLAY, Channel.OFFSITE_SOCIAL)


async def campaign(session: AsyncSession, status: CampaignStatus) -> Campaign:
    partner = Partner(name=f"P {uuid.uuid4().hex[:8]}", kind=PartnerKind.MANUFACTURER)
    audience = Audience(name=f"A {uuid.uuid4().hex[:8]}")
    session.add_all([partner, audience])
    await session.flush()
    row, targets = campaign_row(partner.id, [audience.id], CHANNELS, status)
    session.add(row)
    await session.flush()
    session.add_all(targets)
    await session.flush()
    return row


def brand_of(partner_id: uuid.UUID) -> Principal:
    return Principal(key_id=uuid.uuid4(), role=Role.BRAND, partner_id=partner_id)


ADMIN = Principal(key_id=uuid.uuid4(), role=Role.RETAILER_ADMIN, partner_id=None)


@pytest.mark.parametrize(
    "status",
    [
        CampaignStatus.DRAFT,
        CampaignStatus.SUBMITTED,
        CampaignStatus.PAUSED,  # the brand asked for no contacts meanwhile
        CampaignStatus.CANCELLED,
    ],
)
async def test_enqueue_is_refused_before_approval_and_after_the_end(
    session: AsyncSession, settings: Settings, status: CampaignStatus
) -> None:
    row = await campaign(session, status)
    service = ActivationService(session, settings)
    with pytest.raises(ConflictError, match=f"is {status.value}; only an approved") as refused:
        await service.enqueue(row, ADMIN.key_id)
    assert refused.value.status_code == 409
    assert (await service.list_for(ADMIN, row.id)).items == []


async def test_enqueue_queues_one_activation_and_job_per_channel(
    session: AsyncSession, settings: Settings
) -> None:
    row = await campaign(session, CampaignStatus.SCHEDULED)
    service = ActivationService(session, settings)

    created = await service.enqueue(row, ADMIN.key_id)

    assert [a.channel for a in created] == ["onsite_display", "offsite_social"]
    assert {a.status for a in created} == {ActivationStatus.QUEUED}
    for public in created:
        assert public.job_id is not None
        job = await session.get(Job, public.job_id)
        assert job is not None
        assert (job.kind, job.params) == (EXPORT_JOB, {"activation_id": str(public.id)})
        assert job.created_by == ADMIN.key_id
    with pytest.raises(ConflictError, match="already has an activation queued or running"):
        await service.enqueue(row, ADMIN.key_id)


async def test_a_brand_sees_no_counts_and_only_its_own_campaign(
    session: AsyncSession, settings: Settings
) -> None:
    row = await campaign(session, CampaignStatus.LIVE)
    activation = Activation(
        campaign_id=row.id,
        channel="onsite_display",
        status=ActivationStatus.DELIVERED,
        members=1234,
        holdout_excluded=123,
        no_consent_excluded=56,
        exported=1055,
        destination="/drop/x.csv",
    )
    session.add(activation)
    await session.flush()
    service = ActivationService(session, settings)

    own = await service.get(brand_of(row.partner_id), activation.id)
    exact = await service.get(ADMIN, activation.id)

    # Each count is over the union of the campaign's audiences, which no brand is shown.
    assert (own.members, own.holdout_excluded, own.no_consent_excluded, own.exported) == (
        None,
        None,
        None,
        None,
    )
    assert (own.pressure_excluded, own.match_keys) == (None, None)
    assert (own.exact, own.destination, own.status) == (False, None, "delivered")
    assert (exact.members, exact.holdout_excluded, exact.exported) == (1234, 123, 1055)
    assert (exact.exact, exact.destination) == (True, "/drop/x.csv")
    listed = await service.list_for(brand_of(row.partner_id), row.id)
    assert [(a.id, a.members) for a in listed.items] == [(activation.id, None)]

    stranger = brand_of(uuid.uuid4())
    with pytest.raises(NotFoundError) as foreign:
        await service.get(stranger, activation.id)
    unknown_id = uuid.uuid4()
    with pytest.raises(NotFoundError) as unknown:
        await service.get(stranger, unknown_id)
    assert foreign.value.detail == f"no activation with id {activation.id}"
    assert unknown.value.detail == f"no activation with id {unknown_id}"
    with pytest.raises(NotFoundError, match=f"no campaign with id {row.id}"):
        await service.list_for(stranger, row.id)
