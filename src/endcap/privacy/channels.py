"""Delivery channels and the consent purpose each one needs.

A profile counts toward a channel's reach, and is exported to it, only if it has
granted that channel's purpose. The mapping is fixed policy, not a setting: it
is what the consent texts shoppers agreed to say. ``measurement`` is needed by
no channel; it governs whether a profile may be counted in reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType

from endcap.consent.models import Purpose


class Channel(StrEnum):
    ONSITE_DISPLAY = "onsite_display"
    OFFSITE_SOCIAL = "offsite_social"
    EMAIL = "email"
    INSTORE_SCREEN = "instore_screen"
    COUPON = "coupon"


# Everything shown on the retailer's own surfaces (web shop, app, store screens,
# personalised coupons) is on-site targeting; only matching on a platform's
# identifiers leaves the retailer, and e-mail has its own opt-in by law.
CHANNEL_PURPOSE: Mapping[Channel, Purpose] = MappingProxyType(
    {
        Channel.ONSITE_DISPLAY: Purpose.TARGETING_ONSITE,
        Channel.OFFSITE_SOCIAL: Purpose.TARGETING_OFFSITE,
        Channel.EMAIL: Purpose.EMAIL,
        Channel.INSTORE_SCREEN: Purpose.TARGETING_ONSITE,
        Channel.COUPON: Purpose.TARGETING_ONSITE,
    }
)


def required_purpose(channel: Channel) -> Purpose:
    """The consent purpose a profile must hold to be reached through ``channel``."""
    return CHANNEL_PURPOSE[channel]


def required_purposes(channels: Iterable[Channel]) -> frozenset[Purpose]:
    """Every purpose needed to serve all of ``channels`` (each channel counts its own reach)."""
    return frozenset(CHANNEL_PURPOSE[channel] for channel in channels)


def eligible_channels(granted: Iterable[Purpose]) -> tuple[Channel, ...]:
    """The channels open to a profile (or audience) holding ``granted``, in ``Channel`` order.

    For an audience, pass the purposes some of its members hold: a channel is
    eligible when it can reach anyone, and its reach counts only those members.
    """
    held = frozenset(granted)
    return tuple(channel for channel in Channel if CHANNEL_PURPOSE[channel] in held)
