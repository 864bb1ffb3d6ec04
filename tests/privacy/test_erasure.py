"""Erasure on the real database: the whole profile goes, from every table and total;
the tombstone holds no personal data; shared identifiers are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.activation.models import Activation, ActivationContact
from endcap.audiences.models import (
    Audience,
    AudienceKind,
    AudienceMember,
    AudienceSeed,
    AudienceVersion,
)
from endcap.config import DatabaseSettings, PrivacySettings, Settings
from endcap.consent.models import ProfileConsent, Purpose
from endcap.errors import ConflictError, NotFoundError
from endcap.identity.models import Customer, IdType, Profile, ProfileMerge
from endcap.identity.repository import IdentityRepository
from endcap.marketplace.models import CampaignStatus
from endcap.partners.models import Partner, PartnerKind
from endcap.privacy.channels import Channel
from endcap.privacy.erasure import ErasureService
from endcap.privacy.models import ErasureTombstone
from endcap.privacy.schemas import ErasureRequest
from tests.activation.data import campaign_row
from tests.support.retailer import TinyRetailer, load_tiny


@pytest.fixture
def settings(database_settings: DatabaseSettings) -> Settings:
    chosen = Settings()
    chosen.database = database_settings
    return chosen


async def _count(session: AsyncSession, sql: str, **params: object) -> int:
    return int((await session.execute(text(sql), params)).scalar_one())


async def test_erasing_by_email_removes_every_record_of_the_person(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    shop = await load_tiny(session, settings, tmp_path)
    people = {"a": shop.id("c1"), "b": shop.id("c2")}

    tombstone = await ErasureService(session, settings).erase(
        ErasureRequest(id_type=IdType.EMAIL, value=f"ANN.{shop.tag}@example.com"), requested_by=None
    )

    assert (tombstone.customers_removed, tombstone.identifiers_removed) == (2, 3)
    assert (tombstone.consent_events_removed, tombstone.transactions_affected) == (3, 2)
    where = "customer_id IN (:a, :b)"
    assert await _count(session, f"SELECT count(*) FROM customers WHERE {where}", **people) == 0  # noqa: S608
    assert await _count(session, f"SELECT count(*) FROM transactions WHERE {where}", **people) == 0  # noqa: S608
    # The purchases stay as anonymous lines (detach): sales totals are unchanged,
    # but no later per-shopper aggregate can count the person.
    total = await session.execute(
        text(
            "SELECT sum(sales_value), count(DISTINCT profile_id)"
            " FROM transactions WHERE transaction_id LIKE :t"
        ),
        {"t": f"{shop.tag}-%"},
    )
    sales, shoppers = total.one()
    assert float(sales) == 60.0
    assert shoppers == 1
    # The tombstone says what happened and holds nothing that points at the person.
    stored = (
        (await session.execute(select(ErasureTombstone).where(ErasureTombstone.id == tombstone.id)))
        .scalar_one()
        .model_dump()
    )
    flat = " ".join(str(v) for v in stored.values()).lower()
    assert shop.tag not in flat
    assert "ann" not in flat
    assert stored["requested_by_id_type"] == "email"


async def test_delete_policy_removes_the_purchases_too(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    shop = await load_tiny(session, settings, tmp_path)
    settings.privacy = PrivacySettings(erasure_transactions="delete")

    tombstone = await ErasureService(session, settings).erase(
        ErasureRequest(customer_id=shop.id("c3")), requested_by=None
    )

    assert tombstone.transactions_affected == 1
    assert tombstone.transactions_policy == "delete"
    remaining = await _count(
        session, "SELECT count(*) FROM transactions WHERE transaction_id = :t", t=shop.id("t3")
    )
    assert remaining == 0


async def consented_purposes(session: AsyncSession, profile: int) -> set[Purpose]:
    found = await session.execute(
        select(ProfileConsent.purpose).where(ProfileConsent.profile_id == profile)
    )
    return {Purpose(p) for p in found.scalars()}


REACH = {channel.value: 40 for channel in Channel}


async def _lookalike(session: AsyncSession, name: str) -> Audience:
    audience = Audience(name=name, kind=AudienceKind.LOOKALIKE, spec={})
    session.add(audience)
    await session.flush()
    return audience


async def _c3(session: AsyncSession, shop: TinyRetailer) -> int:
    return await _count(
        session, "SELECT profile_id FROM customers WHERE customer_id = :c", c=shop.id("c3")
    )


async def _erase_c3(session: AsyncSession, settings: Settings, shop: TinyRetailer) -> None:
    await ErasureService(session, settings).erase(
        ErasureRequest(customer_id=shop.id("c3")), requested_by=None
    )


async def _places(session: AsyncSession, profile: int) -> tuple[int, int]:
    """The audience-member and seed rows that name ``profile``."""
    members = "SELECT count(*) FROM audience_members WHERE profile_id = :p"
    seeds = "SELECT count(*) FROM audience_seeds WHERE profile_id = :p"
    return await _count(session, members, p=profile), await _count(session, seeds, p=profile)


async def test_an_erased_shopper_leaves_every_audience_version_and_seed(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    shop = await load_tiny(session, settings, tmp_path)
    profile = await _c3(session, shop)
    audience = await _lookalike(session, f"erasure {shop.tag}")
    reach = REACH
    session.add_all(
        [
            AudienceVersion(audience_id=audience.id, version=1, size=50, reach=reach),
            AudienceVersion(audience_id=audience.id, version=2, size=60, reach=reach),
            AudienceMember(audience_id=audience.id, version=1, profile_id=profile),
            AudienceMember(audience_id=audience.id, version=2, profile_id=profile),
            AudienceSeed(audience_id=audience.id, profile_id=profile),
        ]
    )
    await session.flush()
    await _erase_c3(session, settings, shop)

    assert await _places(session, profile) == (0, 0)
    # The counts each version was released with stay: they are what the catalog shows,
    # and one that moved by one at an erasure would tell brands of it. What approval
    # checks is counted live (test_approval_checks.py).
    for version, size in ((1, 50), (2, 60)):
        found = await session.get(AudienceVersion, (audience.id, version), populate_existing=True)
        assert found is not None
        assert (found.size, found.reach) == (size, reach)


async def test_an_erased_shopper_leaves_the_versions_that_hold_an_id_merged_away_since(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    """A version refreshed before a key-chain merge holds the id the shopper had then; the
    merge folded that profile into the one erased now. Its rows must go too."""
    shop = await load_tiny(session, settings, tmp_path)
    profile = await _c3(session, shop)
    old = await IdentityRepository(session).next_profile_id()  # a profile folded into it
    session.add(
        ProfileMerge(from_profile_id=old, into_profile_id=profile, kind="merge", customers_moved=1)
    )
    audience = await _lookalike(session, f"merged {shop.tag}")
    session.add_all(
        [
            AudienceVersion(audience_id=audience.id, version=1, size=50, reach=REACH),
            AudienceMember(audience_id=audience.id, version=1, profile_id=old),
            AudienceSeed(audience_id=audience.id, profile_id=old),
        ]
    )
    await session.flush()

    await _erase_c3(session, settings, shop)

    assert await _places(session, old) == (0, 0)
    merges = "SELECT count(*) FROM profile_merges WHERE from_profile_id = :p"
    assert await _count(session, merges, p=old) == 0


async def test_an_id_merged_away_and_given_to_a_new_shopper_is_not_erased_with_the_old(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    """Ids used to be reused (the highest plus one): a new shopper could hold the id the
    merge history names. Erasing the survivor must leave that shopper alone; and no id a
    merge names is handed out again."""
    shop = await load_tiny(session, settings, tmp_path)
    profile = await _c3(session, shop)
    identity = IdentityRepository(session)
    reused = await identity.next_profile_id()
    session.add(
        ProfileMerge(
            from_profile_id=reused, into_profile_id=profile, kind="merge", customers_moved=1
        )
    )
    await session.flush()
    assert await identity.next_profile_id() == reused + 1  # the merge history counts
    session.add(Profile(id=reused))  # as the old rule would have given it out
    await session.flush()
    session.add(Customer(customer_id=f"{shop.tag}-new", profile_id=reused))
    audience = await _lookalike(session, f"reused {shop.tag}")
    session.add_all(
        [
            AudienceVersion(audience_id=audience.id, version=1, size=50, reach=REACH),
            AudienceMember(audience_id=audience.id, version=1, profile_id=reused),
        ]
    )
    await session.flush()

    await _erase_c3(session, settings, shop)

    assert await _places(session, reused) == (1, 0)
    assert await _count(session, "SELECT count(*) FROM profiles WHERE id = :p", p=reused) == 1


async def test_an_erased_shopper_leaves_the_record_of_who_activations_reached(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    shop = await load_tiny(session, settings, tmp_path)
    of = "SELECT profile_id FROM customers WHERE customer_id = :c"
    profile = await _count(session, of, c=shop.id("c3"))
    other = await _count(session, of, c=shop.id("c1"))
    partner = Partner(name=f"erasure {shop.tag}", kind=PartnerKind.MANUFACTURER)
    session.add(partner)
    await session.flush()
    campaign, _ = campaign_row(partner.id, [], (Channel.EMAIL,), CampaignStatus.LIVE)
    session.add(campaign)
    await session.flush()
    sent = Activation(campaign_id=campaign.id, channel=Channel.EMAIL.value)
    session.add(sent)
    await session.flush()
    session.add_all(
        [ActivationContact(activation_id=sent.id, profile_id=p) for p in (profile, other)]
    )
    await session.flush()

    await ErasureService(session, settings).erase(
        ErasureRequest(customer_id=shop.id("c3")), requested_by=None
    )

    contacts = "SELECT count(*) FROM activation_contacts WHERE profile_id = :p"
    assert await _count(session, contacts, p=profile) == 0
    assert await _count(session, contacts, p=other) == 1  # everyone else's stay


async def test_a_shared_identifier_is_refused_and_nothing_is_erased(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    shop = await load_tiny(session, settings, tmp_path)
    before = await session.scalar(select(func.count()).select_from(text("customers")))

    with pytest.raises(ConflictError, match="shared by 8 customer records"):
        await ErasureService(session, settings).erase(
            ErasureRequest(id_type=IdType.LOYALTY_CARD, value=f"HOUSE-{shop.tag}"),
            requested_by=None,
        )

    assert await session.scalar(select(func.count()).select_from(text("customers"))) == before


async def test_nobody_matching_is_not_found(session: AsyncSession, settings: Settings) -> None:
    with pytest.raises(NotFoundError):
        await ErasureService(session, settings).erase(
            ErasureRequest(customer_id="nobody"), requested_by=None
        )
    with pytest.raises(NotFoundError):
        await ErasureService(session, settings).erase(
            ErasureRequest(id_type=IdType.EMAIL, value="nobody@example.com"), requested_by=None
        )


@pytest.mark.parametrize(
    "body",
    [{}, {"customer_id": "x", "id_type": "email", "value": "a@b.se"}, {"id_type": "email"}],
)
def test_request_names_the_shopper_exactly_one_way(body: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="either customer_id"):
        ErasureRequest.model_validate(body)
