"""Optimistic concurrency on the wire: a resource's revision is its ETag, and an update
names the one it read in If-Match (a stale one is a 412)."""

from __future__ import annotations

from typing import Annotated

from litestar.params import HeaderParameter

IfMatch = Annotated[
    str | None, HeaderParameter(name="If-Match", description='the ETag last read, e.g. "3"')
]


def etag(revision: int) -> str:
    return f'"{revision}"'


def parse_if_match(header: str | None) -> int | None:
    """The revision an If-Match header names (None when absent or not one of ours)."""
    if not header:
        return None
    value = header.strip().removeprefix("W/").strip('"')
    return int(value) if value.isdigit() else None
