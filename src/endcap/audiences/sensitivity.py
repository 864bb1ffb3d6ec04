"""What an audience targets on that the retailer's sensitive list holds *now*.

An audience is checked against the sensitive list when it is created and refreshed,
but the retailer can mark a department or category sensitive later, while a campaign
on an already published version waits for approval. The approver then needs to know
which audiences rest on it: a rule's purchase targets, a propensity model's target,
and the spend features a model version was fitted on (a lookalike's requested
features, or every category that was not sensitive at its refresh, as its report
lists them).
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.features import FeatureRepository
from endcap.audiences.models import Audience, AudienceKind, AudienceVersion
from endcap.audiences.references import catalog_references, resolve_target, resolve_targets
from endcap.audiences.repository import AudienceRepository
from endcap.audiences.rule_parser import parse_rule
from endcap.audiences.rules import Target
from endcap.audiences.specs import PropensitySpec
from endcap.privacy.sensitive import (
    CatalogReference,
    ReferenceKind,
    SensitiveCategories,
    SensitiveMatch,
    find_sensitive,
)

# How a model version's report names a spend feature: "category:Wine", "department:Baby".
_SPEND_LEVELS = {"category": ReferenceKind.CATEGORY, "department": ReferenceKind.DEPARTMENT}


async def sensitive_uses(
    session: AsyncSession,
    audience: Audience,
    version: AudienceVersion | None,
    sensitive: SensitiveCategories,
) -> list[SensitiveMatch]:
    """Every use of a sensitive department or category by ``audience`` (and by the model
    behind ``version``, if it is a model's), each once, in the order found.

    Raises :class:`~endcap.errors.InvalidRequestError` when the rule or the propensity
    target no longer resolves in the catalog (a name it uses is gone).
    """
    references: list[CatalogReference] = []
    repository = AudienceRepository(session)
    if audience.kind == AudienceKind.RULE and audience.rule is not None:
        parsed = parse_rule(audience.rule, pointer="/rule")
        references += catalog_references(await resolve_targets(repository, parsed))
    if audience.kind == AudienceKind.PROPENSITY and audience.spec is not None:
        wanted = PropensitySpec.model_validate(audience.spec).target
        target = Target("/propensity/target", wanted.level, wanted.name, wanted.manufacturer)
        references.append((await resolve_target(repository, target)).reference)
    spend = [
        (f"/lookalike/features/{n}/name", str(f["level"]), str(f["name"]))
        for n, f in enumerate((audience.spec or {}).get("features") or [])
    ]
    report = (version.report if version is not None else None) or {}
    for n, label in enumerate(report.get("features") or []):
        level, _, name = str(label).partition(":")
        if level in _SPEND_LEVELS and name:
            spend.append((f"/report/features/{n}", level, name))
    if spend:
        references += await _spend_references(session, spend)
    found: list[SensitiveMatch] = []
    for match in find_sensitive(references, sensitive):
        if all(match.reason != seen.reason for seen in found):
            found.append(match)
    return found


async def _spend_references(
    session: AsyncSession, spend: list[tuple[str, str, str]]
) -> list[CatalogReference]:
    # A category is sensitive through its department too, so each one is placed in the
    # tree as the catalog has it now (a category gone from the catalog keeps its name).
    tree = await FeatureRepository(session).category_tree()
    references = []
    for pointer, level, name in spend:
        key = name.strip().casefold()
        if level == "department":
            departments = frozenset({name})
            categories = frozenset(c for d, c in tree if d.casefold() == key)
        else:
            departments = frozenset(d for d, c in tree if c.casefold() == key)
            categories = frozenset({name})
        references.append(
            CatalogReference(
                pointer=pointer,
                kind=_SPEND_LEVELS[level],
                name=name,
                departments=departments,
                categories=categories,
            )
        )
    return references
