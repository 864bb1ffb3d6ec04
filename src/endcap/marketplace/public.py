"""Campaigns as they go on the wire (the table model never does), and their ETag."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from endcap.marketplace.models import Campaign, CampaignAudience, CampaignLine
from endcap.marketplace.schemas import AudiencePin, CampaignLinePublic, CampaignPublic, Creative


def campaign_public(
    campaign: Campaign, audiences: Sequence[CampaignAudience], lines: Iterable[CampaignLine]
) -> CampaignPublic:
    """``audiences`` in the brand's order (each with its pinned version once booked)."""
    return CampaignPublic.model_validate(
        {
            **campaign.model_dump(exclude={"creative", "holdout_salt"}),
            "audience_ids": [a.audience_id for a in audiences],
            "audiences": [
                AudiencePin(id=a.audience_id, version=a.audience_version) for a in audiences
            ],
            "creative": Creative.model_validate(campaign.creative) if campaign.creative else None,
            "lines": [CampaignLinePublic.model_validate(x, from_attributes=True) for x in lines],
        }
    )
