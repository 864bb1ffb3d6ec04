"""Campaign rules: who owns what, drafting, booking, and every move through the lifecycle.

A brand reaches only its own partner's campaigns: any other id is a 404, exactly
as an unknown one. A draft is validated as it is written (products of the
partner's brands, bookable audiences, consented channels, sane dates and
money), and again when it is booked, which pins every audience's version,
prices it and takes its capacity in one transaction.
"""

from __future__ import annotations

import builtins
import uuid
from datetime import date

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.principal import Principal
from endcap.concurrency import IfMatchTags, check_if_match
from endcap.config import Settings
from endcap.db.types import utcnow
from endcap.errors import NotFoundError
from endcap.marketplace.approvals import ApprovalService
from endcap.marketplace.channels import ChannelService
from endcap.marketplace.forecast import Quote, Quoting
from endcap.marketplace.holdout import new_salt
from endcap.marketplace.lifecycle import (
    RELEASES_CAPACITY,
    Action,
    IllegalTransitionError,
    target_of,
)
from endcap.marketplace.models import (
    Campaign,
    CampaignAudience,
    CampaignEvent,
    CampaignLine,
    CampaignStatus,
)
from endcap.marketplace.plan import unrun_from, week_start
from endcap.marketplace.public import campaign_public
from endcap.marketplace.quote_cache import QuoteCache
from endcap.marketplace.repository import CampaignRepository
from endcap.marketplace.schemas import (
    CampaignCreate,
    CampaignEventPublic,
    CampaignPublic,
    CampaignUpdate,
    ForecastRequest,
)
from endcap.marketplace.targeting import (
    AudienceChoice,
    Published,
    choose_audiences,
    invalid,
    required_audiences,
)
from endcap.money import share_setting
from endcap.pagination import Page, PageRequest, next_cursor
from endcap.partners.service import PartnerService

EDITABLE = frozenset(CampaignUpdate.model_fields)
AUDIENCE_FIELDS = frozenset({"audience_ids", "audience_id"})


class CampaignService:
    def __init__(
        self, session: AsyncSession, settings: Settings, quote_cache: QuoteCache | None = None
    ) -> None:
        """``quote_cache``: where a draft's checks may read audiences and rates (a booking
        reads them in its own transaction)."""
        self.session = session
        self.settings = settings
        self.campaigns = CampaignRepository(session)
        self.partners = PartnerService(session)
        self.quoting = Quoting(session, settings.privacy_gate, settings.marketplace, quote_cache)
        self.channels = ChannelService(session)
        self.approvals = ApprovalService(session, settings)

    async def create(self, principal: Principal, data: CampaignCreate) -> CampaignPublic:
        """A draft; InvalidRequestError (422, with a pointer) for anything it could not book."""
        partner_id = await self._partner_for(principal, data.partner_id)
        choice = required_audiences(data.audience_ids, data.audience_id)
        fields = data.model_dump(
            exclude={"partner_id", "channels", "creative", "holdout_share", *AUDIENCE_FIELDS},
            mode="python",
        )
        campaign = Campaign(
            partner_id=partner_id,
            **fields,
            channels=[c.value for c in data.channels],
            creative=data.creative.model_dump(mode="json") if data.creative else {},
            holdout_share=data.holdout_share
            or share_setting(self.settings.marketplace.default_holdout_share),
        )
        await self._validate(campaign, choice, cached=True)
        await self.campaigns.add(campaign)
        audiences = await self.campaigns.add_audiences(campaign.id, choice.ids)
        await self._record(campaign, principal, Action.CREATE, None)
        return campaign_public(campaign, audiences, [])

    async def update(
        self,
        principal: Principal,
        campaign_id: uuid.UUID,
        data: CampaignUpdate,
        if_match: IfMatchTags | None,
    ) -> CampaignPublic:
        """Change a draft. PreconditionFailedError (412) unless If-Match names the current
        revision; IllegalTransitionError (409) once it is booked. A request that changes
        nothing answers the draft as it is, at the same revision (the ETags others hold
        stay current)."""
        campaign = await self._owned(principal, campaign_id, for_update=True)
        self._check_revision(campaign, if_match)
        if campaign.status != CampaignStatus.DRAFT:
            raise IllegalTransitionError(
                f"only a draft can be changed; this campaign is {campaign.status}",
                current_status=campaign.status,
            )
        changes = data.model_dump(exclude_unset=True, exclude=set(AUDIENCE_FIELDS), mode="python")
        if "channels" in changes:
            changes["channels"] = [c.value for c in data.channels or []]
        if "creative" in changes:
            changes["creative"] = data.creative.model_dump(mode="json") if data.creative else {}
        changes = {k: v for k, v in changes.items() if getattr(campaign, k) != v}
        asked = choose_audiences(data.audience_ids, data.audience_id)
        audiences = await self.campaigns.audiences(campaign.id)
        current = tuple(a.audience_id for a in audiences)
        if asked is not None and asked.ids == current:
            asked = None
        if not changes and asked is None:
            return campaign_public(campaign, audiences, [])
        for name, value in changes.items():
            setattr(campaign, name, value)
        await self._validate(campaign, asked or AudienceChoice(current), cached=True)
        if asked is not None:
            audiences = await self.campaigns.set_audiences(campaign.id, asked.ids)
        self._bump(campaign)
        await self.session.flush()
        return campaign_public(campaign, audiences, [])

    async def book(
        self, principal: Principal, campaign_id: uuid.UUID, if_match: IfMatchTags | None = None
    ) -> CampaignPublic:
        """Submit a draft for approval: pin every audience's version, price it and take
        capacity.

        CapacityExceededError (409, with what each short week has left) takes nothing.
        """
        found = await self.campaigns.locked_for_booking(campaign_id)
        campaign = self._reached(principal, campaign_id, found.campaign if found else None)
        audiences = found.audiences if found else []
        self._check_revision(campaign, if_match, required=False)
        target = target_of(Action.BOOK, CampaignStatus(campaign.status), principal.role)
        quote = await self._validate(
            campaign,
            AudienceChoice(tuple(a.audience_id for a in audiences)),
            published=found.published if found else None,
        )
        lines = [
            CampaignLine(
                campaign_id=campaign.id,
                channel=line.channel.value,
                reach=line.reach,
                impressions=line.impressions,
                cpm=line.cpm,
                cost=line.cost,
            )
            for line in quote.plan.lines
        ]
        await self.campaigns.add_lines(lines)
        await self.campaigns.pin_versions(audiences, dict(quote.versions))
        campaign.booked_impressions = quote.plan.impressions
        campaign.booked_cost = quote.plan.cost
        await self._move(campaign, principal, Action.BOOK, target)
        # Last, so the contended channel-weeks stay locked only until the commit.
        await self.channels.reserve(
            campaign.id,
            campaign.partner_id,
            quote.plan,
            quote.settings,
            exact=not principal.is_brand,
        )
        return campaign_public(campaign, audiences, lines)

    async def transition(
        self,
        principal: Principal,
        campaign_id: uuid.UUID,
        action: Action,
        *,
        reason: str | None = None,
        if_match: IfMatchTags | None = None,
    ) -> CampaignPublic:
        """Move a campaign on (approve, reject, schedule, start, pause, resume, complete, cancel).

        IllegalTransitionError (409, with ``current_status``) when the move does
        not apply; approving runs the approver's checks and refuses (409, with them)
        if one fails; approving draws the holdout; scheduling queues the activations.
        """
        if action in (Action.CREATE, Action.BOOK):
            raise invalid("/action", f"use the {action.value} route for that")
        campaign = await self._owned(principal, campaign_id, for_update=True)
        self._check_revision(campaign, if_match, required=False)
        target = target_of(action, CampaignStatus(campaign.status), principal.role)
        if action is Action.REJECT and not (reason and reason.strip()):
            raise invalid("/reason", "say why the campaign is rejected; the brand will read it")
        if action is Action.APPROVE:
            await self.approvals.ensure_ready(campaign)
            campaign.holdout_salt = new_salt()
            treatment, holdout = await self.approvals.split(campaign)
            campaign.treatment_size, campaign.holdout_size = treatment, holdout
        if action is Action.REJECT:
            campaign.reject_reason = reason
        if action in RELEASES_CAPACITY:
            await self.channels.release(campaign.id, _unrun_from(campaign))
        await self._move(campaign, principal, action, target, reason)
        if action is Action.SCHEDULE:
            await self._activate(campaign, principal)
        if action is Action.RESUME:
            await self._activate(campaign, principal, resumed=True)
        return await self._public(campaign)

    async def get(self, principal: Principal, campaign_id: uuid.UUID) -> CampaignPublic:
        return await self._public(await self._owned(principal, campaign_id))

    async def list(
        self,
        principal: Principal,
        page: PageRequest,
        *,
        status: CampaignStatus | None = None,
        partner_id: uuid.UUID | None = None,
    ) -> Page[CampaignPublic]:
        """A brand's list holds its own campaigns only: ``partner_id`` filters within them,
        so another partner's id finds nothing, as it would for the retailer."""
        only = partner_id
        if principal.is_brand:
            if partner_id is not None and partner_id != principal.partner_id:
                return Page[CampaignPublic](items=[], next_cursor=None)
            only = principal.partner_id
        rows, cursor = next_cursor(
            await self.campaigns.list_page(page, partner_id=only, status=status), page
        )
        audiences = await self.campaigns.audiences_of(c.id for c in rows)
        return Page[CampaignPublic](
            items=[await self._public(c, audiences.get(c.id, [])) for c in rows],
            next_cursor=cursor,
        )

    async def events(
        self, principal: Principal, campaign_id: uuid.UUID
    ) -> builtins.list[CampaignEventPublic]:
        await self._owned(principal, campaign_id)
        events = [
            CampaignEventPublic.model_validate(e, from_attributes=True)
            for e in await self.campaigns.events(campaign_id)
        ]
        if principal.is_brand:  # which of the retailer's keys acted is the retailer's business
            for event in events:
                if event.actor_role != principal.role.value:
                    event.actor_key_id = None
        return events

    async def _owned(
        self, principal: Principal, campaign_id: uuid.UUID, *, for_update: bool = False
    ) -> Campaign:
        campaign = await self.campaigns.get(campaign_id, for_update=for_update)
        return self._reached(principal, campaign_id, campaign)

    def _reached(
        self, principal: Principal, campaign_id: uuid.UUID, campaign: Campaign | None
    ) -> Campaign:
        """``campaign`` if it exists and the principal reaches it; else the same 404 for both,
        so a brand cannot tell another partner's campaign from none."""
        if campaign is None or not self._reaches(principal, campaign):
            raise NotFoundError(f"no campaign with id {campaign_id}")
        return campaign

    @staticmethod
    def _reaches(principal: Principal, campaign: Campaign) -> bool:
        """A brand reaches its own partner's campaigns only; the retailer reaches all."""
        return not principal.is_brand or campaign.partner_id == principal.partner_id

    async def _partner_for(self, principal: Principal, asked: uuid.UUID | None) -> uuid.UUID:
        if principal.is_brand:
            if asked is not None and asked != principal.partner_id:
                raise invalid("/partner_id", "a brand books for its own partner only; leave it out")
            if principal.partner_id is None:  # a brand key always names one; fail closed
                raise NotFoundError("this key belongs to no partner")
            return principal.partner_id
        if asked is None or not await self.partners.exists(asked):
            raise invalid("/partner_id", "name the partner the campaign is booked for")
        return asked

    async def _validate(
        self,
        campaign: Campaign,
        audiences: AudienceChoice,
        *,
        cached: bool = False,
        published: Published | None = None,
    ) -> Quote:
        """The campaign's quote, or InvalidRequestError (422). ``cached`` for a draft, which
        is checked again, from what is committed then, when it is booked; ``published``:
        the audiences as the booking's transaction read them with the campaign."""
        if len(set(campaign.skus)) != len(campaign.skus):
            raise invalid("/skus", "each promoted product may be named once")
        foreign = await self.partners.foreign_skus(campaign.partner_id, campaign.skus)
        if foreign:
            i = foreign[0]
            raise invalid(
                f"/skus/{i}",
                f"{campaign.skus[i]!r} is not a product of the partner's brands "
                f"({len(foreign)} such product{'s' if len(foreign) > 1 else ''})",
            )
        quote = await self.quoting.quote(
            _request_of(campaign, audiences), cached=cached, published=published
        )
        if quote.plan.impressions == 0:
            raise invalid(
                "/budget",
                f"{campaign.budget} {campaign.currency} buys no impressions at these prices "
                f"(CPM {', '.join(str(line.cpm) for line in quote.plan.lines)})",
            )
        return quote

    @staticmethod
    def _check_revision(
        campaign: Campaign, if_match: IfMatchTags | None, *, required: bool = True
    ) -> None:
        check_if_match(campaign.revision, if_match, required=required, what="campaign")

    @staticmethod
    def _bump(campaign: Campaign) -> None:
        campaign.revision += 1
        campaign.updated_at = utcnow()

    async def _move(
        self,
        campaign: Campaign,
        principal: Principal,
        action: Action,
        target: CampaignStatus,
        reason: str | None = None,
    ) -> None:
        source = CampaignStatus(campaign.status)
        campaign.status = target
        self._bump(campaign)
        await self.session.flush()
        await self._record(campaign, principal, action, source, reason)

    async def _record(
        self,
        campaign: Campaign,
        principal: Principal,
        action: Action,
        source: CampaignStatus | None,
        reason: str | None = None,
    ) -> None:
        await self.campaigns.add_event(
            CampaignEvent(
                campaign_id=campaign.id,
                action=action.value,
                from_status=source.value if source else None,
                to_status=CampaignStatus(campaign.status).value,
                actor_key_id=principal.key_id,
                actor_role=principal.role.value,
                reason=reason,
            )
        )

    async def _activate(
        self, campaign: Campaign, principal: Principal, *, resumed: bool = False
    ) -> None:
        """Queue the campaign's exports: every channel once scheduled; after a resume, the
        channels no file reached yet (a pause stopped their export before it sent)."""
        # Imported here: activation reads campaigns, so the import runs one way at load time.
        from endcap.activation.service import ActivationService  # noqa: PLC0415

        activations = ActivationService(self.session, self.settings)
        if resumed:
            await activations.resumed(campaign, principal.key_id)
        else:
            await activations.enqueue(campaign, principal.key_id)

    async def _public(
        self, campaign: Campaign, audiences: builtins.list[CampaignAudience] | None = None
    ) -> CampaignPublic:
        if audiences is None:
            audiences = await self.campaigns.audiences(campaign.id)
        # A draft has no lines yet: they are written when it is booked.
        if campaign.status == CampaignStatus.DRAFT:
            return campaign_public(campaign, audiences, [])
        return campaign_public(campaign, audiences, await self.campaigns.lines(campaign.id))


# Scheduling queues a campaign's activations: only from then on can a file have gone out.
MAY_HAVE_RUN = frozenset({CampaignStatus.SCHEDULED, CampaignStatus.LIVE, CampaignStatus.PAUSED})


def _unrun_from(campaign: Campaign) -> date:
    """The first week a campaign ending now will not run in (see plan.unrun_from). One
    rejected or cancelled before it was scheduled ran in no week, its flight's first
    included, and gives every week back."""
    if campaign.status not in MAY_HAVE_RUN:
        return week_start(campaign.starts_on)
    return unrun_from(campaign.starts_on, utcnow().date())


def _request_of(campaign: Campaign, audiences: AudienceChoice) -> ForecastRequest:
    # In the form the client used, so that a refusal points at the field it sent.
    named = (
        {"audience_id": audiences.ids[0]} if audiences.single else {"audience_ids": audiences.ids}
    )
    return ForecastRequest.model_validate(
        {
            **named,
            "channels": campaign.channels,
            "starts_on": campaign.starts_on,
            "ends_on": campaign.ends_on,
            "frequency_cap": campaign.frequency_cap,
            "holdout_share": campaign.holdout_share,
            "budget": campaign.budget,
            "currency": campaign.currency,
        }
    )
