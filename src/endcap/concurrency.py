"""Optimistic concurrency on the wire: a resource's revision is its ETag, and an update
names the one it read in If-Match (a stale one is a 412)."""

from __future__ import annotations

from typing import Annotated, Protocol, TypeVar

from litestar import Response
from litestar.params import HeaderParameter

from endcap.errors import PreconditionFailedError

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


def check_if_match(revision: int, if_match: int | None, *, required: bool, what: str) -> None:
    """PreconditionFailedError (412, naming the current ETag) when ``if_match`` (from
    :func:`parse_if_match`) is not ``revision``, or is absent and ``required``. ``what``
    names the resource in the message ("audience")."""
    if if_match is None and not required:
        return
    if if_match is None:
        detail = f"send If-Match with the {what}'s current ETag"
    elif if_match != revision:
        detail = f"the {what} has changed since that ETag was read; read it again"
    else:
        return
    raise PreconditionFailedError(detail, current_etag=etag(revision))
