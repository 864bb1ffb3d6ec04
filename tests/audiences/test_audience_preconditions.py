"""If-Match on an audience's publish, refresh and delete, over real HTTP: a stale ETag is a
412 naming the current one and changes nothing (no job is queued, the catalog is as it
was); the current one goes through and the answer carries the next; without one they work
as before. Two changes sent at once on the same ETag: exactly one wins. A refresh whose
rule was changed before its job ran fails, naming why. A retried refresh queues one job."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from endcap.audiences.schemas import AudiencePublic, AudienceUpdate
from endcap.audiences.service import AudienceService, RefreshAsked
from endcap.client import EndcapAPIError, EndcapClient
from endcap.concurrency import IfMatchTags
from endcap.config import DatabaseSettings
from endcap.db.engine import create_engine, create_session_factory
from endcap.errors import PreconditionFailedError
from endcap.jobs.models import Job
from endcap.jobs.schemas import JobPublic
from endcap.privacy.settings import PrivacyGateSettings
from tests.audiences.http import create_rule, refresh
from tests.support.server import ServerProcess

# Apart from every other test's audiences: each test deletes its own after it, so that a
# publication here never stands in the way of another test's.
OURS = {"value_tier": ["top", "high", "medium"]}
OTHER = {"value_tier": ["top", "high"]}


def _etag(revision: int) -> str:
    return f'"{revision}"'


def _refresh_jobs(admin: EndcapClient) -> list[dict[str, Any]]:
    page = admin.request("GET", "/api/v1/jobs", params={"kind": "audience_refresh", "limit": 500})
    body = page.json()
    assert body["next_cursor"] is None
    return list(body["items"])


def _in_catalog(brand: EndcapClient, audience_id: uuid.UUID) -> bool:
    return audience_id in {e.id for e in brand.audience_catalog()}


@pytest.fixture
def draft(admin: EndcapClient, retailer: dict[str, Any]) -> Iterator[AudiencePublic]:
    """A refreshed draft (revision 2), deleted after the test."""
    audience = refresh(admin, create_rule(admin, OURS).id)
    assert audience.revision == 2  # created, then refreshed: each is a revision
    yield audience
    with contextlib.suppress(EndcapAPIError):  # deleted already by the test
        admin.delete_audience(audience.id)


def test_a_stale_etag_is_412_naming_the_current_one_and_changes_nothing(
    admin: EndcapClient, brand: EndcapClient, draft: AudiencePublic
) -> None:
    assert draft.current is not None
    stale = draft.revision
    current = admin.update_audience(draft.id, stale, description="read by someone else").revision
    assert current == stale + 1
    jobs_before = _refresh_jobs(admin)

    calls = {
        "publish": lambda: admin.publish_audience(draft.id, revision=stale),
        "refresh": lambda: admin.refresh_audience(draft.id, revision=stale),
        "delete": lambda: admin.delete_audience(draft.id, revision=stale),
    }
    for name, call in calls.items():
        with pytest.raises(EndcapAPIError) as refused:
            call()
        assert refused.value.status == 412, name
        assert refused.value.type == "urn:endcap:problem:precondition-failed", name
        assert refused.value.problem["current_etag"] == _etag(current), name

    after = admin.audience(draft.id)
    assert after.current is not None
    assert (after.status, after.revision) == ("draft", current)
    assert after.current.version == draft.current.version  # not refreshed
    assert _refresh_jobs(admin) == jobs_before  # no job queued
    assert not _in_catalog(brand, draft.id)  # not published


def test_the_current_etag_goes_through_and_each_answer_carries_the_next(
    admin: EndcapClient,
    brand: EndcapClient,
    draft: AudiencePublic,
    server: ServerProcess,
    admin_key: str,
) -> None:
    assert draft.current is not None
    url = f"{server.base_url}/api/v1/audiences/{draft.id}"
    auth = {"Authorization": f"Bearer {admin_key}"}

    published = httpx.post(f"{url}/publish", headers={**auth, "If-Match": _etag(draft.revision)})
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    assert published.headers["etag"] == _etag(draft.revision + 1)
    assert _in_catalog(brand, draft.id)

    # Deleting on the ETag read before the publication: refused, still in the catalog.
    stale = httpx.delete(url, headers={**auth, "If-Match": _etag(draft.revision)})
    assert stale.status_code == 412
    assert stale.json()["current_etag"] == _etag(draft.revision + 1)
    assert _in_catalog(brand, draft.id)

    queued = httpx.post(f"{url}/refresh", headers={**auth, "If-Match": published.headers["etag"]})
    assert queued.status_code == 202, queued.text
    assert "etag" not in queued.headers  # the answer is a job; the audience's next is below
    done = admin.wait(uuid.UUID(queued.json()["id"]))
    assert done.status == "succeeded", done.error
    assert done.result is not None
    refreshed = AudiencePublic.model_validate(done.result["audience"])
    assert refreshed.revision == draft.revision + 2
    assert refreshed.current is not None
    assert refreshed.current.version == draft.current.version + 1
    read = httpx.get(url, headers=auth)
    assert read.headers["etag"] == _etag(refreshed.revision)

    deleted = httpx.delete(url, headers={**auth, "If-Match": read.headers["etag"]})
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["status"] == "deleted"
    assert deleted.headers["etag"] == _etag(draft.revision + 3)
    assert not _in_catalog(brand, draft.id)


def test_without_if_match_publish_refresh_and_delete_work_as_before(
    admin: EndcapClient, brand: EndcapClient, draft: AudiencePublic
) -> None:
    assert draft.current is not None
    published = admin.publish_audience(draft.id)
    assert (published.status, published.revision) == ("published", draft.revision + 1)
    done = admin.wait(admin.refresh_audience(draft.id).id)
    assert done.status == "succeeded", done.error
    deleted = admin.delete_audience(draft.id)
    assert (deleted.status, deleted.revision) == ("deleted", draft.revision + 3)
    assert deleted.current is not None
    assert deleted.current.version == draft.current.version + 1
    assert not _in_catalog(brand, draft.id)


@pytest.mark.postgres
async def test_publications_and_deletions_sent_at_once_on_one_etag_only_one_wins(
    admin: EndcapClient, draft: AudiencePublic, server: ServerProcess, admin_key: str
) -> None:
    url = f"/api/v1/audiences/{draft.id}"
    seen = {"If-Match": _etag(draft.revision)}
    async with httpx.AsyncClient(
        base_url=server.base_url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60
    ) as http:
        answers = await asyncio.gather(
            *(http.post(f"{url}/publish", headers=seen) for _ in range(4)),
            *(http.delete(url, headers=seen) for _ in range(4)),
        )

    codes = [a.status_code for a in answers]
    assert codes.count(200) == 1, codes
    winner = next(a for a in answers if a.status_code == 200).json()
    assert winner["revision"] == draft.revision + 1
    for lost in (a for a in answers if a.status_code != 200):
        if lost.status_code == 412:  # it saw the winner's change
            assert lost.json()["current_etag"] == _etag(draft.revision + 1)
        else:  # the winner deleted it
            assert (lost.status_code, winner["status"]) == (409, "deleted"), lost.text
    if winner["status"] == "published":
        after = admin.audience(draft.id)
        assert (after.status, after.revision) == ("published", draft.revision + 1)


def _until_running(admin: EndcapClient, job_id: uuid.UUID, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while admin.job(job_id).status == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("change", "fails"),
    [({"rule": OTHER}, True), ({"description": "renamed", "cpm": "3.00"}, False)],
    ids=["rule-changed", "name-and-price-changed"],
)
async def test_a_refresh_fails_naming_why_when_its_rule_changed_before_it_ran(
    admin: EndcapClient,
    draft: AudiencePublic,
    shop_database: str,
    change: dict[str, Any],
    fails: bool,
) -> None:
    # The change holds the audience uncommitted while the refresh is asked (and checked
    # against what is committed: the ETag is current) and while its job starts; the job
    # can only go on once the change is committed, so it runs after it, every time.
    assert draft.current is not None
    engine = create_engine(DatabaseSettings(url=shop_database))
    try:
        async with create_session_factory(engine)() as editing:
            service = AudienceService(editing, PrivacyGateSettings())
            await service.update(
                draft.id,
                AudienceUpdate.model_validate(change),
                if_match=IfMatchTags.exactly(draft.revision),
            )
            job = await asyncio.to_thread(admin.refresh_audience, draft.id, revision=draft.revision)
            await asyncio.to_thread(_until_running, admin, job.id)
            await editing.commit()
    finally:
        await engine.dispose()
    done: JobPublic = await asyncio.to_thread(admin.wait, job.id)

    after = admin.audience(draft.id)
    assert after.current is not None
    if fails:
        assert done.status == "failed"
        assert done.error is not None
        assert "rule was changed after this refresh was asked" in done.error
        assert f"at revision {draft.revision};" in done.error
        assert after.rule == OTHER
        assert after.current.version == draft.current.version  # nothing refreshed
        assert after.revision == draft.revision + 1  # the rule change only
    else:  # what the members are computed from did not change: the refresh goes ahead
        assert done.status == "succeeded", done.error
        assert after.current.version == draft.current.version + 1
        assert after.revision == draft.revision + 2


async def test_a_refresh_asked_before_a_rule_change_computes_nothing_after_it(
    admin: EndcapClient, draft: AudiencePublic, shop_database: str
) -> None:
    # What the job carries is read as the queued request saw it; the job itself is never
    # committed, so the server's worker cannot run it first.
    assert draft.current is not None
    engine = create_engine(DatabaseSettings(url=shop_database))
    sessions = create_session_factory(engine)
    try:
        async with sessions() as asking:
            queued = await AudienceService(asking, PrivacyGateSettings()).queue_refresh(
                draft.id, if_match=IfMatchTags.exactly(draft.revision), requested_by=None
            )
            job = await asking.get(Job, queued.id)
            assert job is not None
            asked = RefreshAsked.from_params(job.params)
            await asking.rollback()
        await asyncio.to_thread(admin.update_audience, draft.id, draft.revision, rule=OTHER)
        async with sessions() as running:
            with pytest.raises(PreconditionFailedError) as refused:
                await AudienceService(running, PrivacyGateSettings()).refresh(draft.id, asked)
    finally:
        await engine.dispose()

    assert f"at revision {draft.revision}; it is at revision {draft.revision + 1} now" in (
        refused.value.detail
    )
    after = admin.audience(draft.id)
    assert after.current is not None
    assert after.current.version == draft.current.version


def test_a_retried_refresh_answers_the_first_job_and_queues_one(
    admin: EndcapClient, draft: AudiencePublic
) -> None:
    assert draft.current is not None
    before = len(_refresh_jobs(admin))
    key = uuid.uuid4().hex

    first = admin.refresh_audience(draft.id, idempotency_key=key)
    again = admin.refresh_audience(draft.id, idempotency_key=key)
    assert again.id == first.id
    assert admin.wait(first.id).status == "succeeded"
    later = admin.refresh_audience(draft.id, idempotency_key=key)  # after it ran: still it
    assert later.id == first.id

    assert len(_refresh_jobs(admin)) == before + 1
    after = admin.audience(draft.id)
    assert after.current is not None
    assert after.current.version == draft.current.version + 1  # refreshed once
    # The same key on another precondition is another request.
    with pytest.raises(EndcapAPIError) as reused:
        admin.refresh_audience(draft.id, idempotency_key=key, revision=after.revision)
    assert reused.value.status == 409
    assert reused.value.type == "urn:endcap:problem:idempotency-key-reused"
