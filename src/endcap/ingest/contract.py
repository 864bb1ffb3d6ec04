"""The retailer data contract (DESIGN.md): the columns each entity file must and may have.

Each entity names the columns that identify a row within a file, so that two
rows with the same key are reported as duplicates instead of one silently
winning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from endcap.consent.models import ConsentStatus, Purpose
from endcap.identity.models import IdType


class Kind(StrEnum):
    TEXT = "text"
    INT = "int"
    DECIMAL = "decimal"
    TIMESTAMP = "timestamp"
    BOOL = "bool"
    CHOICE = "choice"


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    name: str
    kind: Kind = Kind.TEXT
    required: bool = False
    max_length: int = 200
    choices: tuple[str, ...] = ()
    # A negative value is a return; allowed only where the retailer enables returns.
    signed_if_returns: bool = False
    # Digits before the decimal point that the stored column holds (None: no limit).
    integer_digits: int | None = None
    # A time that cannot be later than the load (beyond db.types.CLOCK_LEEWAY).
    not_in_future: bool = False


@dataclass(frozen=True, slots=True)
class EntitySpec:
    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    # Extra columns on customers and products are kept as attributes; elsewhere ignored.
    keeps_attributes: bool = False

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def _text(name: str, *, required: bool = False, max_length: int = 200) -> ColumnSpec:
    return ColumnSpec(name, Kind.TEXT, required=required, max_length=max_length)


PRODUCTS = EntitySpec(
    "products",
    (
        _text("sku", required=True, max_length=64),
        _text("name", required=True, max_length=300),
        _text("brand", required=True),
        _text("manufacturer", required=True),
        _text("category", required=True, max_length=120),
        _text("department", max_length=120),
        _text("subcategory", max_length=120),
        ColumnSpec("private_label", Kind.BOOL),
        _text("package_size", max_length=60),
    ),
    key=("sku",),
    keeps_attributes=True,
)

STORES = EntitySpec(
    "stores",
    (
        _text("store_id", required=True, max_length=64),
        _text("name"),
        _text("region", max_length=120),
        _text("format", max_length=60),
    ),
    key=("store_id",),
)

CUSTOMERS = EntitySpec(
    "customers",
    (_text("customer_id", required=True, max_length=128),),
    key=("customer_id",),
    keeps_attributes=True,
)

IDENTIFIERS = EntitySpec(
    "identifiers",
    (
        _text("customer_id", required=True, max_length=128),
        ColumnSpec("id_type", Kind.CHOICE, required=True, choices=tuple(t.value for t in IdType)),
        _text("id_value", required=True, max_length=320),
        ColumnSpec("observed_at", Kind.TIMESTAMP),
        ColumnSpec("is_hashed", Kind.BOOL),
    ),
    # id_value here is the normalised (hashed) value, so "A@x.com" and "a@x.com" collide.
    key=("customer_id", "id_type", "id_value"),
)

TRANSACTIONS = EntitySpec(
    "transactions",
    (
        _text("transaction_id", required=True, max_length=64),
        # Traits are as of the latest purchase: one in the future would move every profile.
        ColumnSpec("occurred_at", Kind.TIMESTAMP, required=True, not_in_future=True),
        _text("sku", required=True, max_length=64),
        # numeric(12, 3) and numeric(14, 2) in the transactions table.
        ColumnSpec(
            "quantity", Kind.DECIMAL, required=True, signed_if_returns=True, integer_digits=9
        ),
        ColumnSpec(
            "sales_value", Kind.DECIMAL, required=True, signed_if_returns=True, integer_digits=12
        ),
        ColumnSpec("line_no", Kind.INT),
        _text("customer_id", max_length=128),
        _text("store_id", max_length=64),
        ColumnSpec("channel", Kind.CHOICE, choices=("store", "online")),
        ColumnSpec("discount", Kind.DECIMAL, integer_digits=12),
    ),
    # line_ref is line_no, or "sku:<sku>" when the file has no line_no column.
    key=("transaction_id", "line_ref"),
)

CONSENTS = EntitySpec(
    "consents",
    (
        _text("customer_id", required=True, max_length=128),
        ColumnSpec("purpose", Kind.CHOICE, required=True, choices=tuple(p.value for p in Purpose)),
        ColumnSpec(
            "status", Kind.CHOICE, required=True, choices=tuple(s.value for s in ConsentStatus)
        ),
        # The latest decision holds: one dated in the future would outrank every later one.
        ColumnSpec("recorded_at", Kind.TIMESTAMP, required=True, not_in_future=True),
        _text("source", max_length=120),
    ),
    key=("customer_id", "purpose", "recorded_at", "status"),
)

# Extra columns become attributes, which are stored as given: contact data must
# not slip in that way (it belongs in identifiers, where it is hashed).
CONTACT_COLUMN = re.compile(
    r"(e[-_ ]?mail|phone|mobile|msisdn|address|street|first[-_ ]?name|last[-_ ]?name|surname|"
    r"full[-_ ]?name|ssn|personnummer|national[-_ ]?id|birth[-_ ]?date|date[-_ ]?of[-_ ]?birth)",
    re.IGNORECASE,
)


def looks_like_contact_data(column: str) -> bool:
    return bool(CONTACT_COLUMN.search(column))


ENTITIES: dict[str, EntitySpec] = {
    spec.name: spec for spec in (PRODUCTS, STORES, CUSTOMERS, IDENTIFIERS, TRANSACTIONS, CONSENTS)
}
# Dependencies come first: a transaction names a product, a store and a customer.
LOAD_ORDER = ("products", "stores", "customers", "identifiers", "consents", "transactions")
