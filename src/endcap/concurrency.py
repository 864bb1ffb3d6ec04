"""Optimistic concurrency on the wire: a resource's revision is its ETag, and an update
names the one it read in If-Match (a stale one is a 412)."""

from __future__ import annotations

from typing import Annotated, Protocol, TypeVar

from litestar import Response
from litestar.params import HeaderParameter

IfMatch = Annotated[
    str | None, HeaderParameter(name="If-Match", description='the ETag last read, e.g. "3"')
]


class Revisioned(Protocol):
    @property
    def revision(self) -> int: ...


R = TypeVar("R", bound=Revisioned)


def etag(revision: int) -> str:
    return f'"{revision}"'


def tagged(body: R, status_code: int = 200) -> Response[R]:
    """``body`` as the answer, with its revision as the ETag the next update must name."""
    return Response(body, status_code=status_code, headers={"ETag": etag(body.revision)})


# What an If-Match that names no revision of ours parses to: it matches nothing (a 412).
NO_REVISION = -1


def parse_if_match(header: str | None) -> int | None:
    """The revision an If-Match header names: None when absent, :data:`NO_REVISION` when it
    is not one of our ETags (so it fails the check rather than being ignored)."""
    if not header:
        return None
    value = header.strip().removeprefix("W/").strip('"')
    if value.isascii() and value.isdigit() and len(value) <= 9:
        return int(value)
    return NO_REVISION
