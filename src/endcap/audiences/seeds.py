"""Seed lists for lookalikes: matched to profiles through the key chains, then kept as profiles.

A seed arrives as the retailer's customer ids (a CRM extract) or as SHA-256
hex of normalised e-mail addresses (a survey panel's respondents, hashed by
whoever ran the survey, exactly as ``endcap.identity.normalize`` hashes them).
E-mails match through the identifiers table to a customer record and on to its
profile; an e-mail flagged as shared (a family or shop address) matches nobody,
as it never links records either. Only the matched profile ids are kept; the
submitted ids are not stored.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from sqlalchemy import and_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.models import AudienceSeed
from endcap.db.base import table_of
from endcap.db.bulk import insert_keyed_ids
from endcap.errors import InvalidRequestError
from endcap.identity.models import Customer, Identifier, IdType, SharedIdentifier

SEEDS = table_of(AudienceSeed)
CUSTOMERS = table_of(Customer)
IDENTIFIERS = table_of(Identifier)
SHARED = table_of(SharedIdentifier)
# Fewer matched people than this and a model learns the individuals, not what they share.
MIN_SEED_PROFILES: Final = 100
# Below this share, the list is probably from another retailer or hashed another way:
# expanding the few that matched would pass off a handful of people as the segment.
MIN_MATCH_RATE: Final = 0.10
LOOKUP_CHUNK: Final = 5_000
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
MAX_ERRORS: Final = 20


@dataclass(frozen=True, slots=True)
class SeedMatch:
    kind: str
    submitted: int
    distinct: int
    matched: int  # distinct entries that found a profile
    profile_ids: np.ndarray  # sorted, distinct

    @property
    def match_rate(self) -> float:
        return self.matched / self.distinct if self.distinct else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "submitted": self.submitted,
            "distinct": self.distinct,
            "matched": self.matched,
            "profiles": int(self.profile_ids.shape[0]),
            "match_rate": round(self.match_rate, 4),
        }


class SeedRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def match_customer_ids(self, values: list[str]) -> dict[str, int]:
        """Customer id -> profile, for those known and resolved."""
        c = CUSTOMERS.c
        found: dict[str, int] = {}
        for start in range(0, len(values), LOOKUP_CHUNK):
            chunk = values[start : start + LOOKUP_CHUNK]
            query = select(c.customer_id, c.profile_id).where(
                c.customer_id.in_(chunk), c.profile_id.is_not(None)
            )
            found.update({k: int(p) for k, p in (await self.session.execute(query)).all()})
        return found

    async def match_emails(self, hashes: list[str]) -> dict[str, set[int]]:
        """E-mail hash -> profiles of the customer records carrying it (shared ones excluded)."""
        i, c, s = IDENTIFIERS.c, CUSTOMERS.c, SHARED.c
        found: dict[str, set[int]] = {}
        for start in range(0, len(hashes), LOOKUP_CHUNK):
            chunk = hashes[start : start + LOOKUP_CHUNK]
            shared = select(s.id_value).where(s.id_type == IdType.EMAIL.value)
            query = (
                select(i.id_value, c.profile_id)
                .join(CUSTOMERS, c.id == i.customer_ref)
                .where(
                    and_(i.id_type == IdType.EMAIL.value, i.id_value.in_(chunk)),
                    c.profile_id.is_not(None),
                    i.id_value.not_in(shared),
                )
            )
            for value, profile in (await self.session.execute(query)).all():
                found.setdefault(value, set()).add(int(profile))
        return found

    async def store(self, audience_id: uuid.UUID, profile_ids: np.ndarray) -> None:
        await insert_keyed_ids(
            self.session, SEEDS, {"audience_id": audience_id}, "profile_id", profile_ids
        )

    async def profile_ids(self, audience_id: uuid.UUID) -> np.ndarray:
        query = (
            select(SEEDS.c.profile_id)
            .where(SEEDS.c.audience_id == audience_id)
            .order_by(SEEDS.c.profile_id)
        )
        ids = (await self.session.execute(query)).scalars().all()
        return np.fromiter(ids, np.int64, len(ids))


async def match_seed(
    repository: SeedRepository, kind: str, entries: list[str], *, pointer: str
) -> SeedMatch:
    """Match a seed list to profiles; refuse one that is malformed, too small or barely matches.

    ``pointer`` is where the list sits in the request (``/lookalike/seed``).
    """
    values = [entry.strip() for entry in entries]
    if kind == "email_sha256":
        bad = [n for n, v in enumerate(values) if not _SHA256_HEX.fullmatch(v)]
        if bad:
            raise InvalidRequestError(
                f"{len(bad)} seed entries are not SHA-256 hex digests (64 hex characters of "
                "the normalised e-mail's hash)",
                errors=[
                    {"field": f"{pointer}/{kind}/{n}", "message": "not 64 hex characters"}
                    for n in bad[:MAX_ERRORS]
                ],
                **({"errors_total": len(bad)} if len(bad) > MAX_ERRORS else {}),
            )
        values = [v.lower() for v in values]
    distinct = sorted({v for v in values if v})
    if len(distinct) < MIN_SEED_PROFILES:
        raise _seed_error(
            pointer,
            f"the seed has {len(distinct)} distinct entries; a lookalike needs at least "
            f"{MIN_SEED_PROFILES}",
        )
    if kind == "customer_ids":
        by_customer = await repository.match_customer_ids(distinct)
        profiles = set(by_customer.values())
        matched = len(by_customer)
    else:
        by_email = await repository.match_emails(distinct)
        profiles = {p for found in by_email.values() for p in found}
        matched = len(by_email)
    ids = np.array(sorted(profiles), dtype=np.int64)
    match = SeedMatch(kind, len(entries), len(distinct), matched, ids)
    if match.match_rate < MIN_MATCH_RATE:
        raise _seed_error(
            pointer,
            f"the seed matches almost nothing: {matched} of {len(distinct)} entries "
            f"({match.match_rate:.1%}) are known customers; at least {MIN_MATCH_RATE:.0%} must "
            "match (is the list from this retailer, and hashed as SHA-256 of the lower-cased "
            "address?)",
            match=match.summary(),
        )
    if ids.shape[0] < MIN_SEED_PROFILES:
        raise _seed_error(
            pointer,
            f"the seed matches {ids.shape[0]} shoppers; a lookalike needs at least "
            f"{MIN_SEED_PROFILES}",
            match=match.summary(),
        )
    return match


def _seed_error(pointer: str, message: str, **extra: Any) -> InvalidRequestError:
    return InvalidRequestError(message, errors=[{"field": pointer, "message": message}], **extra)
