"""Trait refreshes (as jobs) and a profile's traits; retailer admin only."""

from __future__ import annotations

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.guards import roles
from endcap.auth.principal import Principal
from endcap.auth.roles import Role
from endcap.config import Settings
from endcap.jobs.schemas import JobPublic
from endcap.jobs.service import JobService
from endcap.privacy.sensitive import SensitiveCategories
from endcap.traits.cluster_profiles import value_clusters
from endcap.traits.profile_spend import spend_of_profile
from endcap.traits.schemas import (
    ProfileSpendPublic,
    ProfileTraitsPublic,
    SpendLevel,
    ValueClustersPublic,
)
from endcap.traits.service import RefreshMode, TraitsService


class TraitsController(Controller):
    path = "/traits"
    tags = ["traits"]
    opt = roles(Role.RETAILER_ADMIN)

    @post(
        "/refresh",
        status_code=202,
        summary="Refresh traits and value, as a job (incremental when that is cheaper)",
    )
    async def refresh(
        self,
        session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        mode: FromQuery[RefreshMode] = RefreshMode.AUTO,
        choose_k: FromQuery[bool] = False,
    ) -> JobPublic:
        """``choose_k``: choose the number of value clusters again by silhouette (labels
        still follow their centroids; a cluster without one gets a new label)."""
        params: dict[str, object] = {"mode": mode.value, "choose_k": choose_k}
        return await JobService(session).enqueue("traits_refresh", params, principal.key_id)

    @get("/clusters", summary="The value clusters: size, value and what sets each apart")
    async def clusters(
        self, session: NamedDependency[AsyncSession], settings: NamedDependency[Settings]
    ) -> ValueClustersPublic:
        """What a ``{"cluster": [label]}`` rule targets: each cluster's size, mean spend,
        baskets and 12-month value, online and promo shares, and its top categories by
        index against all clustered shoppers (never a sensitive one), as the last refresh
        left them."""
        sensitive = SensitiveCategories.from_settings(settings.privacy_gate)
        return await value_clusters(session, sensitive)

    @get("/profiles/{profile_id:int}", summary="One profile's traits")
    async def profile(
        self, profile_id: FromPath[int], session: NamedDependency[AsyncSession]
    ) -> ProfileTraitsPublic:
        return await TraitsService(session).of_profile(profile_id)

    @get("/profiles/{profile_id:int}/spend", summary="One profile's spend and units per level")
    async def profile_spend(
        self,
        profile_id: FromPath[int],
        session: NamedDependency[AsyncSession],
        level: FromQuery[SpendLevel | None] = None,
    ) -> list[ProfileSpendPublic]:
        """Spend and units over 4, 13 and 52 weeks per department, category, brand and
        maker (``level`` for one of them); brands and makers with their share of category
        requirements."""
        return await spend_of_profile(session, profile_id, level)
