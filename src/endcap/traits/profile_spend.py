"""One profile's spend and units per department, category, brand and maker, as the
retailer's admin reads them, with each brand's and maker's share of category
requirements over the categories a ``share_of_category`` rule reads (shown as a float;
rules compare it exactly)."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.db.types import storable_id
from endcap.errors import NotFoundError
from endcap.traits.models import WINDOWS_WEEKS, ProfileSpend, ProfileTraits
from endcap.traits.repository import TraitsRepository
from endcap.traits.schemas import ProfileSpendPublic, ShareOfCategory, SpendLevel

SELLER_LEVELS: Final = ("brand", "manufacturer")  # the levels with a share of category


async def spend_of_profile(
    session: AsyncSession, profile_id: int, level: SpendLevel | None = None
) -> list[ProfileSpendPublic]:
    """The profile's spend rows (all levels, or ``level``'s). Shares are per brand id here;
    a rule on a brand name sums the brands of that name."""
    if not storable_id(profile_id) or await session.get(ProfileTraits, profile_id) is None:
        raise NotFoundError(
            f"no traits for profile {profile_id} (no purchases, or not refreshed yet)"
        )
    traits = TraitsRepository(session)
    rows = await traits.spend_of_profile(profile_id)
    brand_ids = [int(r.key) for r in rows if r.level == "brand"]
    makers = [r.key for r in rows if r.level == "manufacturer"]
    sells_in: dict[tuple[str, str], set[str]] = {}
    for seller, key, category in await traits.seller_categories(brand_ids, makers):
        sells_in.setdefault((seller, key), set()).add(category)
    categories = {r.key: r for r in rows if r.level == "category"}
    names = await traits.brand_names(brand_ids)
    shown = []
    for row in rows:
        if level is not None and row.level != level:
            continue
        share = None
        if row.level in SELLER_LEVELS:
            where = sells_in.get((row.level, row.key), set())
            share = _shares(row, [categories[c] for c in sorted(where) if c in categories])
        name, maker = row.key, None
        if row.level == "brand":
            name, maker = names.get(int(row.key), (row.key, None))
        fields = row.model_dump(exclude={"profile_id"})
        shown.append(
            ProfileSpendPublic(**fields, name=name, manufacturer=maker, share_of_category=share)
        )
    return shown


def _shares(seller: ProfileSpend, categories: list[ProfileSpend]) -> ShareOfCategory:
    """Spend on the seller over spend in its categories, per window; no share without
    spend in those categories."""
    shares: dict[str, float | None] = {}
    for weeks in WINDOWS_WEEKS:
        window = f"spend_{weeks}w"
        total = sum((getattr(c, window) for c in categories), Decimal(0))
        shares[f"w{weeks}"] = float(getattr(seller, window)) / float(total) if total > 0 else None
    return ShareOfCategory(**shares)
