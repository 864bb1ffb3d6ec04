"""A traits refresh on the real database, on purchases whose traits are known by hand."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import false, func, inspect, literal, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.config import DatabaseSettings, Settings
from endcap.identity.repository import IdentityRepository
from endcap.ingest.service import IngestService
from endcap.traits.models import ProfileSpend, ProfileTraits
from endcap.traits.service import RefreshMode, TraitsService
from endcap.traits.spend_table import (
    PER_SKU,
    SPEND,
    WORK_TABLES,
    build_columns,
    create_build_table,
    create_work_table,
)

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)


@pytest.fixture
def settings(database_settings: DatabaseSettings) -> Settings:
    chosen = Settings()
    chosen.database = database_settings
    return chosen


def _files(folder: Path, tag: str) -> dict[str, Path]:
    bodies = {
        "products": (
            "sku,name,brand,manufacturer,category,department\n"
            f"{tag}-milk,Milk,Dairyland,Dairy Co {tag},Milk,Dairy\n"
            f"{tag}-oat,Oat drink,Oatly,Oat Co {tag},Plant drinks,Dairy\n"
            f"{tag}-bread,Bread,Bageri,Bake Co {tag},Bread,Bakery\n"
        ),
        "customers": f"customer_id\n{tag}-a\n{tag}-b\n",
        # a: three baskets, 1, 10 and 40 weeks before AS_OF; b: one basket 39 weeks back
        "transactions": (
            "transaction_id,line_no,occurred_at,sku,quantity,sales_value,customer_id,channel,discount\n"
            f"{tag}-t1,1,2026-05-25T10:00:00Z,{tag}-milk,2,20.00,{tag}-a,store,0\n"
            f"{tag}-t1,2,2026-05-25T10:00:00Z,{tag}-bread,1,30.00,{tag}-a,store,5\n"
            f"{tag}-t2,1,2026-03-23T10:00:00Z,{tag}-oat,1,25.00,{tag}-a,online,0\n"
            f"{tag}-t3,1,2025-08-25T10:00:00Z,{tag}-milk,1,25.00,{tag}-a,store,0\n"
            f"{tag}-t4,1,2025-09-01T10:00:00Z,{tag}-bread,1,40.00,{tag}-b,store,0\n"
            f"{tag}-t5,1,2026-06-01T00:00:00Z,{tag}-bread,1,1.00,,store,0\n"
        ),
    }
    paths = {}
    for entity, body in bodies.items():
        paths[entity] = folder / f"{entity}.csv"
        paths[entity].write_text(body, encoding="utf-8")
    return paths


async def _load_shop(session: AsyncSession, settings: Settings, folder: Path, prefix: str) -> str:
    """Load the hand-made shop as the only purchases (the session rolls back); its tag."""
    await session.execute(text("DELETE FROM transactions"))
    tag = prefix + folder.name[-6:].replace("_", "")
    files = _files(folder, tag)
    ingest = IngestService(session, settings)
    for entity in ("products", "customers", "transactions"):
        assert (await ingest.load(entity, files[entity])).status == "loaded"
    return tag


async def test_refresh_computes_rfm_mix_and_windowed_spend(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    tag = await _load_shop(session, settings, tmp_path, "tr")

    report = await TraitsService(session).refresh(as_of=AS_OF, mode=RefreshMode.FULL)

    assert report.profiles == 2
    identity = IdentityRepository(session)
    a = (await identity.customer(f"{tag}-a")).profile_id  # type: ignore[union-attr]
    b = (await identity.customer(f"{tag}-b")).profile_id  # type: ignore[union-attr]
    traits = {t.profile_id: t for t in (await session.execute(select(ProfileTraits))).scalars()}
    ta = traits[a]
    assert ta.baskets_52w == 3
    assert ta.spend_52w == Decimal("100.00")
    assert ta.avg_basket_value == pytest.approx(Decimal("33.33"), abs=Decimal("0.01"))
    assert ta.online_share == pytest.approx(0.25)
    assert ta.promo_share == pytest.approx(0.30)  # the bread line carried a discount
    assert ta.last_purchase_at == datetime(2026, 5, 25, 10, tzinfo=UTC)
    assert traits[b].baskets_52w == 1
    assert traits[b].spend_52w == Decimal("40.00")

    spend = {
        (s.profile_id, s.level, s.key): s
        for s in (await session.execute(select(ProfileSpend))).scalars()
    }
    dairy = spend[(a, "department", "Dairy")]
    assert (dairy.spend_4w, dairy.spend_13w, dairy.spend_52w) == (
        Decimal("20.00"),
        Decimal("45.00"),
        Decimal("70.00"),
    )
    # Units as spend: a bought 2 of milk a week back and 1 forty weeks back, and 1 oat
    # drink ten weeks back (Dairy).
    assert (dairy.units_4w, dairy.units_13w, dairy.units_52w) == (
        Decimal("2.000"),
        Decimal("3.000"),
        Decimal("4.000"),
    )
    milk = spend[(a, "category", "Milk")]
    assert (milk.spend_4w, milk.spend_52w, milk.units_4w, milk.units_13w, milk.units_52w) == (
        Decimal("20.00"),
        Decimal("45.00"),
        Decimal("2.000"),
        Decimal("2.000"),
        Decimal("3.000"),
    )
    assert spend[(a, "manufacturer", f"Oat Co {tag}")].spend_13w == Decimal("25.00")
    assert (b, "category", "Milk") not in spend
    # Anonymous lines count for nobody.
    assert {s[0] for s in spend} == {a, b}


@pytest.mark.postgres
async def test_a_full_refresh_swaps_in_spend_with_the_migrated_names(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    """On PostgreSQL the spend rows go into a fresh table that replaces the old one: the
    replacement must carry the names and indexes the migrations gave, or the next
    migration would not find them."""
    await _load_shop(session, settings, tmp_path, "sw")

    report = await TraitsService(session).refresh(as_of=AS_OF, mode=RefreshMode.FULL)

    # a bought milk, oat drink and bread (2 departments, 3 categories, brands and makers);
    # b bought bread (1 of each): 11 + 4 rows.
    assert report.spend_rows == {"department": 3, "category": 4, "brand": 4, "manufacturer": 4}
    connection = await session.connection()

    def shape(sync: Any) -> tuple[Any, list[Any], list[str]]:
        found = inspect(sync)
        return (
            found.get_pk_constraint("profile_spend"),
            found.get_indexes("profile_spend"),
            found.get_table_names(),
        )

    pk, indexes, tables = await connection.run_sync(shape)
    assert pk["name"] == "pk_profile_spend"
    assert pk["constrained_columns"] == ["level", "key", "profile_id"]
    assert [(i["name"], i["column_names"]) for i in indexes] == [
        ("ix_profile_spend_profile_id", ["profile_id"])
    ]
    assert "profile_spend_build" not in tables
    # The unlogged per-SKU sums and key ranks are dropped.
    assert not set(WORK_TABLES) & set(tables)
    # The swapped-in key still carries the window spends and units (index-only audience
    # conditions).
    key = await session.execute(
        text("SELECT indexdef FROM pg_indexes WHERE indexname = 'pk_profile_spend'")
    )
    assert key.scalar_one().endswith(
        "INCLUDE (spend_4w, spend_13w, spend_52w, units_4w, units_13w, units_52w)"
    )
    rows = await session.execute(text("SELECT count(*) FROM profile_spend"))
    assert rows.scalar_one() == sum(report.spend_rows.values())


# profile_traits as the catalog describes it: columns in order (type, NOT NULL),
# constraints and indexes with their definitions.
_TRAITS_SHAPE = (
    "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute"
    " WHERE attrelid = 'profile_traits'::regclass AND attnum > 0 AND NOT attisdropped"
    " ORDER BY attnum",
    "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
    " WHERE conrelid = 'profile_traits'::regclass ORDER BY conname",
    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'profile_traits'"
    " ORDER BY indexname",
)


async def _traits_shape(session: AsyncSession) -> list[list[tuple[Any, ...]]]:
    return [
        [tuple(row) for row in (await session.execute(text(query))).all()]
        for query in _TRAITS_SHAPE
    ]


@pytest.mark.postgres
async def test_a_full_refresh_swaps_in_traits_as_the_migrations_made_them(
    session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    """On PostgreSQL the traits rows go into a fresh table too (traits_table.py): the one
    swapped in must be the migrated table (column order, types, NOT NULLs, the primary
    key, the foreign key to profiles with ON DELETE CASCADE, the seven indexes, by
    name), and erasing a profile must still take its traits with it."""
    migrated = await _traits_shape(session)
    tag = await _load_shop(session, settings, tmp_path, "ts")

    report = await TraitsService(session).refresh(as_of=AS_OF, mode=RefreshMode.FULL)

    assert report.profiles == 2
    assert await _traits_shape(session) == migrated
    constraints = dict(migrated[1])
    assert constraints["fk_profile_traits_profile_id_profiles"] == (
        "FOREIGN KEY (profile_id) REFERENCES profiles(id) ON DELETE CASCADE"
    )
    assert constraints["pk_profile_traits"] == "PRIMARY KEY (profile_id)"
    assert len(migrated[2]) == 8  # the primary key's and seven others
    left = await session.execute(
        text("SELECT count(*) FROM pg_class WHERE relname = 'profile_traits_build'")
    )
    assert left.scalar_one() == 0
    a = (await IdentityRepository(session).customer(f"{tag}-a")).profile_id  # type: ignore[union-attr]
    await session.execute(text("DELETE FROM customers WHERE profile_id = :id"), {"id": a})
    await session.execute(text("DELETE FROM profiles WHERE id = :id"), {"id": a})
    kept = await session.execute(text("SELECT profile_id FROM profile_traits"))
    assert len(kept.scalars().all()) == 1
    gone = await session.execute(
        text("SELECT count(*) FROM profile_traits WHERE profile_id = :id"), {"id": a}
    )
    assert gone.scalar_one() == 0


@pytest.mark.postgres
async def test_a_refresh_killed_mid_build_leaves_nothing_in_the_next_ones_way(
    engine: AsyncEngine, session: AsyncSession, settings: Settings, tmp_path: Path
) -> None:
    """The per-SKU sums and the build table are ordinary tables with fixed names (so two
    full refreshes at once collide): a refresh whose server process dies after creating
    them must not leave them behind to make every later refresh fail."""
    async with engine.connect() as doomed:
        await doomed.begin()
        dying = AsyncSession(bind=doomed)
        backend = (await dying.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        await create_work_table(dying, PER_SKU, select(literal(1).label("profile_id")))
        no_rows = select(*(literal(None).label(c.name) for c in SPEND.columns)).where(false())
        await create_build_table(dying, build_columns(no_rows))
        killed = await session.execute(select(func.pg_terminate_backend(backend)))
        assert killed.scalar_one() is True
        with contextlib.suppress(Exception):  # its connection is gone
            await dying.close()
            await doomed.close()
    await _load_shop(session, settings, tmp_path, "kl")

    report = await TraitsService(session).refresh(as_of=AS_OF, mode=RefreshMode.FULL)

    assert sum(report.spend_rows.values()) == 15
    left = await session.execute(
        text(
            "SELECT count(*) FROM pg_class"
            " WHERE relname IN ('traits_spend_per_sku', 'profile_spend_build')"
        )
    )
    assert left.scalar_one() == 0


@pytest.mark.postgres
async def test_bigint_total_sums_exactly_or_fails(session: AsyncSession) -> None:
    """The full refresh sums whole cents with bigint_total (migration 0021): exact past
    a double's 2^53, NULLs skipped as by sum, and an error past the bigint range rather
    than a wrapped total."""
    found = await session.execute(
        text(
            "SELECT bigint_total(x), bigint_total(x) FILTER (WHERE x > 5)"
            " FROM (VALUES (1::bigint), (NULL), (9007199254740993)) v(x)"
        )
    )
    assert tuple(found.one()) == (9007199254740994, 9007199254740993)
    with pytest.raises(DBAPIError, match="bigint out of range"):
        async with session.begin_nested():
            await session.execute(
                text("SELECT bigint_total(x) FROM (VALUES (9223372036854775807), (1)) v(x)")
            )
