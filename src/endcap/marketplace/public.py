"""Campaigns as they go on the wire (the table model never does), and their ETag."""

from __future__ import annotations

from collections.abc import Iterable

from endcap.marketplace.models import Campaign, CampaignLine
from endcap.marketplace.schemas import CampaignLinePublic, CampaignPublic, Creative


def campaign_public(campaign: Campaign, lines: Iterable[CampaignLine]) -> CampaignPublic:
    return CampaignPublic.model_validate(
        {
            **campaign.model_dump(exclude={"creative", "holdout_salt"}),
            "creative": Creative.model_validate(campaign.creative) if campaign.creative else None,
            "lines": [CampaignLinePublic.model_validate(x, from_attributes=True) for x in lines],
        }
    )
