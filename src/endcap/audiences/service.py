"""Audience rules: validate and size a rule, keep audiences, refresh their members as
versions, and publish them to the brand-facing catalog through the privacy gate."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.catalog import catalog_entry
from endcap.audiences.estimate import Estimate, estimate_rule, members_query
from endcap.audiences.membership import MembershipRepository
from endcap.audiences.modelled import ModelledAudiences
from endcap.audiences.models import Audience, AudienceKind, AudienceStatus, AudienceVersion
from endcap.audiences.release_check import ReleaseCheck, Shown
from endcap.audiences.schemas import (
    AudienceCreate,
    AudiencePublic,
    AudienceUpdate,
    AudienceVersionPublic,
)
from endcap.audiences.sensitivity import sensitive_uses
from endcap.audiences.shown_consent import ANY_PURPOSE, PURPOSE_BITS
from endcap.concurrency import IfMatchTags, check_if_match, etag
from endcap.config import DEFAULT_CURRENCY
from endcap.consent.models import Purpose
from endcap.db.types import utcnow
from endcap.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PreconditionFailedError,
)
from endcap.jobs.schemas import JobPublic
from endcap.jobs.service import JobService
from endcap.money import retailer_priced
from endcap.pagination import Page, PageRequest, next_cursor
from endcap.privacy.channels import CHANNEL_PURPOSE
from endcap.privacy.sensitive import SensitiveCategories, SensitiveMatch
from endcap.privacy.settings import PrivacyGateSettings
from endcap.privacy.sizes import ensure_minimum_size

REFRESH_JOB = "audience_refresh"
# The steps a refresh reports its progress in (AudienceService.refresh).
REFRESH_STEPS = 4


@dataclass(frozen=True, slots=True)
class RefreshAsked:
    """What a queued refresh was asked to compute: the audience's revision and a digest of
    its definition (kind, rule and model request) when the refresh was asked."""

    revision: int
    definition: str

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> RefreshAsked | None:
        """None for a job queued before refreshes recorded this (it is not checked)."""
        revision, definition = params.get("revision"), params.get("definition")
        if isinstance(revision, int) and isinstance(definition, str):
            return cls(revision, definition)
        return None


class AudienceService:
    def __init__(
        self, session: AsyncSession, gate: PrivacyGateSettings, currency: str = DEFAULT_CURRENCY
    ) -> None:
        self.session = session
        self.currency = currency  # the retailer's: every price is in it
        self.audiences = MembershipRepository(session)
        self.gate = gate
        self.release_check = ReleaseCheck(self.audiences, gate.k_threshold, gate.min_audience)
        self.sensitive = SensitiveCategories.from_settings(gate)
        self.modelled = ModelledAudiences(session, self.sensitive)

    async def member_ids(self, audience_id: uuid.UUID, version: int) -> np.ndarray:
        """The members of one version, sorted (retailer-side: holdout sizes, exports)."""
        return await self.audiences.member_ids(audience_id, version)

    async def version_size(self, audience_id: uuid.UUID, version: int) -> int | None:
        """Members of one membership version now, erased shoppers gone (None if there is
        no such version). Its ``size`` stays as counted at the refresh: that is what the
        catalog shows, and a number brands see must not move by one erasure."""
        if await self.audiences.version(audience_id, version) is None:
            return None
        return await self.audiences.count(audience_id, version)

    async def consented_reach(self, audience_id: uuid.UUID, version: int, purpose: Purpose) -> int:
        """Members of the version holding ``purpose`` consent right now."""
        return await self.audiences.reach(audience_id, version, purpose)

    async def sensitive_uses(
        self, audience_id: uuid.UUID, version: int | None
    ) -> list[SensitiveMatch]:
        """What the audience (deleted ones too) and the model behind ``version`` target on
        that the sensitive list holds now (sensitivity.py); NotFoundError for an unknown id,
        InvalidRequestError when its rule or target no longer resolves in the catalog."""
        audience = await self.audiences.get(audience_id)
        if audience is None:
            raise NotFoundError(f"no audience with id {audience_id}")
        pinned = await self.audiences.version(audience_id, version) if version else None
        return await sensitive_uses(self.session, audience, pinned, self.sensitive)

    async def estimate(self, rule: dict[str, Any], *, exact: bool = False) -> Estimate:
        """Size of a rule now (retailer-side), from the sample unless ``exact``. Errors
        point into ``/rule``."""
        return await estimate_rule(
            self.session, rule, sensitive=self.sensitive, pointer="/rule", exact=exact
        )

    async def create(self, data: AudienceCreate) -> AudiencePublic:
        """Check the rule or model request in full (a lookalike's seed is matched now)."""
        audience = Audience(
            name=data.name,
            description=data.description,
            kind=data.kind,
            cpm=data.cpm,
            currency=retailer_priced(data.currency, self.currency, "/currency"),
        )
        seed = None
        if data.rule is not None:
            await members_query(self.session, data.rule, sensitive=self.sensitive, pointer="/rule")
            audience.rule = data.rule
        elif data.propensity is not None:
            await self.modelled.check_propensity(data.propensity, pointer="/propensity")
            audience.spec = data.propensity.model_dump(mode="json", exclude_none=True)
        elif data.lookalike is not None:
            seed = await self.modelled.check_lookalike(data.lookalike, pointer="/lookalike")
            audience.spec = {
                "reach": data.lookalike.reach,
                "features": [f.model_dump() for f in data.lookalike.features]
                if data.lookalike.features
                else None,
                "seed": seed.summary(),  # the counts only: the submitted ids are not kept
            }
        await self._name_free(data.name)
        try:
            audience = await self.audiences.add(audience)
        except IntegrityError as exc:
            raise ConflictError(f"an audience named {data.name!r} already exists") from exc
        if seed is not None:
            await self.modelled.store_seed(audience.id, seed)
        return await self._public(audience)

    async def get(self, audience_id: uuid.UUID) -> AudiencePublic:
        """The audience, a deleted one too (its status says so: campaigns may have pinned
        its versions); NotFoundError for an unknown id."""
        audience = await self.audiences.get(audience_id)
        if audience is None:
            raise NotFoundError(f"no audience with id {audience_id}")
        return await self._public(audience)

    async def list(self, page: PageRequest, status: AudienceStatus | None) -> Page[AudiencePublic]:
        rows, cursor = next_cursor(await self.audiences.list_page(page, status), page)
        return Page[AudiencePublic](items=[await self._public(a) for a in rows], next_cursor=cursor)

    async def update(
        self, audience_id: uuid.UUID, data: AudienceUpdate, *, if_match: IfMatchTags | None
    ) -> AudiencePublic:
        """PreconditionFailedError (412) unless ``if_match`` is the current revision. A
        request that changes nothing answers the audience as it is, at the same revision,
        so that the ETags other clients hold stay current; ``cpm`` null clears the price."""
        audience = await self._live(audience_id, for_update=True)
        check_if_match(audience.revision, if_match, required=True, what="audience")
        changed = False
        if data.rule is not None:
            if audience.kind != AudienceKind.RULE:
                message = f"a {audience.kind} audience has no rule; create a new audience instead"
                raise InvalidRequestError(message, errors=[{"field": "/rule", "message": message}])
            if data.rule != audience.rule:
                await members_query(
                    self.session, data.rule, sensitive=self.sensitive, pointer="/rule"
                )
                audience.rule, changed = data.rule, True
        if data.name is not None and data.name != audience.name:
            await self._name_free(data.name)
            audience.name, changed = data.name, True
        if data.description is not None and data.description != audience.description:
            audience.description, changed = data.description, True
        if "cpm" in data.model_fields_set and data.cpm != audience.cpm:
            audience.cpm, changed = data.cpm, True
        currency = data.currency and retailer_priced(data.currency, self.currency, "/currency")
        if currency and currency != audience.currency:
            audience.currency, changed = currency, True
        return await self._changed(audience) if changed else await self._public(audience)

    async def queue_refresh(
        self,
        audience_id: uuid.UUID,
        *,
        if_match: IfMatchTags | None,
        requested_by: uuid.UUID | None,
    ) -> JobPublic:
        """Queue a refresh (the "audience_refresh" job). NotFoundError, ConflictError for a
        deleted audience and PreconditionFailedError for a stale ``if_match`` now, not later
        in the job. The job carries the definition it was asked for: it fails, naming why,
        if the rule was changed before it ran (see :meth:`refresh`)."""
        audience = await self._live(audience_id)
        check_if_match(audience.revision, if_match, required=False, what="audience")
        params = {
            "audience_id": str(audience.id),
            "revision": audience.revision,
            "definition": _definition(audience),
        }
        return await JobService(self.session).enqueue(REFRESH_JOB, params, requested_by)

    async def refresh(
        self,
        audience_id: uuid.UUID,
        asked: RefreshAsked | None = None,
        progress: Callable[[int, int], None] = lambda done, total: None,
    ) -> AudiencePublic:
        """Compute a new member version from the rule and the current traits and consent;
        a new revision. PreconditionFailedError when ``asked`` (what the queued request
        saw) holds another rule or model request than the audience has, or when it is
        changed while the refresh runs: the members would be another rule's.

        A model is fitted before the audience is locked, so that a change of its name or
        price need not wait for the fit; the rule query runs under the lock. ``progress``
        hears of each of the REFRESH_STEPS as it is done: fitted (or nothing to fit),
        members stored, reach counted, checked and stored as the current version.
        """
        audience = await self._live(audience_id)
        computed = _definition(audience)
        since = asked.revision if asked is not None else audience.revision
        if asked is not None and asked.definition != computed:
            raise _rule_changed(since, audience.revision)
        modelled = (
            None if audience.kind == AudienceKind.RULE else await self.modelled.members(audience)
        )
        progress(1, REFRESH_STEPS)
        audience = await self._live(audience_id, for_update=True)
        if _definition(audience) != computed:  # changed while this ran
            raise _rule_changed(since, audience.revision)
        version = (audience.current_version or 0) + 1
        report = None
        if modelled is None:
            members = await members_query(
                self.session,
                audience.rule,
                sensitive=self.sensitive,
                pointer="/rule",
                requested=False,
            )
            size = await self.audiences.store_members(audience.id, version, members)
        else:
            size = await self.audiences.store_member_ids(audience.id, version, modelled.profile_ids)
            report = modelled.report
        progress(2, REFRESH_STEPS)
        # From the consent each member held as it was stored: the sets the difference
        # check compares are the ones behind these numbers (shown_consent.py).
        held = await self.audiences.shown_counts(audience.id, version)
        reach = {
            channel.value: held[PURPOSE_BITS[purpose]]
            for channel, purpose in CHANNEL_PURPOSE.items()
        }
        consented_size = held[ANY_PURPOSE]
        progress(3, REFRESH_STEPS)
        if audience.status == AudienceStatus.PUBLISHED:
            # Brands see the new version as soon as it is current: it passes the same
            # check as a publication, or the refresh fails and the catalog keeps the old.
            await self.release_check.ensure_apart(
                audience.id,
                version,
                computed,
                f"version {version} of this published audience (the catalog keeps version"
                f" {audience.current_version})",
                Shown(size, reach, consented_size),
            )
        published = audience.status == AudienceStatus.PUBLISHED
        await self.audiences.add_version(
            AudienceVersion(
                audience_id=audience.id,
                version=version,
                size=size,
                consented_size=consented_size,
                reach=reach,
                report=report,
                definition=computed,
                released_at=utcnow() if published else None,  # brands see it from the commit
            )
        )
        audience.current_version = version
        refreshed = await self._changed(audience)
        progress(REFRESH_STEPS, REFRESH_STEPS)
        return refreshed

    async def publish(
        self, audience_id: uuid.UUID, *, if_match: IfMatchTags | None = None
    ) -> AudiencePublic:
        """Into the brand catalog, if a channel reaches the minimum and no published
        audience differs from it by fewer than k shoppers. PreconditionFailedError when
        ``if_match`` is given and stale."""
        audience = await self._live(audience_id, for_update=True)
        check_if_match(audience.revision, if_match, required=False, what="audience")
        if audience.status == AudienceStatus.PUBLISHED:
            # Its current version was checked and released when it became current: nothing
            # changes, so the revision (every client's ETag) stays.
            return await self._public(audience)
        current = None
        if audience.current_version is not None:
            current = await self.audiences.version(audience.id, audience.current_version)
        if audience.current_version is None or current is None:
            raise ConflictError("refresh the audience before publishing it")
        ensure_minimum_size(max(current.reach.values(), default=0), minimum=self.gate.min_audience)
        await self.release_check.ensure_apart(
            audience.id,
            audience.current_version,
            current.definition,
            "this audience",
            Shown(current.size, current.reach, current.consented_size),
        )
        audience.status = AudienceStatus.PUBLISHED
        await self.audiences.release(audience.id, audience.current_version)
        return await self._changed(audience)

    async def delete(
        self, audience_id: uuid.UUID, *, if_match: IfMatchTags | None = None
    ) -> AudiencePublic:
        """Out of the catalog for good; member versions stay for bookings that pinned them.
        PreconditionFailedError when ``if_match`` is given and stale."""
        audience = await self._live(audience_id, for_update=True)
        check_if_match(audience.revision, if_match, required=False, what="audience")
        audience.status = AudienceStatus.DELETED
        return await self._changed(audience)

    async def _changed(self, audience: Audience) -> AudiencePublic:
        """Store a visible change as a new revision (the next ETag)."""
        audience.revision += 1
        audience.updated_at = utcnow()
        await self.audiences.add(audience)
        return await self._public(audience)

    async def _live(self, audience_id: uuid.UUID, *, for_update: bool = False) -> Audience:
        """The audience unless unknown (404) or deleted (409); ``for_update`` locks it for
        a change (MembershipRepository.get_for_update)."""
        audience = await (
            self.audiences.get_for_update(audience_id)
            if for_update
            else self.audiences.get(audience_id)
        )
        if audience is None:
            raise NotFoundError(f"no audience with id {audience_id}")
        if audience.status == AudienceStatus.DELETED:
            raise ConflictError(
                "the audience is deleted", audience_status=AudienceStatus.DELETED.value
            )
        return audience

    async def _name_free(self, name: str) -> None:
        if await self.audiences.by_name(name) is not None:
            raise ConflictError(f"an audience named {name!r} already exists")

    async def _public(self, audience: Audience) -> AudiencePublic:
        current, in_catalog = None, False
        if audience.current_version is not None:
            version = await self.audiences.version(audience.id, audience.current_version)
            if version is not None:
                current = AudienceVersionPublic.model_validate(version, from_attributes=True)
                in_catalog = (
                    audience.status == AudienceStatus.PUBLISHED
                    and catalog_entry(audience, version, self.gate) is not None
                )
        return AudiencePublic(
            id=audience.id,
            name=audience.name,
            description=audience.description,
            kind=AudienceKind(audience.kind),
            rule=audience.rule,
            spec=audience.spec,
            cpm=audience.cpm,
            currency=audience.currency,
            status=AudienceStatus(audience.status),
            revision=audience.revision,
            current=current,
            in_catalog=in_catalog,
            created_at=audience.created_at,
            updated_at=audience.updated_at,
        )


def _rule_changed(asked_at: int, now: int) -> PreconditionFailedError:
    return PreconditionFailedError(
        f"the audience's rule was changed after this refresh was asked (at revision"
        f" {asked_at}; it is at revision {now} now), so nothing was refreshed: read it and"
        " refresh it again",
        current_etag=etag(now),
    )


def _definition(audience: Audience) -> str:
    """A digest of what decides an audience's members: its kind, rule and model request
    (not its name, price or status)."""
    what = {"kind": str(audience.kind), "rule": audience.rule, "spec": audience.spec}
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()
