"""Cursor pagination shared by every list endpoint.

Lists are ordered by (created_at, id) and resumed after the last row seen, so
a page stays correct while rows are added, and no OFFSET scan grows with depth.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from litestar.params import QueryParameter
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Mapped

from endcap.errors import InvalidRequestError

T = TypeVar("T")

# One page is capped so that a list call stays cheap however large the table is.
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 50
Limit = Annotated[int, QueryParameter(ge=1, le=MAX_PAGE_SIZE, description="page size")]
S = TypeVar("S", bound=Select[Any])


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Cursor:
    created_at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps([self.created_at.isoformat(), str(self.id)]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            created_at, ident = json.loads(raw)
            cursor = cls(datetime.fromisoformat(created_at), uuid.UUID(ident))
        except (binascii.Error, ValueError, TypeError, UnicodeDecodeError) as exc:
            raise InvalidRequestError(
                "cursor is not one this API returned",
                errors=[{"field": "cursor", "message": "malformed cursor"}],
            ) from exc
        if cursor.created_at.tzinfo is None:
            raise InvalidRequestError(
                "cursor is not one this API returned",
                errors=[{"field": "cursor", "message": "malformed cursor"}],
            )
        return cursor


@dataclass(frozen=True, slots=True)
class PageRequest:
    limit: int
    cursor: Cursor | None = None

    @classmethod
    def parse(cls, limit: int, cursor: str | None) -> PageRequest:
        return cls(limit=limit, cursor=Cursor.decode(cursor) if cursor else None)


def keyset(
    stmt: S,
    created_at: Mapped[datetime],
    ident: Mapped[uuid.UUID],
    page: PageRequest,
) -> S:
    """Order ``stmt`` by (created_at, id), resume after the cursor, and fetch one extra row."""
    if page.cursor is not None:
        stmt = stmt.where(
            or_(
                created_at > page.cursor.created_at,
                and_(created_at == page.cursor.created_at, ident > page.cursor.id),
            )
        )
    return stmt.order_by(created_at, ident).limit(page.limit + 1)


def next_cursor(
    rows: list[Any], page: PageRequest, ordered_by: str = "created_at"
) -> tuple[list[Any], str | None]:
    """Split the extra row off and make the cursor that resumes after the last kept row;
    ``ordered_by``: the time column :func:`keyset` ordered by (with ``id``)."""
    if len(rows) <= page.limit:
        return rows, None
    kept = rows[: page.limit]
    last = kept[-1]
    return kept, Cursor(getattr(last, ordered_by), last.id).encode()


def paged_in_memory(
    rows: Iterable[T], key: Callable[[T], tuple[datetime, uuid.UUID]], page: PageRequest
) -> tuple[list[T], str | None]:
    """:func:`keyset` and :func:`next_cursor` over rows already read: for a list filtered
    in Python (whose rows are few), ordered and resumed by ``key`` (created_at, id)."""
    ordered = sorted(rows, key=key)
    if page.cursor is not None:
        after = (page.cursor.created_at, page.cursor.id)
        ordered = [row for row in ordered if key(row) > after]
    if len(ordered) <= page.limit:
        return ordered, None
    kept = ordered[: page.limit]
    created_at, ident = key(kept[-1])
    return kept, Cursor(created_at, ident).encode()


# Marks a key cursor as one this API made: any text decodes from base64, so without it a
# garbage cursor would quietly start the list somewhere.
_KEY_MARK = "key:"


def encode_key(value: str) -> str:
    """A cursor for lists ordered by one natural text key (e.g. a SKU)."""
    return base64.urlsafe_b64encode((_KEY_MARK + value).encode()).decode().rstrip("=")


def next_key(items: list[Any], read: int, limit: int, key: str) -> str | None:
    """The cursor after ``items`` (a page of ``limit`` from ``read`` rows fetched, one
    extra when there are more) for a list ordered by the text attribute ``key``."""
    if read <= limit or not items:
        return None
    return encode_key(str(getattr(items[-1], key)))


def decode_key(token: str | None) -> str | None:
    if not token:
        return None
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _malformed() from exc
    if not text.startswith(_KEY_MARK):
        raise _malformed()
    return text[len(_KEY_MARK) :]


def _malformed() -> InvalidRequestError:
    return InvalidRequestError(
        "cursor is not one this API returned",
        errors=[{"field": "cursor", "message": "malformed cursor"}],
    )
