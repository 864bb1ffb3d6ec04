"""A small shop written straight into the tables and committed (the export reads it in
transactions of its own): shoppers with consent and identifiers, one audience version
(or several overlapping ones), a partner and an approved campaign. What the export
should do is known here, in Python, independently of the code under test."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.activation.models import Activation
from endcap.audiences.models import Audience, AudienceMember, AudienceStatus, AudienceVersion
from endcap.consent.models import ConsentEvent, ConsentStatus, Purpose
from endcap.consent.schemas import ConsentRecord
from endcap.consent.service import ConsentService
from endcap.consent.state import refresh_consents
from endcap.db.engine import SessionFactory
from endcap.db.types import utcnow
from endcap.identity.models import Customer, Identifier, IdType, Profile, SharedIdentifier
from endcap.identity.repository import IdentityRepository
from endcap.marketplace.holdout import HoldoutSplit, new_salt
from endcap.marketplace.models import (
    Campaign,
    CampaignAudience,
    CampaignStatus,
    ChannelSettings,
)
from endcap.partners.models import Partner, PartnerKind
from endcap.privacy.channels import Channel

GRANTED_AT = datetime(2026, 1, 1, tzinfo=UTC)
PURPOSES = (Purpose.TARGETING_ONSITE, Purpose.TARGETING_OFFSITE)


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass
class Shop:
    tag: str
    campaign: Campaign
    members: list[int]  # the union of the campaign's audiences, each shopper once
    audiences: dict[uuid.UUID, list[int]]  # each audience's members
    customer_of: dict[int, int]  # profile -> its first customer record
    consented: dict[Purpose, set[int]]
    keys: dict[int, set[tuple[str, str]]]  # profile -> its usable (type, hash) keys
    shared_keys: set[str] = field(default_factory=set)

    @property
    def split(self) -> HoldoutSplit:
        assert self.campaign.holdout_salt is not None
        return HoldoutSplit(self.campaign.holdout_salt, self.campaign.holdout_share)

    def treated(self) -> list[int]:
        return sorted(self.split.treatment(self.members))

    def holdout(self) -> set[int]:
        return set(self.members) - set(self.treated())


async def build_shop(
    sessions: SessionFactory,
    *,
    shoppers: int = 250,
    channels: tuple[Channel, ...] = (Channel.ONSITE_DISPLAY, Channel.OFFSITE_SOCIAL),
    status: CampaignStatus = CampaignStatus.APPROVED,
    partner_id: uuid.UUID | None = None,
    audiences: Sequence[slice] = (slice(None),),
    flight: Flight | None = None,
) -> Shop:
    """``shoppers`` profiles; all but the last five are audience members.

    With ``audiences``, the campaign targets one audience per slice of those members
    instead (slices may overlap; the members are then their union). ``flight`` sets
    its dates and frequency cap (default: all of July 2026, which is over, capped at 3).

    Shopper i: no onsite consent if i % 5 == 0, onsite granted then withdrawn if
    i % 5 == 1, else onsite granted; offsite granted unless i % 3 == 0. Each has an
    e-mail, even ones a phone too; every seventh has a second customer record repeating
    its e-mail with another phone; shopper 11 has only a loyalty card; shoppers 2 to 4
    also carry one family e-mail, flagged shared. An approved campaign's holdout split
    treats shopper 14 (:func:`_treat_shopper_14`).
    """
    tag = uuid.uuid4().hex[:8]
    family = sha(f"family-{tag}@example.com")
    async with sessions() as session:
        # Ids as key-chain resolution hands them out (it never draws on the sequence), so a
        # shop built after a load that made profiles does not collide with them.
        first = await IdentityRepository(session).next_profile_id()
        profiles = [Profile(id=first + i) for i in range(shoppers)]
        session.add_all(profiles)
        await session.flush()
        customers: list[tuple[int, Customer]] = []
        for i, profile in enumerate(profiles):
            customers.append((i, Customer(customer_id=f"{tag}-c{i}", profile_id=profile.id)))
            if i % 7 == 0:
                customers.append((i, Customer(customer_id=f"{tag}-c{i}b", profile_id=profile.id)))
        session.add_all([c for _, c in customers])
        await session.flush()
        ids = [p.id for p in profiles if p.id is not None]
        keys: dict[int, set[tuple[str, str]]] = {pid: set() for pid in ids}
        consented: dict[Purpose, set[int]] = {purpose: set() for purpose in PURPOSES}
        second = set()
        for i, customer in customers:
            pid, ref = ids[i], customer.id
            assert ref is not None
            extra = i in second
            second.add(i)
            if i != 11:
                email = sha(f"shopper{i}-{tag}@example.com")
                session.add(Identifier(id_type=IdType.EMAIL, id_value=email, customer_ref=ref))
                keys[pid].add(("EMAIL", email))
                if i % 2 == 0 or extra:
                    phone = sha(f"+46{i:04d}{'9' if extra else '0'}{tag}")
                    session.add(Identifier(id_type=IdType.PHONE, id_value=phone, customer_ref=ref))
                    keys[pid].add(("PHONE", phone))
            else:
                session.add(
                    Identifier(
                        id_type=IdType.LOYALTY_CARD, id_value=f"card-{tag}", customer_ref=ref
                    )
                )
            if 2 <= i <= 4:
                session.add(Identifier(id_type=IdType.EMAIL, id_value=family, customer_ref=ref))
            if extra:
                continue
            for event in _consents(i, ref):
                session.add(event)
            if i % 5 >= 2:
                consented[Purpose.TARGETING_ONSITE].add(pid)
            if i % 3 != 0:
                consented[Purpose.TARGETING_OFFSITE].add(pid)
        session.add(SharedIdentifier(id_type=IdType.EMAIL, id_value=family, customer_count=3))
        await session.flush()
        # The ledger was written straight in: bring the state reach and exports read in
        # step with it, as every writer of events does.
        await refresh_consents(session, select(col(Profile.id)).where(col(Profile.id).in_(ids)))
        held = await _audiences(session, tag, [ids[: shoppers - 5][part] for part in audiences])
        if partner_id is None:
            partner = Partner(name=f"Partner {tag}", kind=PartnerKind.MANUFACTURER)
            session.add(partner)
            await session.flush()
            partner_id = partner.id
        campaign, targets = campaign_row(partner_id, list(held), channels, status, flight)
        _treat_shopper_14(campaign, ids)
        session.add(campaign)
        await session.flush()
        session.add_all(targets)
        await session.commit()
    return Shop(
        tag=tag,
        campaign=campaign,
        members=sorted({p for part in held.values() for p in part}),
        audiences=held,
        customer_of={ids[i]: c.id for i, c in reversed(customers) if c.id is not None},
        consented=consented,
        keys=keys,
        shared_keys={family},
    )


async def _audiences(
    session: AsyncSession, tag: str, parts: list[list[int]]
) -> dict[uuid.UUID, list[int]]:
    """One published audience per part, with the part as its version 1."""
    held: dict[uuid.UUID, list[int]] = {}
    for n, members in enumerate(parts):
        audience = Audience(name=f"activation {tag} {n}", status=AudienceStatus.PUBLISHED)
        session.add(audience)
        await session.flush()
        held[audience.id] = members
        session.add(AudienceVersion(audience_id=audience.id, version=1, size=len(members)))
        session.add_all(
            [AudienceMember(audience_id=audience.id, version=1, profile_id=p) for p in members]
        )
    return held


def _consents(i: int, ref: int) -> list[ConsentEvent]:
    def event(purpose: Purpose, status: ConsentStatus, days: int = 0) -> ConsentEvent:
        at = GRANTED_AT + timedelta(days=days)
        return ConsentEvent(customer_ref=ref, purpose=purpose, status=status, recorded_at=at)

    events = []
    if i % 5 != 0:
        events.append(event(Purpose.TARGETING_ONSITE, ConsentStatus.GRANTED))
    if i % 5 == 1:
        events.append(event(Purpose.TARGETING_ONSITE, ConsentStatus.WITHDRAWN, days=30))
    if i % 3 != 0:
        events.append(event(Purpose.TARGETING_OFFSITE, ConsentStatus.GRANTED))
    return events


def _treat_shopper_14(campaign: Campaign, ids: list[int]) -> None:
    """Redraw the split's salt until shopper 14 is treated. Erasure tests pick a treated
    shopper with both consents and two customer records (test_erasure_in_drop's
    ``reached_everywhere``); a shop has eight such shoppers, and about one salt in
    65,000 holds all of them out, which failed a CI run once."""
    if campaign.holdout_salt is None or len(ids) <= 14:
        return
    while HoldoutSplit(campaign.holdout_salt, campaign.holdout_share).in_holdout(ids[14]):
        campaign.holdout_salt = new_salt()


@dataclass(frozen=True)
class Flight:
    starts_on: date
    ends_on: date
    frequency_cap: int


PAST_FLIGHT = Flight(date(2026, 7, 1), date(2026, 7, 31), 3)


def campaign_row(
    partner_id: uuid.UUID,
    audience_ids: Sequence[uuid.UUID],
    channels: tuple[Channel, ...],
    status: CampaignStatus,
    flight: Flight | None = None,
) -> tuple[Campaign, list[CampaignAudience]]:
    """A campaign and its audience rows (version 1 of each pinned unless a draft); add the
    campaign first, then the rows."""
    approved = status != CampaignStatus.DRAFT
    flight = flight or PAST_FLIGHT
    campaign = Campaign(
        partner_id=partner_id,
        name=f"campaign {uuid.uuid4().hex[:6]}",
        channels=[c.value for c in channels],
        skus=[],
        starts_on=flight.starts_on,
        ends_on=flight.ends_on,
        budget=Decimal("10000.00"),
        currency="SEK",
        frequency_cap=flight.frequency_cap,
        holdout_share=Decimal("0.250"),
        post_click_days=14,
        post_view_days=7,
        status=status,
        holdout_salt=new_salt() if approved else None,
    )
    targets = [
        CampaignAudience(
            campaign_id=campaign.id,
            position=i,
            audience_id=audience_id,
            audience_version=1 if approved else None,
        )
        for i, audience_id in enumerate(audience_ids)
    ]
    return campaign, targets


async def withdraw(sessions: SessionFactory, customer_ref: int, purpose: Purpose) -> None:
    """A withdrawal recorded one second ago through the consent service, committed."""
    async with sessions() as session:
        customer = await session.get(Customer, customer_ref)
        assert customer is not None
        record = ConsentRecord(
            customer_id=customer.customer_id,
            purpose=purpose,
            status=ConsentStatus.WITHDRAWN,
            recorded_at=utcnow() - timedelta(seconds=1),
        )
        await ConsentService(session).record(record)
        await session.commit()


async def set_endpoint(sessions: SessionFactory, channel: Channel, url: str | None) -> None:
    """The channel's rate card row, pushing to ``url`` (None: the file drop)."""
    async with sessions() as session:
        row = await session.get(ChannelSettings, channel.value)
        if row is None:
            row = ChannelSettings(
                channel=channel.value,
                cpm=Decimal("5.00"),
                currency="SEK",
                weekly_capacity=10**9,
                max_per_profile_week=10,
            )
        row.endpoint_url = url
        session.add(row)
        await session.commit()


async def add_activation(sessions: SessionFactory, shop: Shop, channel: Channel) -> uuid.UUID:
    """A queued activation without a job (the test runs the export itself)."""
    async with sessions() as session:
        activation = Activation(campaign_id=shop.campaign.id, channel=channel.value)
        session.add(activation)
        await session.commit()
    return activation.id


async def rival(
    sessions: SessionFactory,
    shop: Shop,
    flight: Flight,
    *,
    channels: tuple[Channel, ...] = (Channel.ONSITE_DISPLAY,),
    status: CampaignStatus = CampaignStatus.APPROVED,
) -> Shop:
    """Another partner's campaign on the same audiences as ``shop``'s (the same shoppers,
    split into holdout by a key of its own), committed."""
    async with sessions() as session:
        partner = Partner(name=f"Rival {uuid.uuid4().hex[:8]}", kind=PartnerKind.MANUFACTURER)
        session.add(partner)
        await session.flush()
        campaign, targets = campaign_row(partner.id, list(shop.audiences), channels, status, flight)
        session.add(campaign)
        await session.flush()
        session.add_all(targets)
        await session.commit()
    return replace(shop, campaign=campaign)


async def set_limit(sessions: SessionFactory, channel: Channel, per_week: int) -> None:
    """The channel's contacts per shopper per week (its rate card row made if need be)."""
    await set_endpoint(sessions, channel, None)
    async with sessions() as session:
        row = await session.get(ChannelSettings, channel.value)
        assert row is not None
        row.max_per_profile_week = per_week
        await session.commit()
