"""The retailer's approval queue: booked campaigns and the checks an approver looks at.

Checks: policy (flight not started, holdout within policy), each pinned audience
version still at or above the minimum in size and in consented reach on each of the
campaign's channels (one check per audience), the promoted products still the
partner's, no sensitive department or category touched, the capacity actually held
(and not oversold since), and a usable creative. Approval is refused while any check
fails.

The sensitive list is read as it is now, not as it was when the audience was
published: a category the retailer marked sensitive since then stops the campaign.
So besides the promoted products the check looks at each pinned audience's rule,
propensity target and the features its model version was fitted on.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from decimal import Decimal

import numpy as np
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.service import AudienceService
from endcap.catalog.service import CatalogService
from endcap.config import Settings
from endcap.db.types import utcnow
from endcap.errors import ConflictError, InvalidRequestError, NotFoundError
from endcap.marketplace.holdout import HoldoutSplit
from endcap.marketplace.models import (
    Campaign,
    CampaignAudience,
    CampaignStatus,
    CapacityReservation,
)
from endcap.marketplace.public import campaign_public
from endcap.marketplace.repository import CampaignRepository, ChannelRepository, WeekRow
from endcap.marketplace.schemas import ApprovalItem, Check
from endcap.names import is_visible
from endcap.pagination import Page, PageRequest, next_cursor
from endcap.partners.service import PartnerService
from endcap.privacy.channels import Channel, required_purpose
from endcap.privacy.sensitive import (
    CatalogReference,
    ReferenceKind,
    SensitiveCategories,
    SensitiveMatch,
    find_sensitive,
)

# Channels whose ads a shopper clicks through: their creative needs a landing page. A
# store screen or a printed coupon has nothing to click.
CLICKED = frozenset(
    {Channel.ONSITE_DISPLAY.value, Channel.OFFSITE_SOCIAL.value, Channel.EMAIL.value}
)


class ChecksFailedError(ConflictError):
    problem_type = "checks-failed"
    title = "Approval checks failed"


class ApprovalService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.settings = settings
        self.campaigns = CampaignRepository(session)
        self.channels = ChannelRepository(session)
        self.audiences = AudienceService(session, settings.privacy_gate)
        self.catalog = CatalogService(session)
        self.partners = PartnerService(session)
        self.sensitive = SensitiveCategories.from_settings(settings.privacy_gate)

    async def queue(self, page: PageRequest) -> Page[ApprovalItem]:
        """Campaigns waiting for approval, oldest first, each with its checks."""
        rows, cursor = next_cursor(
            await self.campaigns.list_page(page, status=CampaignStatus.SUBMITTED), page
        )
        return Page[ApprovalItem](items=[await self._item(c) for c in rows], next_cursor=cursor)

    async def item(self, campaign_id: uuid.UUID) -> ApprovalItem:
        campaign = await self.campaigns.get(campaign_id)
        if campaign is None:
            raise NotFoundError(f"no campaign with id {campaign_id}")
        return await self._item(campaign)

    async def ensure_ready(self, campaign: Campaign) -> None:
        """ChecksFailedError (409, listing every check) unless all of them pass."""
        checks = await self.checks(campaign)
        failed = [c for c in checks if not c.passed]
        if failed:
            raise ChecksFailedError(
                "cannot approve: " + "; ".join(f"{c.name}: {c.detail}" for c in failed),
                checks=[c.model_dump() for c in checks],
            )

    async def split(self, campaign: Campaign) -> tuple[int, int]:
        """(treatment, holdout) sizes of the union of the pinned versions under the campaign's
        salt: a shopper in several of its audiences is one person, split once."""
        audiences = await self.campaigns.audiences(campaign.id)
        pinned = [(a.audience_id, a.audience_version) for a in audiences]
        if campaign.holdout_salt is None or not pinned:
            return 0, 0
        members = np.empty(0, np.int64)
        for audience_id, version in pinned:
            if version is None:  # never booked
                return 0, 0
            members = np.union1d(members, await self.audiences.member_ids(audience_id, version))
        split = HoldoutSplit(campaign.holdout_salt, campaign.holdout_share)
        return split.count(int(m) for m in members)

    async def checks(self, campaign: Campaign) -> list[Check]:
        audiences = await self.campaigns.audiences(campaign.id)
        products, sensitive_products = await self._products(campaign)
        return [
            self._policy(campaign),
            *await self._audiences(audiences, campaign.channels),
            products,
            await self._sensitive(sensitive_products, audiences),
            await self._capacity(campaign),
            self._creative(campaign),
        ]

    def _policy(self, campaign: Campaign) -> Check:
        market = self.settings.marketplace
        low, high = Decimal(str(market.min_holdout_share)), Decimal(str(market.max_holdout_share))
        problems = []
        if campaign.starts_on < utcnow().date():
            problems.append(f"the flight started on {campaign.starts_on} without approval")
        if not low <= campaign.holdout_share <= high:
            problems.append(f"holdout {campaign.holdout_share} is outside {low}-{high}")
        return Check(
            name="policy",
            passed=not problems,
            detail="; ".join(problems) or "flight in the future, holdout within policy",
        )

    async def _audiences(
        self, audiences: Sequence[CampaignAudience], channels: Sequence[str]
    ) -> list[Check]:
        """Per pinned audience: its size, and on each of the campaign's channels its members
        holding that channel's consent now, each at the minimum (what publishing and
        booking ask; withdrawals since the booking count)."""
        minimum = self.settings.privacy_gate.min_audience
        checks = []
        for audience in audiences:
            version = audience.audience_version
            size = (
                await self.audiences.version_size(audience.audience_id, version)
                if version is not None
                else None
            )
            detail = (
                f"pinned version {version} of audience {audience.audience_id} holds "
                f"{size} shoppers (minimum {minimum})"
            )
            short = []
            if version is not None and size is not None:
                for channel in channels:
                    reach = await self.audiences.consented_reach(
                        audience.audience_id, version, required_purpose(Channel(channel))
                    )
                    if reach < minimum:
                        short.append(f"{reach} consent to {channel} now")
            if short:
                detail += "; too few on a channel: " + ", ".join(short)
            checks.append(
                Check(
                    name="audience",
                    passed=size is not None and size >= minimum and not short,
                    detail=detail,
                    audience_id=audience.audience_id,
                )
            )
        if not checks:  # a campaign always has one; fail closed if it lost them
            checks.append(Check(name="audience", passed=False, detail="no audience"))
        return checks

    async def _products(self, campaign: Campaign) -> tuple[Check, list[SensitiveMatch]]:
        """The products check, and the sensitive departments and categories they are in."""
        placements = await self.catalog.placements(campaign.skus)
        foreign = await self.partners.foreign_skus(campaign.partner_id, campaign.skus)
        gone = [s for s in campaign.skus if s not in placements]
        wrong = [campaign.skus[i] for i in foreign if campaign.skus[i] in placements]
        detail = "; ".join(
            part
            for part in (
                f"no longer in the catalog: {', '.join(gone)}" if gone else "",
                f"not the partner's: {', '.join(wrong)}" if wrong else "",
            )
            if part
        )
        references = [
            CatalogReference(
                pointer=f"/skus/{i}",
                kind=ReferenceKind.PRODUCT,
                name=sku,
                departments=frozenset({placements[sku][0]}),
                categories=frozenset({placements[sku][1]}),
            )
            for i, sku in enumerate(campaign.skus)
            if sku in placements
        ]
        check = Check(
            name="products",
            passed=not detail,
            detail=detail or f"{len(campaign.skus)} products, all the partner's",
        )
        return check, find_sensitive(references, self.sensitive)

    async def _sensitive(
        self, products: list[SensitiveMatch], audiences: Sequence[CampaignAudience]
    ) -> Check:
        problems = [m.reason for m in products]
        for audience in audiences:
            named = f"audience {audience.audience_id}"
            try:
                uses = await self.audiences.sensitive_uses(
                    audience.audience_id, audience.audience_version
                )
            except (InvalidRequestError, NotFoundError) as exc:
                # Fail closed: what cannot be resolved cannot be shown to be safe.
                problems.append(f"{named} could not be checked again: {exc.detail}")
                continue
            problems += [f"{named}: {m.reason}" for m in uses]
        return Check(
            name="sensitive categories",
            passed=not problems,
            detail="; ".join(problems) or "none touched",
        )

    async def _capacity(self, campaign: Campaign) -> Check:
        reservations = await self.campaigns.reservations(campaign.id)
        held = sum(r.impressions for r in reservations)
        booked = campaign.booked_impressions or 0
        detail = f"{held} of {booked} booked impressions held"
        # A capacity lowered after the booking keeps it (set_capacity_from), so a held week
        # can carry more than the channel now takes: approving would promise what cannot run.
        oversold = [
            f"{channel} week of {monday} holds {taken} of {capacity}"
            for channel, monday, capacity, taken in await self._weeks_held(reservations)
            if taken > capacity
        ]
        if oversold:
            detail += "; oversold since capacity was lowered: " + ", ".join(oversold)
        # Likewise a contact limit lowered below the campaign's frequency cap: its exports
        # would leave out every shopper (activation/pressure.py).
        rates = await self.channels.rates(campaign.channels)
        over_limit = [
            f"{channel} now allows {rates[channel].max_per_profile_week} contacts per shopper "
            f"per week, the campaign's frequency cap is {campaign.frequency_cap}"
            for channel in campaign.channels
            if channel in rates and campaign.frequency_cap > rates[channel].max_per_profile_week
        ]
        if over_limit:
            detail += "; " + "; ".join(over_limit)
        passed = held == booked and booked > 0 and not oversold and not over_limit
        return Check(name="capacity", passed=passed, detail=detail)

    async def _weeks_held(self, reservations: Sequence[CapacityReservation]) -> list[WeekRow]:
        held = {(r.channel, r.week_start) for r in reservations}
        if not held:
            return []
        mondays = [monday for _channel, monday in held]
        weeks = await self.channels.weeks_of({c for c, _m in held}, min(mondays), max(mondays))
        return [w for w in weeks if (w[0], w[1]) in held]

    @staticmethod
    def _creative(campaign: Campaign) -> Check:
        creative = campaign.creative or {}
        url = str(creative.get("landing_url") or "")
        clicked = sorted(set(campaign.channels) & CLICKED)
        problems = []
        if not is_visible(str(creative.get("headline") or "")):  # stored before the rule
            problems.append("no headline")
        if url and not url.startswith("https://"):
            problems.append(f"landing page {url} is not https")
        elif not url and clicked:
            problems.append(f"no landing page for the clicks on {', '.join(clicked)}")
        return Check(
            name="creative",
            passed=not problems,
            detail="; ".join(problems)
            or ("headline and landing page present" if url else "headline present"),
        )

    async def _item(self, campaign: Campaign) -> ApprovalItem:
        checks = await self.checks(campaign)
        audiences = await self.campaigns.audiences(campaign.id)
        lines = await self.campaigns.lines(campaign.id)
        return ApprovalItem(
            campaign=campaign_public(campaign, audiences, lines),
            checks=checks,
            ready=all(c.passed for c in checks),
        )
