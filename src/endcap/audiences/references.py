"""Catalog names in a rule: resolved to spend keys, and checked against sensitive categories.

Each purchase target names a department, category, brand or manufacturer. It
resolves to the keys ``profile_spend`` keeps it under (the catalog's spelling of
the name; for a brand, the ids of every brand of that name, or of one maker's
when the rule names the manufacturer) and to what it covers for the privacy
gate: a department's categories, a category's departments, and every department and
category a brand or manufacturer sells in. Names match ignoring case and surrounding spaces, in
Python, so that both databases agree on what "ignoring case" means.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from endcap.audiences.repository import AudienceRepository
from endcap.audiences.rules import PurchaseCondition, Rule, Target, conditions, invalid_rule
from endcap.errors import InvalidRequestError
from endcap.privacy.sensitive import (
    CatalogReference,
    ReferenceKind,
    SensitiveCategories,
    TargetingUse,
    ensure_not_sensitive,
)


@dataclass(frozen=True, slots=True)
class ResolvedTarget:
    """The ``profile_spend`` keys of a purchase target, and what it covers in the catalog."""

    keys: tuple[str, ...]
    reference: CatalogReference


# Resolved targets by the pointer of their purchase condition.
Targets = Mapping[str, ResolvedTarget]


async def resolve_targets(repository: AudienceRepository, rule: Rule) -> dict[str, ResolvedTarget]:
    """Resolve every purchase target in ``rule``, keyed by its condition's pointer.

    Raises :class:`~endcap.errors.InvalidRequestError` pointing at each name the
    catalog does not have (with close names as suggestions).
    """
    purchases = [c for c in conditions(rule) if isinstance(c, PurchaseCondition)]
    if not purchases:
        return {}
    catalog = await _Catalog.load(repository, {c.target.level for c in purchases})
    matches: dict[str, _Match] = {}
    errors: list[dict[str, str]] = []
    for condition in purchases:
        found = catalog.match(condition.target)
        if isinstance(found, _Match):
            matches[condition.pointer] = found
        else:
            errors.append(found)
    if errors:
        raise invalid_rule(errors)
    brand_ids = {i for match in matches.values() for i in match.brand_ids}
    sold_in: dict[int, set[tuple[str, str]]] = {}
    for brand_id, department, category in await repository.sold_by_brands(brand_ids):
        sold_in.setdefault(brand_id, set()).add((department, category))
    return {pointer: match.resolved(sold_in) for pointer, match in matches.items()}


async def resolve_target(repository: AudienceRepository, target: Target) -> ResolvedTarget:
    """Resolve one target outside a rule (a propensity model's), errors pointing into it."""
    catalog = await _Catalog.load(repository, {target.level})
    found = catalog.match(target)
    if not isinstance(found, _Match):
        raise InvalidRequestError(found["message"], errors=[found])
    sold_in: dict[int, set[tuple[str, str]]] = {}
    for brand_id, department, category in await repository.sold_by_brands(found.brand_ids):
        sold_in.setdefault(brand_id, set()).add((department, category))
    return found.resolved(sold_in)


def catalog_references(targets: Targets) -> list[CatalogReference]:
    """The catalog references of resolved targets, for the privacy gate."""
    return [target.reference for target in targets.values()]


def ensure_rule_not_sensitive(targets: Targets, sensitive: SensitiveCategories) -> None:
    """Refuse a rule whose targets touch a sensitive department or category.

    Raises :class:`~endcap.privacy.sensitive.SensitiveCategoryError` (a 422) naming
    the categories, with one error per offending target, pointing at its name.
    """
    ensure_not_sensitive(TargetingUse.RULE, catalog_references(targets), sensitive)


def _key(name: str) -> str:
    return name.strip().casefold()


def _suggest(name: str, names: Iterable[str]) -> str:
    spelled = {_key(n): n for n in names}
    close = difflib.get_close_matches(_key(name), list(spelled), n=3, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(spelled[c]) for c in close) + "?)"


@dataclass(frozen=True, slots=True)
class _Match:
    target: Target
    names: tuple[str, ...]  # the catalog's spellings of the name
    keys: tuple[str, ...]
    brand_ids: tuple[int, ...] = ()
    departments: frozenset[str] = field(default_factory=frozenset)
    categories: frozenset[str] = field(default_factory=frozenset)

    def resolved(self, sold_in: Mapping[int, set[tuple[str, str]]]) -> ResolvedTarget:
        departments, categories = set(self.departments), set(self.categories)
        for brand_id in self.brand_ids:
            for department, category in sold_in.get(brand_id, ()):
                departments.add(department)
                categories.add(category)
        reference = CatalogReference(
            pointer=f"{self.target.pointer}/name",
            kind=ReferenceKind(self.target.level),
            name=self.names[0],
            departments=frozenset(departments),
            categories=frozenset(categories),
        )
        return ResolvedTarget(self.keys, reference)


@dataclass(slots=True)
class _Catalog:
    tree: list[tuple[str, str]] = field(default_factory=list)  # (department, category)
    brands: list[tuple[int, str, str]] = field(default_factory=list)  # (id, name, maker)
    makers: list[str] = field(default_factory=list)

    @classmethod
    async def load(cls, repository: AudienceRepository, levels: set[str]) -> _Catalog:
        catalog = cls()
        if levels & {"department", "category"}:
            catalog.tree = await repository.departments_and_categories()
        if levels & {"brand", "manufacturer"}:
            catalog.brands = await repository.brands()
        if "manufacturer" in levels:
            catalog.makers = await repository.manufacturers()
        return catalog

    def match(self, target: Target) -> _Match | dict[str, str]:
        if target.level == "brand":
            return self._brand(target)
        names = {
            "department": {d for d, _ in self.tree},
            "category": {c for _, c in self.tree},
            "manufacturer": set(self.makers),
        }[target.level]
        spellings = tuple(sorted(n for n in names if _key(n) == _key(target.name)))
        if not spellings:
            return _unknown(target, names)
        if target.level == "department":
            # Its spend is its categories' spend: a sensitive category in it is targeted too.
            categories = frozenset(c for d, c in self.tree if d in spellings)
            return _Match(
                target,
                spellings,
                spellings,
                departments=frozenset(spellings),
                categories=categories,
            )
        if target.level == "category":
            departments = frozenset(d for d, c in self.tree if c in spellings)
            categories = frozenset(spellings)
            return _Match(
                target, spellings, spellings, departments=departments, categories=categories
            )
        ids = tuple(sorted(i for i, _, maker in self.brands if maker in spellings))
        return _Match(target, spellings, spellings, brand_ids=ids)

    def _brand(self, target: Target) -> _Match | dict[str, str]:
        named = [b for b in self.brands if _key(b[1]) == _key(target.name)]
        if not named:
            return _unknown(target, {name for _, name, _ in self.brands})
        chosen = named
        if target.manufacturer is not None:
            chosen = [b for b in named if _key(b[2]) == _key(target.manufacturer)]
            if not chosen:
                makers = ", ".join(sorted({repr(maker) for _, _, maker in named}))
                return {
                    "field": f"{target.pointer}/manufacturer",
                    "message": f"no brand {target.name!r} by {target.manufacturer!r} in the "
                    f"catalog; {named[0][1]!r} is made by {makers}",
                }
        ids = tuple(sorted(i for i, _, _ in chosen))
        spellings = tuple(sorted({name for _, name, _ in chosen}))
        return _Match(target, spellings, tuple(str(i) for i in ids), brand_ids=ids)


def _unknown(target: Target, names: Iterable[str]) -> dict[str, str]:
    hint = _suggest(target.name, names)
    return {
        "field": f"{target.pointer}/name",
        "message": f"no {target.level} {target.name!r} in the catalog{hint}",
    }
