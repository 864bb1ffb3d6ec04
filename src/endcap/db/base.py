"""The metadata every table model registers with.

Import table models through this module's ``metadata`` users (Alembic, tests)
via :func:`load_models`, so that nothing depends on import order.
"""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData, Table
from sqlmodel import SQLModel

# Every package that defines table models; Alembic and the schema test load them all.
MODEL_MODULES = (
    "endcap.partners.models",
    "endcap.auth.models",
    "endcap.catalog.models",
    "endcap.identity.models",
    "endcap.consent.models",
    "endcap.purchases.models",
    "endcap.privacy.models",
    "endcap.ingest.models",
    "endcap.jobs.models",
    "endcap.traits.models",
    "endcap.audiences.models",
    "endcap.idempotency.models",
    "endcap.marketplace.models",
    "endcap.activation.models",
)


def load_models() -> MetaData:
    for module in MODEL_MODULES:
        importlib.import_module(module)
    return SQLModel.metadata


def table_of(model: type[SQLModel]) -> Table:
    """The Core table of a table model (for set-based statements)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table
