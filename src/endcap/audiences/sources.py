"""The tables a compiled rule reads: every profile's, or the estimate sample's copies.

The sample (traits/sample.py) has the same columns, and two more things a statement may
use: each profile's spend in every category (``category_spend``), and its slot. Reading
only the first ``slots`` slots reads a uniform sample of that many eighths of the sample,
and only their rows: each spend read and the traits are filtered on the slot, which the
sample's spend key holds before the id.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import Table
from sqlalchemy.sql import ColumnElement

from endcap.db.base import table_of
from endcap.traits.models import SPEND_SAMPLE, TRAITS_SAMPLE, ProfileSpend, ProfileTraits
from endcap.traits.sample import SLOTS

TRAITS = table_of(ProfileTraits)
SPEND = table_of(ProfileSpend)


@dataclass(frozen=True)
class Sources:
    traits: Table
    spend: Table
    category_spend: bool = False
    slots: int | None = None  # only the sample's first ``slots`` slots; None: every row

    def within(self, slots: int) -> Sources:
        """The same tables, read only in their first ``slots`` slots (the sample's)."""
        if not 0 < slots <= SLOTS or "slot" not in self.traits.c:
            raise ValueError(f"cannot read {slots} slots of {self.traits.name}")
        return replace(self, slots=None if slots == SLOTS else slots)

    def same_slot(self) -> list[ColumnElement[bool]]:
        """For a spend row correlated to its profile's traits: on the sample, the row's slot
        is its profile's (always true), so a probe of the spend key for one profile bounds
        the slot too, which the key holds before the id; nothing on every profile's tables."""
        if "slot" not in self.spend.c:
            return []
        return [self.spend.c.slot == self.traits.c.slot]

    def in_slots(self, table: Table) -> list[ColumnElement[bool]]:
        """The filter that keeps ``table``'s rows in the slots read (none: every row)."""
        if self.slots is None:
            return []
        return [table.c.slot < self.slots]


EVERYONE = Sources(TRAITS, SPEND)
SAMPLE = Sources(TRAITS_SAMPLE, SPEND_SAMPLE, category_spend=True)
