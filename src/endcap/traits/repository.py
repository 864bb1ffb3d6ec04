"""The set-based SQL that computes traits from purchases, inside the database."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    MetaData,
    Numeric,
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    delete,
    distinct,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.sql import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.catalog.models import Brand, Manufacturer, Product
from endcap.config import BATCH_STATEMENT_MEMORY_MB
from endcap.db.base import table_of
from endcap.db.bulk import is_postgres
from endcap.db.parallel import parallel_plan, statement_memory
from endcap.db.types import UTCDateTime
from endcap.identity.models import Profile
from endcap.purchases.models import TransactionLine
from endcap.traits.full_spend import (
    PER_SKU_CENTS,
    key_ranks,
    per_sku_cents,
    ranked_roll_ups,
    sku_ranks,
)
from endcap.traits.models import (
    LEVELS,
    SPEND_WINDOWS,
    UNITS_WINDOWS,
    WINDOWS_WEEKS,
    ProfileSpend,
    ProfileTraits,
    TraitRefresh,
    ValueCluster,
)
from endcap.traits.spend_table import (
    KEYS,
    PER_SKU,
    SKU_KEYS,
    build_table,
    create_build_table,
    create_work_table,
    drop_work_tables,
    index_build_table,
    swap_in_build_table,
)
from endcap.traits.traits_table import (
    create_traits_build,
    index_traits_build,
    swap_in_traits_build,
    traits_build_table,
)

LINES = table_of(TransactionLine)
PRODUCTS = table_of(Product)
BRANDS = table_of(Brand)
MANUFACTURERS = table_of(Manufacturer)
PROFILES = table_of(Profile)
TRAITS = table_of(ProfileTraits)
SPEND = table_of(ProfileSpend)
REFRESHES = table_of(TraitRefresh)
# The summed columns of a spend row, in the order the roll-ups' sums come in.
WINDOW_COLUMNS = (*SPEND_WINDOWS, *UNITS_WINDOWS)


def _among(column: ColumnElement[Any], only: Table | None) -> list[ColumnElement[bool]]:
    """The filter to ``only``'s profiles, or none."""
    return [] if only is None else [column.in_(select(only.c.profile_id))]


def _since(as_of: datetime, weeks: int) -> datetime:
    return as_of - timedelta(weeks=weeks)


def _sum_since(value: ColumnElement[Any], as_of: datetime, weeks: int) -> ColumnElement[Any]:
    return func.coalesce(func.sum(value).filter(LINES.c.occurred_at > _since(as_of, weeks)), 0)


def _roll_ups(per_sku: Table, sums: list[ColumnElement[Any]]) -> dict[str, Select[Any]]:
    """Each catalog level's spend rows, from ``per_sku``'s; ``sums``: the
    :data:`WINDOW_COLUMNS` (window spends, then window units) over its rows. Columns
    are named as ``profile_spend``'s. (A full refresh on PostgreSQL uses
    :func:`endcap.traits.full_spend.ranked_roll_ups` instead.)"""
    p, b, m, s = PRODUCTS.c, BRANDS.c, MANUFACTURERS.c, per_sku.c
    # Only the maker's name needs the brand and maker rows: a product's brand and a
    # brand's maker are NOT NULL foreign keys (enforced on both databases), so those
    # inner joins can neither drop nor repeat a row, and the other levels skip them.
    # Brands are grouped by their integer id, cheaper to hash and sort than its text.
    products = per_sku.join(PRODUCTS, p.sku == s.sku)
    makers = products.join(BRANDS, b.id == p.brand_id).join(
        MANUFACTURERS, m.id == b.manufacturer_id
    )
    levels: dict[str, tuple[Any, ColumnElement[Any], ColumnElement[Any]]] = {
        "department": (products, p.department, p.department),
        "category": (products, p.category, p.category),
        "brand": (products, p.brand_id, cast(p.brand_id, String)),
        "manufacturer": (makers, m.name, m.name),
    }
    return {
        level: select(
            s.profile_id.label("profile_id"),
            literal(level, String).label("level"),
            key.label("key"),
            *(total.label(name) for total, name in zip(sums, WINDOW_COLUMNS, strict=True)),
            func.max(s.last_purchase_at).label("last_purchase_at"),
        )
        .select_from(source)
        .group_by(s.profile_id, grouped)
        for level, (source, grouped, key) in levels.items()
    }


class TraitsRepository:
    def __init__(
        self,
        session: AsyncSession,
        traits_table: Table = TRAITS,
        statement_memory_mb: int = BATCH_STATEMENT_MEMORY_MB,
    ) -> None:
        self.session = session
        # What one parallel statement of a full refresh may hold in PostgreSQL, across its
        # processes (db/parallel.py).
        self.statement_memory_mb = statement_memory_mb
        self.spend: Table = SPEND
        self.traits_table = traits_table

    async def latest_purchase(self) -> datetime | None:
        found = (
            await self.session.execute(select(func.max(LINES.c.occurred_at)))
        ).scalar_one_or_none()
        if found is None:
            return None
        return UTCDateTime().process_result_value(found, self.session.bind.dialect)

    async def rebuild_profile_traits(self, as_of: datetime, only: Table | None = None) -> int:
        """Recompute the traits of every profile, or of the profiles in ``only``."""
        t = LINES.c
        recent = t.occurred_at > _since(as_of, 52)
        spend = func.coalesce(func.sum(t.sales_value).filter(recent), 0)
        baskets = func.count(distinct(t.transaction_id)).filter(recent)
        all_baskets = func.count(distinct(t.transaction_id))
        online = func.coalesce(
            func.sum(t.sales_value).filter(and_(recent, t.channel == "online")), 0
        )
        promo = func.coalesce(func.sum(t.sales_value).filter(and_(recent, t.discount > 0)), 0)

        def share(part: ColumnElement[Any]) -> ColumnElement[Any]:
            return case((spend > 0, cast(part, Float) / cast(spend, Float)), else_=0.0)

        query = (
            select(
                t.profile_id,
                literal(as_of, UTCDateTime()),
                func.min(t.occurred_at),
                func.max(t.occurred_at),
                baskets,
                spend,
                func.coalesce(func.sum(t.quantity).filter(recent), 0),
                case((baskets > 0, spend / baskets), else_=0),
                all_baskets,
                func.sum(t.sales_value) / all_baskets,
                share(online),
                share(promo),
            )
            .where(t.profile_id.is_not(None), t.occurred_at <= as_of, *_among(t.profile_id, only))
            .group_by(t.profile_id)
        )
        columns = [
            "profile_id", "as_of", "first_purchase_at", "last_purchase_at", "baskets_52w",
            "spend_52w", "units_52w", "avg_basket_value", "baskets_total", "mean_basket_value",
            "online_share", "promo_share",
        ]  # fmt: skip
        if only is None and is_postgres(self.session):
            # A fresh table (traits_table.py); :meth:`publish_traits` swaps it in, and until then
            # :attr:`traits_table` names it.
            found = await create_traits_build(self.session, query, columns)
            self.traits_table = traits_build_table()
            return found
        await self.session.execute(delete(TRAITS).where(*_among(TRAITS.c.profile_id, only)))
        result = await self.session.execute(insert(TRAITS).from_select(columns, query))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def rebuild_spend(self, as_of: datetime, only: Table | None = None) -> dict[str, int]:
        """Purchases are summed per profile and SKU once (the big pass), then rolled up
        to each catalog level from that table; windows are filtered sums. With ``only``,
        just those profiles' rows are replaced. A full refresh on PostgreSQL writes a
        fresh table instead (spend_table.py); :meth:`publish_spend` swaps it in, and until
        then :attr:`spend` names the table with the new rows."""
        if only is None and is_postgres(self.session):
            await create_work_table(self.session, KEYS, key_ranks())
            await create_work_table(self.session, SKU_KEYS, sku_ranks())
            budget = self.statement_memory_mb
            # Per process: the partial aggregate's sort (spend_table.py says why parallel).
            async with (
                parallel_plan(self.session),
                statement_memory(self.session, budget, hashes=0, sorts=1),
            ):
                await create_work_table(self.session, PER_SKU, per_sku_cents(as_of))
            # Per process: one roll-up's hash aggregate, then the sort of its rows.
            async with statement_memory(self.session, budget, hashes=1, sorts=1):
                found = await create_build_table(self.session, ranked_roll_ups(PER_SKU_CENTS))
            self.spend = build_table()
            await drop_work_tables(self.session)
            await index_build_table(self.session, budget)
            return {level: found.get(level, 0) for level in LEVELS}
        await self.session.execute(delete(SPEND).where(*_among(SPEND.c.profile_id, only)))
        per_sku = await self._spend_per_sku(as_of, only)
        sums: list[ColumnElement[Any]] = [func.sum(per_sku.c[name]) for name in WINDOW_COLUMNS]
        counts = {}
        columns = ["profile_id", "level", "key", *WINDOW_COLUMNS, "last_purchase_at"]
        for level, rows in _roll_ups(per_sku, sums).items():
            # In the key's order, so the rows land on neighbouring index pages.
            ordered = rows.order_by(rows.selected_columns["key"], rows.selected_columns.profile_id)
            result = await self.session.execute(insert(SPEND).from_select(columns, ordered))
            counts[level] = int(result.rowcount or 0)  # type: ignore[attr-defined]
        connection = await self.session.connection()
        await connection.run_sync(per_sku.drop)
        return counts

    async def publish_spend(self) -> None:
        """Make the rebuilt spend rows the ones audiences read (a no-op unless built fresh)."""
        if self.spend is not SPEND:
            await swap_in_build_table(self.session)
            self.spend = SPEND

    async def drop_erased(self) -> int:
        """After a full refresh's spend swap, on PostgreSQL: hold erasures off until the
        commit, and drop the rows computed for shoppers erased while the refresh ran; how
        many shoppers.

        Those rows were read before the erasure committed. Kept, their spend rows would
        outlive the shopper, and their traits would fail the sample's and the build
        table's foreign keys, failing the whole refresh. The lock is the one that key's
        validation takes anyway. Taken after the live spend table was dropped it cannot
        deadlock with an erasure: one that has begun waits at that table, before it
        touches ``profiles`` (privacy/repository.py deletes spend rows first). A key-chain
        load, which writes profiles, waits for the whole refresh before it touches them
        (identity/resolution.py takes the traits lock first).

        An incremental refresh takes no such lock: it rewrites the rows of the profiles it
        recomputes, so an erasure of one of them waits on those rows for its commit, and
        deletes the shopper's spend rows again once the profile is gone (a new statement,
        which sees what the refresh wrote). Locking ``profiles`` there would deadlock with
        an erasure waiting on the profile row the refresh's traits insert holds."""
        if self.traits_table is TRAITS or not is_postgres(self.session):
            return 0
        await self.session.execute(text("LOCK TABLE profiles IN SHARE ROW EXCLUSIVE MODE"))
        t = self.traits_table.c
        gone = select(t.profile_id).where(~exists().where(PROFILES.c.id == t.profile_id))
        erased = [int(i) for i in (await self.session.execute(gone)).scalars()]
        for table in (self.spend, self.traits_table) if erased else ():
            await self.session.execute(delete(table).where(table.c.profile_id.in_(erased)))
        return len(erased)

    async def publish_traits(self) -> None:
        """Make the rebuilt traits rows the ones audiences read (a no-op unless built
        fresh). Last before the commit: the swap locks ``profiles`` (traits_table.py)."""
        if self.traits_table is not TRAITS:
            await index_traits_build(self.session)
            await swap_in_traits_build(self.session)
            self.traits_table = TRAITS

    async def _spend_per_sku(self, as_of: datetime, only: Table | None) -> Table:
        t = LINES.c
        per_sku = Table(
            "traits_spend_per_sku",  # temporary: this session's own, dropped after the roll-ups
            MetaData(),
            Column("profile_id", BigInteger, nullable=False),
            Column("sku", String(64), nullable=False),
            Column("spend_4w", Numeric(14, 2), nullable=False),
            Column("spend_13w", Numeric(14, 2), nullable=False),
            Column("spend_52w", Numeric(14, 2), nullable=False),
            Column("units_4w", Numeric(14, 3), nullable=False),
            Column("units_13w", Numeric(14, 3), nullable=False),
            Column("units_52w", Numeric(14, 3), nullable=False),
            Column("last_purchase_at", UTCDateTime(), nullable=False),
            prefixes=["TEMPORARY"],
        )
        connection = await self.session.connection()
        await connection.run_sync(per_sku.create)
        query = (
            select(
                t.profile_id,
                t.sku,
                _sum_since(t.sales_value, as_of, 4),
                _sum_since(t.sales_value, as_of, 13),
                _sum_since(t.sales_value, as_of, 52),
                _sum_since(t.quantity, as_of, 4),
                _sum_since(t.quantity, as_of, 13),
                _sum_since(t.quantity, as_of, 52),
                func.max(t.occurred_at),
            )
            .where(
                t.profile_id.is_not(None),
                t.occurred_at > _since(as_of, 52),
                t.occurred_at <= as_of,
                *_among(t.profile_id, only),
            )
            .group_by(t.profile_id, t.sku)
        )
        await self.session.execute(
            insert(per_sku).from_select([c.name for c in per_sku.columns], query)
        )
        if is_postgres(self.session):
            # Temporary tables are never auto-analysed: without row counts the roll-ups
            # plan for a few thousand groups and their hash aggregates spill to disk.
            await self.session.execute(text("ANALYZE traits_spend_per_sku"))
        return per_sku

    async def spend_of_profile(self, profile_id: int) -> list[ProfileSpend]:
        """One profile's spend rows, by level and key."""
        c = SPEND.c
        query = select(ProfileSpend).where(c.profile_id == profile_id).order_by(c.level, c.key)
        return list((await self.session.execute(query)).scalars().all())

    async def seller_categories(
        self, brand_ids: list[int], makers: list[str]
    ) -> list[tuple[str, str, str]]:
        """(level, spend key, category) for every category these brands (by id) and makers
        (by name) have products in: the keys their share of category requirements reads."""
        p, b, m = PRODUCTS.c, BRANDS.c, MANUFACTURERS.c
        found: list[tuple[str, str, str]] = []
        if brand_ids:
            query = select(p.brand_id, p.category).where(p.brand_id.in_(brand_ids)).distinct()
            found += [("brand", str(i), c) for i, c in (await self.session.execute(query)).all()]
        if makers:
            query = (
                select(m.name, p.category)
                .join(BRANDS, b.id == p.brand_id)
                .join(MANUFACTURERS, m.id == b.manufacturer_id)
                .where(m.name.in_(makers))
                .distinct()
            )
            found += [("manufacturer", n, c) for n, c in (await self.session.execute(query)).all()]
        return found

    async def brand_names(self, brand_ids: list[int]) -> dict[int, tuple[str, str]]:
        """Brand id → (brand name, maker name)."""
        if not brand_ids:
            return {}
        b, m = BRANDS.c, MANUFACTURERS.c
        query = (
            select(b.id, b.name, m.name)
            .join(MANUFACTURERS, m.id == b.manufacturer_id)
            .where(b.id.in_(brand_ids))
        )
        return {int(i): (n, maker) for i, n, maker in (await self.session.execute(query)).all()}

    async def rfm_inputs(self) -> list[Any]:
        """Per profile: baskets over all history, first and last purchase, mean basket value.

        The value models count repeat baskets, so a basket is one transaction id; the
        traits step has counted them (over all history up to ``as_of``).
        """
        c = self.traits_table.c
        query = select(
            c.profile_id, c.baskets_total, c.first_purchase_at, c.last_purchase_at,
            c.mean_basket_value,
        ).order_by(c.profile_id)  # fmt: skip
        return list((await self.session.execute(query)).all())

    def window_leavers(self, since: datetime, until: datetime) -> Select[Any]:
        """Profiles with a purchase leaving one of the rolling windows when ``as_of`` moves
        from ``since`` to ``until``: their window sums change though they bought nothing."""
        t = LINES.c
        crossed = [
            and_(t.occurred_at > _since(since, weeks), t.occurred_at <= _since(until, weeks))
            for weeks in WINDOWS_WEEKS
        ]
        return select(t.profile_id).where(t.profile_id.is_not(None), or_(*crossed)).distinct()

    async def stamp_as_of(self, as_of: datetime) -> None:
        """Every row is now correct as of ``as_of`` (incremental refresh)."""
        c = TRAITS.c
        await self.session.execute(update(TRAITS).where(c.as_of != as_of).values(as_of=as_of))

    async def profile_count(self) -> int:
        query = select(func.count()).select_from(self.traits_table)
        return int((await self.session.execute(query)).scalar_one())

    async def last_refresh(self) -> TraitRefresh | None:
        query = select(TraitRefresh).order_by(REFRESHES.c.finished_at.desc()).limit(1)
        return (await self.session.execute(query)).scalars().first()

    async def record_refresh(self, refresh: TraitRefresh) -> None:
        self.session.add(refresh)
        await self.session.flush()

    async def clustering_inputs(self) -> list[Any]:
        c = self.traits_table.c
        query = select(
            c.profile_id, c.spend_52w, c.baskets_52w, c.avg_basket_value, c.online_share,
            c.promo_share, c.clv_12m, c.p_alive,
        ).order_by(c.profile_id)  # fmt: skip
        return list((await self.session.execute(query)).all())


CLUSTERS = table_of(ValueCluster)


class ClusterRepository:
    def __init__(self, session: AsyncSession, traits_table: Table = TRAITS) -> None:
        self.session = session
        self.traits_table = traits_table  # the table holding this refresh's traits rows

    async def summaries(self) -> list[Any]:
        """Per cluster: size and mean value and behaviour traits."""
        c = self.traits_table.c
        query = (
            select(
                c.value_cluster,
                func.count(),
                func.avg(c.spend_52w),
                func.avg(c.baskets_52w),
                func.avg(func.coalesce(c.clv_12m, 0)),
                func.avg(c.online_share),
                func.avg(c.promo_share),
            )
            .where(c.value_cluster.is_not(None))
            .group_by(c.value_cluster)
            .order_by(c.value_cluster)
        )
        return list((await self.session.execute(query)).all())

    async def category_spend(self, spend: Table = SPEND) -> list[tuple[int, str, Decimal]]:
        """Per cluster and category: its shoppers' 52-week spend there (cluster_profiles.py
        ranks them)."""
        c, s = self.traits_table.c, spend.c
        query = (
            select(c.value_cluster, s.key, func.sum(s.spend_52w))
            .join(spend, and_(s.profile_id == c.profile_id, s.level == "category"))
            .where(c.value_cluster.is_not(None))
            .group_by(c.value_cluster, s.key)
        )
        rows = (await self.session.execute(query)).all()
        return [(int(cluster), str(key), Decimal(total or 0)) for cluster, key, total in rows]

    async def replace(self, rows: list[dict[str, Any]]) -> None:
        await self.session.execute(delete(CLUSTERS))
        if rows:
            await self.session.execute(insert(CLUSTERS), rows)

    async def all(self) -> list[ValueCluster]:
        result = await self.session.execute(select(ValueCluster).order_by(CLUSTERS.c.label))
        return list(result.scalars().all())
