"""Sizing a rule before it is saved: validate, resolve, check, compile, count."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.compile import compile_rule, uses_days
from endcap.audiences.references import ensure_rule_not_sensitive, resolve_targets
from endcap.audiences.repository import AudienceRepository
from endcap.audiences.rules import parse_rule
from endcap.db.types import utcnow
from endcap.privacy.sensitive import SensitiveCategories


async def members_query(
    session: AsyncSession,
    rule: object,
    *,
    sensitive: SensitiveCategories,
    pointer: str = "",
    as_of: datetime | None = None,
) -> Select[Any]:
    """The select of the ids of the profiles ``rule`` (decoded JSON) selects.

    ``pointer`` is where the rule sits in the request (e.g. ``/rule``), for errors.
    ``as_of`` is what ``recency_days`` and ``tenure_days`` count up to; by default
    the newest traits' ``as_of``, read only when the rule counts days.

    Raises :class:`~endcap.errors.InvalidRequestError` (422) for a malformed rule or an
    unknown catalog name, and :class:`~endcap.privacy.sensitive.SensitiveCategoryError`
    (422) for a rule on a sensitive department or category; each error points at the
    offending part of the rule.
    """
    parsed = parse_rule(rule, pointer=pointer)
    repository = AudienceRepository(session)
    targets = await resolve_targets(repository, parsed)
    ensure_rule_not_sensitive(targets, sensitive)
    if as_of is None and uses_days(parsed):
        # Without traits the universe is empty, and any moment gives the same nothing.
        as_of = await repository.latest_as_of() or utcnow()
    return compile_rule(parsed, targets, as_of=as_of)


async def estimate_size(
    session: AsyncSession,
    rule: object,
    *,
    sensitive: SensitiveCategories,
    pointer: str = "",
    as_of: datetime | None = None,
) -> int:
    """How many profiles ``rule`` selects now: exact, for the retailer's own screens.

    Brand-facing sizes must go through :func:`endcap.privacy.sizes.round_count`
    first. Arguments and errors as :func:`members_query`.
    """
    members = await members_query(session, rule, sensitive=sensitive, pointer=pointer, as_of=as_of)
    return await AudienceRepository(session).count(members)
