"""Key chains merge two shoppers' records: the audience versions and seeds that held the
merged-away profile hold the person under the surviving id (membership.py
``follow_merges``), so a booked version still reaches them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.membership import MEMBERS, SEEDS
from endcap.audiences.models import Audience, AudienceKind, AudienceMember, AudienceSeed
from endcap.config import DatabaseSettings, Settings
from endcap.ingest.service import IngestService
from tests.support.retailer import load_tiny, profile_of


async def test_a_merge_moves_version_members_and_seeds_to_the_survivor_once(
    session: AsyncSession, database_settings: DatabaseSettings, tmp_path: Path
) -> None:
    settings = Settings()
    settings.database = database_settings
    shop = await load_tiny(session, settings, tmp_path)
    ann, bo = await profile_of(session, shop.id("c1")), await profile_of(session, shop.id("c3"))
    audience = Audience(name=f"merges {shop.tag}", kind=AudienceKind.LOOKALIKE, spec={})
    session.add(audience)
    await session.flush()
    session.add_all(
        [
            AudienceMember(
                audience_id=audience.id, version=1, profile_id=ann, purposes_at_refresh=1
            ),
            AudienceMember(
                audience_id=audience.id, version=1, profile_id=bo, purposes_at_refresh=2
            ),
            AudienceMember(
                audience_id=audience.id, version=2, profile_id=bo, purposes_at_refresh=2
            ),
            AudienceSeed(audience_id=audience.id, profile_id=bo),
        ]
    )
    await session.flush()

    # Bo gives Ann's e-mail: one person.
    link = tmp_path / "link.csv"
    link.write_text(
        f"customer_id,id_type,id_value\n{shop.id('c3')},email,ann.{shop.tag}@example.com\n",
        encoding="utf-8",
    )
    assert (await IngestService(session, settings).load("identifiers", link)).status == "loaded"
    survivor = await profile_of(session, shop.id("c3"))
    assert survivor == await profile_of(session, shop.id("c1"))
    gone = ({ann, bo} - {survivor}).pop()

    m = MEMBERS.c
    rows = await session.execute(
        select(m.version, m.profile_id, m.purposes_at_refresh)
        .where(m.audience_id == audience.id)
        .order_by(m.version)
    )
    bits = {ann: 1, bo: 2}
    # Version 1 held both records: one row now, the survivor's own.
    assert rows.all() == [(1, survivor, bits[survivor]), (2, survivor, 2)]
    seeds = await session.execute(
        select(SEEDS.c.profile_id).where(SEEDS.c.audience_id == audience.id)
    )
    assert seeds.scalars().all() == [survivor]
    for table in (MEMBERS, SEEDS):
        left = await session.execute(select(table.c.profile_id).where(table.c.profile_id == gone))
        assert left.all() == []
