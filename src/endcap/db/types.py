"""Column types shared by every domain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


# How far ahead of this server's clock a recorded time may be (the sender's clock may run a
# little fast). Later is refused: a consent decision dated in the future would outrank
# every later one (the latest decides), and a purchase dated in the future would move every
# profile's traits to that date (a refresh is as of the latest purchase).
CLOCK_LEEWAY = timedelta(minutes=5)
# The times a record may carry, UTC: an offset can carry a valid date out of the calendar
# Python and the databases keep (0001-01-01T00:00+14:00 is in year 0), and no purchase or
# consent is that old or new.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are
    stored as naive UTC there and made aware again on the way out. A naive
    value on the way in is a bug in our code, so it is refused.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# A 64-bit surrogate key that still auto-increments on SQLite (which only does
# so for a column declared exactly INTEGER PRIMARY KEY).
BigId = BigInteger().with_variant(Integer(), "sqlite")
BIG_ID_MAX = 2**63 - 1


def storable_id(value: int) -> bool:
    """Whether ``value`` fits a :data:`BigId` column. One that does not names no row, and
    the database driver refuses to send it (a 500 where the answer is 404)."""
    return 0 < value <= BIG_ID_MAX


# JSON that PostgreSQL can compare (jsonb), so an unchanged reload is a no-op.
JsonDocument = JSON().with_variant(JSONB(), "postgresql")
