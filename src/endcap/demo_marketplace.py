"""The demo's marketplace: a rate card for every channel, and the demo partner owning one
of the demo catalog's manufacturers, so a brand can book straight away."""

from __future__ import annotations

import uuid
from decimal import Decimal

from endcap.auth.principal import Principal
from endcap.auth.roles import Role
from endcap.catalog.service import CatalogService
from endcap.config import Settings
from endcap.db.session import standalone_session
from endcap.marketplace.channels import ChannelService
from endcap.marketplace.schemas import ChannelSettingsIn
from endcap.partners.schemas import ManufacturerLink
from endcap.partners.service import PartnerService
from endcap.privacy.channels import Channel
from endcap.privacy.sensitive import CatalogReference, ReferenceKind, SensitiveCategories

# (CPM in SEK, impressions per ISO week, contacts per shopper per week): list prices a
# mid-sized grocer might start from; every one can be changed with PUT /channels/{channel}.
DEMO_RATE_CARDS = {
    Channel.ONSITE_DISPLAY: (Decimal("40.00"), 5_000_000, 7),
    Channel.OFFSITE_SOCIAL: (Decimal("55.00"), 2_000_000, 5),
    Channel.EMAIL: (Decimal("25.00"), 200_000, 2),
    Channel.INSTORE_SCREEN: (Decimal("30.00"), 1_000_000, 7),
    Channel.COUPON: (Decimal("15.00"), 100_000, 1),
}


async def open_marketplace(settings: Settings, partner_id: uuid.UUID) -> str | None:
    """Price every channel and give the demo partner a manufacturer; returns its name."""
    async with standalone_session(settings.database) as session:
        channels = ChannelService(session, settings.marketplace.currency)
        for channel, (cpm, weekly, per_profile) in DEMO_RATE_CARDS.items():
            await channels.configure(
                channel,
                ChannelSettingsIn(
                    cpm=cpm,
                    currency=settings.marketplace.currency,
                    weekly_capacity=weekly,
                    max_per_profile_week=per_profile,
                ),
            )
        sensitive = SensitiveCategories.from_settings(settings.privacy_gate)
        page = await CatalogService(session).products(cursor=None, limit=500)
        makers = sorted(
            p.manufacturer
            for p in page.items
            if not p.private_label
            and not sensitive.matches(
                CatalogReference(
                    pointer="",
                    kind=ReferenceKind.PRODUCT,
                    name=p.sku,
                    departments=frozenset({p.department}),
                    categories=frozenset({p.category}),
                )
            )
        )
        if not makers:
            return None
        await PartnerService(session).link_manufacturer(
            _admin(), partner_id, ManufacturerLink(manufacturer=makers[0])
        )
        return makers[0]


def _admin() -> Principal:
    # The demo sets itself up as the retailer would, with no API key behind it.
    return Principal(key_id=uuid.UUID(int=0), role=Role.RETAILER_ADMIN, partner_id=None)
