"""Pushing a file to a channel's endpoint: signed, retried on 5xx, failed visibly."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from endcap.activation.delivery import DeliveryFailedError
from endcap.activation.models import ActivationStatus
from endcap.config import ActivationSettings, Settings
from endcap.consent.models import Purpose
from endcap.db.engine import SessionFactory
from endcap.privacy.channels import Channel
from tests.activation.conftest import ATTEMPTS, SECRET
from tests.activation.data import add_activation, build_shop, set_endpoint
from tests.activation.receiver import ChannelReceiver
from tests.activation.run import activation, export


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a channel does, following the scheme in endcap.activation.delivery."""
    message = f"{headers['x-endcap-timestamp']}.{hashlib.sha256(body).hexdigest()}".encode()
    expected = "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["x-endcap-signature"])


async def test_a_push_is_signed_and_carries_the_treatment_file(
    sessions: SessionFactory, settings: Settings, receiver: ChannelReceiver
) -> None:
    shop = await build_shop(sessions)
    await set_endpoint(sessions, Channel.ONSITE_DISPLAY, receiver.url)
    activation_id = await add_activation(sessions, shop, Channel.ONSITE_DISPLAY)

    await export(sessions, settings, activation_id)

    done = await activation(sessions, activation_id)
    [request] = receiver.requests
    expected = [p for p in shop.treated() if p in shop.consented[Purpose.TARGETING_ONSITE]]
    assert request.body.decode() == "profile_id\n" + "".join(f"{p}\n" for p in expected)
    assert request.headers["content-type"] == "text/csv"
    assert verify(SECRET, request.headers, request.body)
    assert not verify("another secret", request.headers, request.body)
    assert not verify(SECRET, request.headers, request.body + b"1\n")
    assert request.headers["x-endcap-activation"] == str(activation_id)
    assert request.headers["x-endcap-campaign"] == str(shop.campaign.id)
    assert request.headers["x-endcap-channel"] == "onsite_display"
    assert (done.status, done.method, done.destination) == ("delivered", "push", receiver.url)
    assert (done.attempts, done.exported) == (1, len(expected))


async def test_two_failures_then_success_is_delivered_on_the_third_attempt(
    sessions: SessionFactory, settings: Settings, receiver: ChannelReceiver
) -> None:
    receiver.behaviour.fail_first = 2
    shop = await build_shop(sessions, channels=(Channel.OFFSITE_SOCIAL,))
    await set_endpoint(sessions, Channel.OFFSITE_SOCIAL, receiver.url)
    activation_id = await add_activation(sessions, shop, Channel.OFFSITE_SOCIAL)

    await export(sessions, settings, activation_id)

    done = await activation(sessions, activation_id)
    requests = receiver.requests
    assert (done.status, done.attempts) == (ActivationStatus.DELIVERED, 3)
    assert len(requests) == 3
    assert len({r.body for r in requests}) == 1  # the same file each time
    assert {r.headers["x-endcap-activation"] for r in requests} == {str(activation_id)}
    assert all(verify(SECRET, r.headers, r.body) for r in requests)
    assert done.match_keys == requests[0].body.count(b"\n") - 1


async def test_an_endpoint_that_always_fails_fails_the_activation(
    sessions: SessionFactory, settings: Settings, receiver: ChannelReceiver
) -> None:
    receiver.behaviour.always_fail = True
    shop = await build_shop(sessions, channels=(Channel.ONSITE_DISPLAY,))
    await set_endpoint(sessions, Channel.ONSITE_DISPLAY, receiver.url)
    activation_id = await add_activation(sessions, shop, Channel.ONSITE_DISPLAY)

    with pytest.raises(DeliveryFailedError, match=f"answered 503 on {ATTEMPTS} attempts"):
        await export(sessions, settings, activation_id)

    done = await activation(sessions, activation_id)
    assert len(receiver.requests) == ATTEMPTS
    assert done.status == ActivationStatus.FAILED
    assert done.error == (
        f"channel endpoint {receiver.url} answered 503 on {ATTEMPTS} attempts; nothing delivered"
    )
    assert (done.attempts, done.exported, done.match_keys, done.destination) == (
        ATTEMPTS,
        None,
        None,
        None,
    )
    assert done.members == 245
    assert done.finished_at is not None


async def test_a_4xx_answer_is_not_retried(
    sessions: SessionFactory, settings: Settings, receiver: ChannelReceiver
) -> None:
    receiver.behaviour.always_fail = True
    receiver.behaviour.fail_status = 400
    shop = await build_shop(sessions, shoppers=20, channels=(Channel.ONSITE_DISPLAY,))
    await set_endpoint(sessions, Channel.ONSITE_DISPLAY, receiver.url)
    activation_id = await add_activation(sessions, shop, Channel.ONSITE_DISPLAY)

    with pytest.raises(DeliveryFailedError, match="answered 400 \\(not retried\\)"):
        await export(sessions, settings, activation_id)

    done = await activation(sessions, activation_id)
    assert (len(receiver.requests), done.attempts, done.status) == (1, 1, "failed")


async def test_no_push_without_a_signing_secret(
    sessions: SessionFactory, settings: Settings, receiver: ChannelReceiver
) -> None:
    settings.activation = ActivationSettings(
        drop_dir=settings.activation.drop_dir, signing_secret=""
    )
    shop = await build_shop(sessions, shoppers=20, channels=(Channel.ONSITE_DISPLAY,))
    await set_endpoint(sessions, Channel.ONSITE_DISPLAY, receiver.url)
    activation_id = await add_activation(sessions, shop, Channel.ONSITE_DISPLAY)

    with pytest.raises(DeliveryFailedError, match="no signing secret"):
        await export(sessions, settings, activation_id)

    done = await activation(sessions, activation_id)
    assert receiver.requests == []
    assert (done.status, done.attempts, done.exported) == ("failed", 0, None)
    assert done.error is not None
    assert done.error.startswith("no signing secret is set")
