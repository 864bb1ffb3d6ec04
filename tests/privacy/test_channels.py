"""Which consent purpose each channel needs, and which channels a set of purposes opens."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from endcap.consent.models import Purpose
from endcap.privacy.channels import (
    Channel,
    eligible_channels,
    required_purpose,
    required_purposes,
)


def test_the_retailers_own_surfaces_need_onsite_targeting_consent() -> None:
    assert required_purpose(Channel.ONSITE_DISPLAY) is Purpose.TARGETING_ONSITE
    assert required_purpose(Channel.INSTORE_SCREEN) is Purpose.TARGETING_ONSITE
    assert required_purpose(Channel.COUPON) is Purpose.TARGETING_ONSITE


def test_offsite_social_needs_offsite_consent_and_email_needs_email_consent() -> None:
    assert required_purpose(Channel.OFFSITE_SOCIAL) is Purpose.TARGETING_OFFSITE
    assert required_purpose(Channel.EMAIL) is Purpose.EMAIL


def test_every_channel_needs_a_purpose_and_none_needs_measurement() -> None:
    assert {required_purpose(channel) for channel in Channel} == {
        Purpose.TARGETING_ONSITE,
        Purpose.TARGETING_OFFSITE,
        Purpose.EMAIL,
    }


def test_channels_are_named_as_in_the_api() -> None:
    assert [channel.value for channel in Channel] == [
        "onsite_display",
        "offsite_social",
        "email",
        "instore_screen",
        "coupon",
    ]


def test_onsite_consent_alone_opens_display_screens_and_coupons() -> None:
    assert eligible_channels([Purpose.TARGETING_ONSITE]) == (
        Channel.ONSITE_DISPLAY,
        Channel.INSTORE_SCREEN,
        Channel.COUPON,
    )


def test_email_and_offsite_consent_open_exactly_those_two_channels() -> None:
    assert eligible_channels({Purpose.EMAIL, Purpose.TARGETING_OFFSITE}) == (
        Channel.OFFSITE_SOCIAL,
        Channel.EMAIL,
    )


def test_measurement_consent_or_none_opens_no_channel() -> None:
    assert eligible_channels([Purpose.MEASUREMENT]) == ()
    assert eligible_channels([]) == ()


def test_all_purposes_open_all_channels_in_a_stable_order() -> None:
    assert eligible_channels(reversed(list(Purpose))) == tuple(Channel)


def test_a_booking_on_email_and_coupons_needs_email_and_onsite_consent() -> None:
    assert required_purposes([Channel.EMAIL, Channel.COUPON]) == {
        Purpose.EMAIL,
        Purpose.TARGETING_ONSITE,
    }
    assert required_purposes([]) == frozenset()


@given(st.sets(st.sampled_from(Purpose)))
def test_a_channel_is_eligible_exactly_when_its_purpose_is_granted(
    granted: set[Purpose],
) -> None:
    open_channels = eligible_channels(granted)
    for channel in Channel:
        assert (channel in open_channels) == (required_purpose(channel) in granted)
    assert required_purposes(open_channels) <= granted
