from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """Who a key speaks for; see DESIGN.md "Who uses it, and what each may see"."""

    RETAILER_ADMIN = "retailer_admin"
    BUYER = "buyer"
    BRAND = "brand"
