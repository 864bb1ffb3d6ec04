"""What the tests of releases after a change (erasures, consent) share: a retailer of the
module's own, loaded over HTTP, exact sizes, and publishing a rule in one go."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from endcap.client import EndcapClient
from tests.audiences.http import create_rule, refresh
from tests.support.server import ServerProcess
from tests.support.synthetic_shop import load_over_http

BUYERS = {"trait": "baskets_52w", "op": ">=", "value": 1}
K = 50  # the server's k (ENDCAP_PRIVACY_K_THRESHOLD default)


def module_shop(name: str, customers: int, seed: int) -> Callable[..., Path]:
    """A module-scoped ``shop`` fixture: the folder of a synthetic retailer of
    ``customers``, loaded into the module's own server (its changes would alter what a
    shared retailer holds for the tests after it)."""

    @pytest.fixture(scope="module")
    def shop(
        server: ServerProcess, admin_key: str, tmp_path_factory: pytest.TempPathFactory
    ) -> Path:
        folder = tmp_path_factory.mktemp(name)
        with EndcapClient(server.base_url, admin_key, timeout=120) as admin:
            load_over_http(admin, folder, customers, seed=seed)
        return folder

    return shop


def exact_size(admin: EndcapClient, rule: dict[str, Any]) -> int:
    answer = admin.request("POST", "/api/v1/audiences/estimate", json={"rule": rule, "exact": True})
    return int(answer.json()["size"])


def published(admin: EndcapClient, rule: dict[str, Any]) -> Any:
    """The answer to publishing a new audience of ``rule``, refreshed first."""
    audience = refresh(admin, create_rule(admin, rule).id)
    return admin.request("POST", f"/api/v1/audiences/{audience.id}/publish")
