"""Propensity and lookalike audiences: checking the request, and computing the members.

The rules (what a request may ask for, which features a model may see) live
here; the numbers are in propensity.py and lookalike.py, the queries in
features.py and seeds.py. Sensitive departments and categories are refused
where a request names them (a propensity target, a lookalike feature) and are
never among the features a model is given by default.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

import numpy as np
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.features import Excluded, FeatureRepository, SpendColumn, TargetFilter
from endcap.audiences.lookalike import expand_seed
from endcap.audiences.models import Audience, AudienceKind
from endcap.audiences.propensity import fit_propensity, select_top
from endcap.audiences.references import resolve_target
from endcap.audiences.repository import AudienceRepository
from endcap.audiences.rules import Target, did_you_mean
from endcap.audiences.seeds import SeedMatch, SeedRepository, match_seed
from endcap.audiences.specs import FeatureSpec, LookalikeSpec, PropensitySpec
from endcap.errors import InvalidRequestError
from endcap.privacy.sensitive import (
    CatalogReference,
    ReferenceKind,
    SensitiveCategories,
    TargetingUse,
    ensure_not_sensitive,
)
from endcap.traits.repository import TraitsRepository

# Features need some history before the training cut-off to say anything.
MIN_FEATURE_WEEKS: Final = 4


@dataclass(frozen=True, slots=True)
class ModelledMembers:
    profile_ids: np.ndarray
    report: dict[str, Any]


class ModelledAudiences:
    def __init__(self, session: AsyncSession, sensitive: SensitiveCategories) -> None:
        self.session = session
        self.features = FeatureRepository(session)
        self.seeds = SeedRepository(session)
        self.sensitive = sensitive

    # -- requests ------------------------------------------------------------------

    async def check_propensity(
        self, spec: PropensitySpec, *, pointer: str
    ) -> tuple[TargetFilter, datetime]:
        """Refuse an unknown or sensitive target, or a horizon the history cannot train.

        Returns the resolved target and the newest purchase (what the model scores at).
        """
        target = await self._target(spec, pointer)
        span = await self.features.purchase_span()
        needed = 2 * spec.horizon_weeks + MIN_FEATURE_WEEKS
        held = (span[1] - span[0]).days // 7 if span else 0
        if span is None or held < needed:
            message = (
                f"a {spec.horizon_weeks}-week horizon needs {needed} weeks of purchase history "
                f"(a training and a checking period, and {MIN_FEATURE_WEEKS} weeks before them); "
                f"the data holds {held}"
            )
            raise InvalidRequestError(
                message, errors=[{"field": f"{pointer}/horizon_weeks", "message": message}]
            )
        return target, span[1]

    async def check_lookalike(self, spec: LookalikeSpec, *, pointer: str) -> SeedMatch:
        """Refuse sensitive or unknown features, a bad seed, or a reach below the seed."""
        await self._spend_columns(spec.features, pointer=f"{pointer}/features")
        match = await match_seed(
            self.seeds, spec.seed.kind, spec.seed.entries, pointer=f"{pointer}/seed"
        )
        shoppers = await TraitsRepository(self.session).profile_count()
        seed_size = int(match.profile_ids.shape[0])
        if not seed_size <= spec.reach <= shoppers:
            message = (
                f"reach is the total audience wanted: at least the {seed_size} matched seed "
                f"shoppers and at most the {shoppers} shoppers with traits, got {spec.reach}"
            )
            raise InvalidRequestError(
                message,
                errors=[{"field": f"{pointer}/reach", "message": message}],
                match=match.summary(),
            )
        return match

    async def store_seed(self, audience_id: uuid.UUID, match: SeedMatch) -> None:
        await self.seeds.store(audience_id, match.profile_ids)

    # -- refresh -------------------------------------------------------------------

    async def members(self, audience: Audience) -> ModelledMembers:
        if audience.spec is None:
            raise ValueError(f"audience {audience.id} has no model spec")
        random_seed = audience.id.int % 2**32
        if audience.kind == AudienceKind.PROPENSITY:
            spec = PropensitySpec.model_validate(audience.spec)
            return await self._propensity(spec, random_seed)
        features = audience.spec.get("features")
        return await self._lookalike(
            audience.id,
            int(audience.spec["reach"]),
            [FeatureSpec.model_validate(f) for f in features] if features else None,
            random_seed,
        )

    async def _propensity(self, spec: PropensitySpec, random_seed: int) -> ModelledMembers:
        # Checked again: the catalog or the sensitive list may have changed since creation.
        target, as_of = await self.check_propensity(spec, pointer="/propensity")
        horizon = timedelta(weeks=spec.horizon_weeks)
        columns = await self._spend_columns(None, pointer="/propensity")
        excluded = await self._excluded()
        train_at, check_at = as_of - 2 * horizon, as_of - horizon
        train = await self.features.frame(
            train_at, columns, target=target, horizon=horizon, excluded=excluded
        )
        check = await self.features.frame(
            check_at, columns, target=target, horizon=horizon, excluded=excluded
        )
        # Fits run in a thread: the job's loop must stay free to renew its lease.
        model = await asyncio.to_thread(fit_propensity, train, check, seed=random_seed)
        now = await self.features.frame(as_of, columns, target=target, excluded=excluded)
        scores = await asyncio.to_thread(model.score, now)
        chosen = select_top(now.profile_ids, scores, spec.select)
        cut = float(np.min(scores[np.isin(now.profile_ids, chosen)])) if chosen.size else None
        report = {
            **model.report,
            "as_of": _iso(as_of),
            "training_cutoff": _iso(train_at),
            "checking_cutoff": _iso(check_at),
            "scored_profiles": len(now),
            "selected": int(chosen.shape[0]),
            "score_cut": round(cut, 5) if cut is not None else None,
        }
        return ModelledMembers(np.sort(chosen), report)

    async def _lookalike(
        self,
        audience_id: uuid.UUID,
        reach: int,
        features: list[FeatureSpec] | None,
        random_seed: int,
    ) -> ModelledMembers:
        # Checked again: the retailer may have marked a feature sensitive since creation.
        columns = await self._spend_columns(features, pointer="/lookalike/features")
        span = await self.features.purchase_span()
        seed_ids = await self.seeds.profile_ids(audience_id)
        if span is None:
            return ModelledMembers(seed_ids, {"seed_profiles": int(seed_ids.shape[0])})
        frame = await self.features.frame(span[1], columns, excluded=await self._excluded())
        expansion = await asyncio.to_thread(
            expand_seed, frame, seed_ids, reach=reach, random_seed=random_seed
        )
        members = np.union1d(seed_ids, expansion.added)
        return ModelledMembers(members, {**expansion.report, "as_of": _iso(span[1])})

    # -- features ------------------------------------------------------------------

    async def _target(self, spec: PropensitySpec, pointer: str) -> TargetFilter:
        wanted = spec.target
        if wanted.manufacturer is not None and wanted.level != "brand":
            # As in a rule: only a brand name is shared by several makers.
            message = "only a brand target names its manufacturer"
            field = f"{pointer}/target/manufacturer"
            raise InvalidRequestError(message, errors=[{"field": field, "message": message}])
        target = Target(f"{pointer}/target", wanted.level, wanted.name, wanted.manufacturer)
        resolved = await resolve_target(AudienceRepository(self.session), target)
        ensure_not_sensitive(TargetingUse.PROPENSITY_TARGET, [resolved.reference], self.sensitive)
        return TargetFilter(wanted.level, resolved.keys)

    async def _excluded(self) -> Excluded:
        return sensitive_lines(await self.features.category_tree(), self.sensitive)

    async def _spend_columns(
        self, features: list[FeatureSpec] | None, *, pointer: str
    ) -> list[SpendColumn]:
        """The spend columns a model sees: the requested ones (refused if unknown or
        sensitive), or by default every category outside the sensitive list."""
        tree = await self.features.category_tree()
        if features is None:
            return [
                SpendColumn(f"category:{category}", (category,))
                for department, category in tree
                if not self.sensitive.holds(category, {department})
            ]
        references, columns, errors = [], [], []
        for n, feature in enumerate(features):
            at = f"{pointer}/{n}"
            key = feature.name.strip().casefold()
            if feature.level == "department":
                pairs = [(d, c) for d, c in tree if d.casefold() == key]
            else:
                pairs = [(d, c) for d, c in tree if c.casefold() == key]
            if not pairs:
                names = {d if feature.level == "department" else c for d, c in tree}
                hint = did_you_mean(feature.name, sorted(names))
                errors.append(
                    {
                        "field": f"{at}/name",
                        "message": f"no {feature.level} {feature.name!r} in the catalog{hint}",
                    }
                )
                continue
            name = pairs[0][0] if feature.level == "department" else pairs[0][1]
            categories = tuple(sorted({c for _, c in pairs}))
            departments = {d for d, _ in pairs}
            references.append(
                _reference(f"{at}/name", feature.level, name, departments, categories)
            )
            columns.append(SpendColumn(f"{feature.level}:{name}", categories))
        if errors:
            raise InvalidRequestError(errors[0]["message"], errors=errors)
        ensure_not_sensitive(TargetingUse.LOOKALIKE_FEATURES, references, self.sensitive)
        return columns


def sensitive_lines(tree: list[tuple[str, str]], sensitive: SensitiveCategories) -> Excluded:
    """The lines no model feature may sum (features.Excluded says why): those in the
    sensitive departments of the catalog's ``tree``, or in its sensitive categories
    elsewhere, as the catalog spells them."""
    departments = sorted(
        {d for d, _ in tree if sensitive.matches(_reference("", "department", d, {d}))}
    )
    categories = sorted({c for d, c in tree if d not in departments and sensitive.holds(c, {d})})
    return Excluded(tuple(departments), tuple(categories))


def _reference(
    pointer: str,
    level: str,
    name: str,
    departments: set[str],
    categories: tuple[str, ...] = (),
) -> CatalogReference:
    return CatalogReference(
        pointer=pointer,
        kind=ReferenceKind(level),
        name=name,
        departments=frozenset(departments),
        categories=frozenset(categories),
    )


def _iso(moment: datetime) -> str:
    return moment.isoformat()
