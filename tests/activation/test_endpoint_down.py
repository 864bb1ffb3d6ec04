"""A channel endpoint that is down, over real HTTP with the server's own worker: nothing
listens on its port, or it takes the file and never answers within the push timeout.
Either way the push is tried ``attempts`` times, then the job and the activation fail
with an error naming the endpoint, and nothing counts as delivered: no destination, no
exported count, no contact recorded against the shoppers' weekly limit."""

from __future__ import annotations

import time
import uuid

from sqlmodel import col, func, select

from endcap.activation.models import ActivationContact
from endcap.client import EndcapClient
from endcap.db.engine import SessionFactory
from endcap.privacy.channels import Channel
from tests.activation.conftest import ATTEMPTS, TIMEOUT
from tests.activation.data import build_shop, set_endpoint
from tests.activation.receiver import ChannelReceiver
from tests.activation.test_routes import enqueue
from tests.support.server import free_port


async def contacts(sessions: SessionFactory, activation_id: uuid.UUID) -> int:
    async with sessions() as session:
        query = select(func.count()).where(col(ActivationContact.activation_id) == activation_id)
        return int((await session.exec(query)).one())


async def export_to(
    sessions: SessionFactory, admin: EndcapClient, endpoint_url: str, channel: Channel
) -> tuple[dict[str, object], dict[str, object], str | None]:
    """Queue a campaign's export to ``endpoint_url`` and wait for its job: (the queued
    activation, the activation as read afterwards, the job's error)."""
    shop = await build_shop(sessions, shoppers=40, channels=(channel,))
    await set_endpoint(sessions, channel, endpoint_url)
    [queued] = enqueue(admin, shop.campaign.id)
    job = admin.wait(uuid.UUID(str(queued["job_id"])), timeout=120)
    assert job.status == "failed", job
    read = admin.request("GET", f"/api/v1/activations/{queued['id']}").json()
    return queued, read, job.error


def assert_nothing_delivered(read: dict[str, object], job_error: str | None, reason: str) -> None:
    assert job_error is not None
    assert job_error.startswith(reason), job_error
    assert read["status"] == "failed"
    assert read["error"] == job_error
    assert read["attempts"] == ATTEMPTS
    assert (read["exported"], read["match_keys"], read["destination"]) == (None, None, None)
    assert read["finished_at"] is not None


async def test_an_endpoint_nobody_listens_on_is_retried_then_fails_visibly(
    sessions: SessionFactory, admin: EndcapClient
) -> None:
    closed = f"http://127.0.0.1:{free_port()}/ingest"  # bound a moment ago, now closed

    queued, read, error = await export_to(sessions, admin, closed, Channel.ONSITE_DISPLAY)

    assert_nothing_delivered(
        read,
        error,
        f"channel endpoint {closed} could not be reached (ConnectError) on {ATTEMPTS} attempts;"
        " nothing delivered",
    )
    assert await contacts(sessions, uuid.UUID(str(queued["id"]))) == 0


async def test_an_endpoint_slower_than_the_timeout_is_retried_then_fails_visibly(
    sessions: SessionFactory, admin: EndcapClient, receiver: ChannelReceiver
) -> None:
    receiver.hold()  # it reads each file, then answers nothing for far longer than TIMEOUT
    started = time.monotonic()

    queued, read, error = await export_to(sessions, admin, receiver.url, Channel.COUPON)

    took = time.monotonic() - started
    assert_nothing_delivered(
        read,
        error,
        f"channel endpoint {receiver.url} could not be reached (ReadTimeout) on {ATTEMPTS}"
        " attempts; nothing delivered",
    )
    # Every attempt carried the whole file and waited out the timeout before the next.
    requests = receiver.requests
    assert len(requests) == ATTEMPTS
    assert len({r.body for r in requests}) == 1
    assert requests[0].body.startswith(b"profile_id\n")
    assert {r.headers["x-endcap-activation"] for r in requests} == {str(queued["id"])}
    assert took >= ATTEMPTS * TIMEOUT
    assert await contacts(sessions, uuid.UUID(str(queued["id"]))) == 0
