"""Rules of activation: which campaigns may be activated, and who sees which activation
and how exactly. The steps of one export are in :mod:`endcap.activation.steps`.

What goes into a file is decided in :mod:`endcap.activation.export`, who the channel's
contact limit across campaigns leaves out in :mod:`endcap.activation.pressure` (with
what it reads and records in :mod:`endcap.activation.contacts`); how the file reaches
the channel in :mod:`endcap.activation.delivery`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.activation.models import Activation, ActivationStatus
from endcap.activation.repository import ActivationRepository
from endcap.activation.schemas import ActivationPublic
from endcap.auth.principal import Principal
from endcap.config import Settings
from endcap.errors import ConflictError, InvalidRequestError, NotFoundError
from endcap.jobs.service import JobService
from endcap.marketplace.models import Campaign, CampaignStatus
from endcap.pagination import DEFAULT_PAGE_SIZE, Page, PageRequest, next_cursor
from endcap.privacy.channels import Channel

EXPORT_JOB = "activation_export"
# A campaign is activated once approved (its holdout is fixed then) and until it ends, but
# not while it is paused: for e-mail, coupons and screens the file reaching the channel is
# the contact, and a brand that paused its campaign has asked for none.
ACTIVATABLE = frozenset({CampaignStatus.APPROVED, CampaignStatus.SCHEDULED, CampaignStatus.LIVE})
COUNT_FIELDS = (
    "members",
    "holdout_excluded",
    "no_consent_excluded",
    "pressure_excluded",
    "exported",
    "match_keys",
)


class ActivationService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.activations = ActivationRepository(session)

    # -- enqueueing ----------------------------------------------------------------------------

    async def enqueue(
        self,
        campaign: Campaign,
        created_by: uuid.UUID | None,
        channels: Sequence[str] | None = None,
    ) -> list[ActivationPublic]:
        """One queued activation and one "activation_export" job per campaign channel (or
        per one of ``channels``, which must be the campaign's: InvalidRequestError).

        Raises ConflictError (naming the status) unless the campaign is approved,
        scheduled or live, and when one of those channels already has an
        activation queued or running. Only flushes: the caller commits.
        """
        ensure_activatable(campaign)
        chosen = list(campaign.channels) if channels is None else list(dict.fromkeys(channels))
        for i, name in enumerate(chosen):
            if name not in campaign.channels:
                message = f"the campaign does not run on {name} ({', '.join(campaign.channels)})"
                raise InvalidRequestError(
                    message, errors=[{"field": f"/channels/{i}", "message": message}]
                )
        busy = await self.activations.unfinished_channels(campaign.id) & set(chosen)
        if busy:
            raise ConflictError(
                f"campaign {campaign.id} already has an activation queued or running for "
                + ", ".join(sorted(busy))
            )
        return await self._queue(campaign, chosen, created_by)

    async def resumed(
        self, campaign: Campaign, created_by: uuid.UUID | None
    ) -> list[ActivationPublic]:
        """After a resume: queue the campaign's channels that no file reached yet (a pause
        before the export sent it failed that activation, with nothing sent). A channel
        that has its file already, or one on the way, is left as it is. Only flushes."""
        ensure_activatable(campaign)
        settled = await self.activations.channels_with(
            campaign.id,
            (ActivationStatus.QUEUED, ActivationStatus.RUNNING, ActivationStatus.DELIVERED),
        )
        return await self._queue(
            campaign, [name for name in campaign.channels if name not in settled], created_by
        )

    async def _queue(
        self, campaign: Campaign, channel_names: Sequence[str], created_by: uuid.UUID | None
    ) -> list[ActivationPublic]:
        channels = [channel_of(name) for name in channel_names]
        jobs = JobService(self.session)
        created = []
        for channel in channels:
            activation = await self.activations.add(
                Activation(campaign_id=campaign.id, channel=channel.value, created_by=created_by)
            )
            job = await jobs.enqueue(EXPORT_JOB, {"activation_id": str(activation.id)}, created_by)
            activation.job_id = job.id
            created.append(activation)
        await self.session.flush()
        return [public(a, exact=True) for a in created]

    async def enqueue_campaign(
        self,
        campaign_id: uuid.UUID,
        created_by: uuid.UUID | None,
        channels: Sequence[str] | None = None,
    ) -> list[ActivationPublic]:
        """:meth:`enqueue` by id; NotFoundError for an unknown campaign."""
        campaign = await self.activations.campaign(campaign_id, for_update=True)
        if campaign is None:
            raise NotFoundError(f"no campaign with id {campaign_id}")
        return await self.enqueue(campaign, created_by, channels)

    # -- reading -------------------------------------------------------------------------------

    async def list_for(
        self,
        principal: Principal,
        campaign_id: uuid.UUID,
        page: PageRequest | None = None,
    ) -> Page[ActivationPublic]:
        """A campaign's activations, oldest first. A brand reaches only its own campaigns
        (NotFoundError otherwise, as for an unknown id) and sees rounded counts."""
        await self._visible_campaign(principal, campaign_id)
        page = page or PageRequest(DEFAULT_PAGE_SIZE)
        rows, cursor = next_cursor(await self.activations.list_page(campaign_id, page), page)
        exact = not principal.is_brand
        return Page[ActivationPublic](
            items=[public(a, exact=exact) for a in rows], next_cursor=cursor
        )

    async def get(self, principal: Principal, activation_id: uuid.UUID) -> ActivationPublic:
        """One activation; NotFoundError for an unknown id or another partner's campaign."""
        activation = await self.activations.get(activation_id)
        missing = NotFoundError(f"no activation with id {activation_id}")
        if activation is None:
            raise missing
        campaign = await self.activations.campaign(activation.campaign_id)
        if campaign is None or not _reaches(principal, campaign):
            raise missing
        return public(activation, exact=not principal.is_brand)

    async def _visible_campaign(self, principal: Principal, campaign_id: uuid.UUID) -> Campaign:
        campaign = await self.activations.campaign(campaign_id)
        if campaign is None or not _reaches(principal, campaign):
            raise NotFoundError(f"no campaign with id {campaign_id}")
        return campaign


def public(activation: Activation, *, exact: bool) -> ActivationPublic:
    """The activation as the API answers it: everything for the retailer; for a brand, its
    status and times only.

    A brand is shown no count: each is taken over the union of the campaign's audiences
    (and its consent at export time), an exact set the catalog never releases. Rounded,
    "members" beside the catalog sizes of two audiences gives their overlap, which the
    catalog withholds below the minimum; "exported" gives the consented union, which the
    forecast never shows (marketplace/reach.py). What a campaign reached comes to a brand
    in its report, through the privacy gate."""
    counts: dict[str, int | None] = {name: getattr(activation, name) for name in COUNT_FIELDS}
    if not exact:
        counts = dict.fromkeys(counts)
    return ActivationPublic(
        id=activation.id,
        campaign_id=activation.campaign_id,
        channel=activation.channel,
        status=ActivationStatus(activation.status),
        exact=exact,
        attempts=activation.attempts,
        method=activation.method if exact else None,
        destination=activation.destination if exact else None,
        error=activation.error if exact else None,
        job_id=activation.job_id if exact else None,
        created_at=activation.created_at,
        finished_at=activation.finished_at,
        **counts,
    )


def _reaches(principal: Principal, campaign: Campaign) -> bool:
    return not principal.is_brand or principal.partner_id == campaign.partner_id


def ensure_activatable(campaign: Campaign) -> None:
    """ConflictError (naming the status) unless the campaign may be activated."""
    if campaign.status not in ACTIVATABLE:
        raise ConflictError(
            f"campaign {campaign.id} is {campaign.status}; only an approved, scheduled or live"
            " campaign can be activated",
            campaign_status=str(campaign.status),
        )


def channel_of(name: str) -> Channel:
    """The delivery channel ``name``; ConflictError when there is none of that name."""
    try:
        return Channel(name)
    except ValueError as exc:
        raise ConflictError(f"{name!r} is not a delivery channel") from exc
