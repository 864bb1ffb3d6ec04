"""Sensitive categories: departments and categories the retailer never lets anyone target.

Buying from a pharmacy, baby or alcohol shelf says something about a person's
health, family or habits. Such a department or category may not appear in an
audience rule, a propensity target, a lookalike's feature set or a
seed-expansion model, whoever asks (the retailer's own admins included).

The caller resolves each catalog reference in the request to the departments
and categories it covers, from the catalog: a department to its categories (its spend
includes theirs), a category to its department, a
brand or manufacturer to every department and category it sells in (or only
the category a rule scopes it to), a product to its department and category.
A reference is refused if anything it covers is sensitive, so "bought brand X"
is refused for a brand that sells baby food unless the rule scopes it to a
category outside Baby. Names match case-insensitively and ignore surrounding
spaces; messages use the retailer's own spelling.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from endcap.errors import InvalidRequestError
from endcap.privacy.settings import SENSITIVE_DEPARTMENTS, PrivacyGateSettings


class TargetingUse(StrEnum):
    """What the references are about to be used for: named in the refusal."""

    RULE = "audience rule"
    PROPENSITY_TARGET = "propensity target"
    LOOKALIKE_FEATURES = "lookalike feature set"
    SEED_EXPANSION = "seed-expansion model"


class ReferenceKind(StrEnum):
    DEPARTMENT = "department"
    CATEGORY = "category"
    SUBCATEGORY = "subcategory"
    BRAND = "brand"
    MANUFACTURER = "manufacturer"
    PRODUCT = "product"


class Level(StrEnum):
    """Where in the category tree the retailer marked something sensitive."""

    DEPARTMENT = "department"
    CATEGORY = "category"


_SELLERS = frozenset({ReferenceKind.BRAND, ReferenceKind.MANUFACTURER})


@dataclass(frozen=True, slots=True)
class CatalogReference:
    """One mention of the catalog in a request, with what it covers.

    ``pointer`` says where in the request it sits (a JSON pointer such as
    ``/rule/and/1/category``, or ``/features/3``), so the refusal can point at
    it. A department or category reference covers itself; list any further
    departments and categories it falls in or sells in.
    """

    pointer: str
    kind: ReferenceKind
    name: str
    departments: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()

    def covered(self, level: Level) -> frozenset[str]:
        names = self.departments if level is Level.DEPARTMENT else self.categories
        if self.kind.value == level.value:
            return names | {self.name}
        return names


@dataclass(frozen=True, slots=True)
class SensitiveMatch:
    """A reference that touches a sensitive department or category (``name`` as marked)."""

    reference: CatalogReference
    level: Level
    name: str

    @property
    def reason(self) -> str:
        ref = self.reference
        if ref.kind.value == self.level.value and _key(ref.name) == _key(self.name):
            return f"the {ref.kind} {self.name!r} is marked sensitive by the retailer"
        where = "sells in" if ref.kind in _SELLERS else "is in"
        if ref.kind is ReferenceKind.DEPARTMENT and self.level is Level.CATEGORY:
            where = "holds"  # a department's spend is its categories'
        return f"the {ref.kind} {ref.name!r} {where} the sensitive {self.level} {self.name!r}"


class SensitiveCategories:
    """The retailer's sensitive departments and categories."""

    def __init__(
        self,
        departments: Iterable[str] = SENSITIVE_DEPARTMENTS,
        categories: Iterable[str] = (),
    ) -> None:
        self._marked: Mapping[Level, Mapping[str, str]] = MappingProxyType(
            {
                Level.DEPARTMENT: {_key(name): name.strip() for name in departments},
                Level.CATEGORY: {_key(name): name.strip() for name in categories},
            }
        )

    @classmethod
    def from_settings(cls, settings: PrivacyGateSettings) -> SensitiveCategories:
        return cls(settings.sensitive_departments, settings.sensitive_categories)

    def holds(self, category: str, departments: Iterable[str]) -> bool:
        """Whether the category, sold in ``departments``, is sensitive itself or through
        one of them (a feature, column or label on it would carry sensitive spend)."""
        reference = CatalogReference(
            "", ReferenceKind.CATEGORY, category, departments=frozenset(departments)
        )
        return bool(self.matches(reference))

    def matches(self, reference: CatalogReference) -> list[SensitiveMatch]:
        """Every sensitive department, then category, that ``reference`` covers (sorted)."""
        found: list[SensitiveMatch] = []
        for level in Level:
            marked = self._marked[level]
            hits = {marked[_key(name)] for name in reference.covered(level) if _key(name) in marked}
            found.extend(SensitiveMatch(reference, level, name) for name in sorted(hits))
        return found


class SensitiveCategoryError(InvalidRequestError):
    """The request would target on a sensitive department or category.

    A 422, like every request that is well formed but breaks a rule: the fix is
    in the payload (drop or rescope the reference, which ``errors`` points at),
    not in who asks. A 403 would say someone else may do it; nobody may, the
    retailer's admins included.
    """

    problem_type = "sensitive-category"
    title = "Sensitive category"


def find_sensitive(
    references: Iterable[CatalogReference], sensitive: SensitiveCategories
) -> list[SensitiveMatch]:
    """Every use of a sensitive department or category among ``references``, in order.

    For showing an approver what a request touches without refusing it.
    """
    return [match for reference in references for match in sensitive.matches(reference)]


def ensure_not_sensitive(
    use: TargetingUse, references: Iterable[CatalogReference], sensitive: SensitiveCategories
) -> None:
    """Raise :class:`SensitiveCategoryError` if any reference touches a sensitive category.

    The detail names the sensitive departments and categories; ``errors`` has
    one entry per offending reference, with its pointer.
    """
    found = find_sensitive(references, sensitive)
    if not found:
        return
    names = sorted({f"{match.level} {match.name!r}" for match in found})
    raise SensitiveCategoryError(
        f"the {use} uses the sensitive {_join(names)}, which the retailer does not allow "
        "for targeting",
        errors=[{"field": match.reference.pointer, "message": match.reason} for match in found],
    )


def _key(name: str) -> str:
    return name.strip().casefold()


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
