"""Optimistic concurrency on the wire: a resource's revision is its ETag, and an update
names the one it read in If-Match (a stale one is a 412)."""

from __future__ import annotations

from typing import Annotated, Protocol, TypeVar

from litestar import Response
from litestar.params import HeaderParameter

from endcap.errors import PreconditionFailedError, PreconditionRequiredError

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
# If-Match: * (RFC 9110 13.1.1): any current revision, so it matches whenever the resource
# exists.
ANY_REVISION = -2


def parse_if_match(header: str | None) -> int | None:
    """The revision an If-Match header names: None when absent, :data:`ANY_REVISION` for
    ``*``, :data:`NO_REVISION` when it is not one of our strong ETags (so it fails the check
    rather than being ignored). A weak tag (``W/"3"``) never matches: If-Match compares
    strongly (RFC 9110 13.1.1)."""
    if not header:
        return None
    stripped = header.strip()
    if stripped == "*":
        return ANY_REVISION
    value = stripped.strip('"') if stripped.startswith('"') else ""
    if value.isascii() and value.isdigit() and len(value) <= 9:
        return int(value)
    return NO_REVISION


def check_if_match(revision: int, if_match: int | None, *, required: bool, what: str) -> None:
    """PreconditionFailedError (412, naming the current ETag) when ``if_match`` (from
    :func:`parse_if_match`) is not ``revision``; PreconditionRequiredError (428) when it is
    absent and ``required``. ``what`` names the resource in the message ("audience")."""
    if if_match is None and not required:
        return
    if if_match is None:
        raise PreconditionRequiredError(
            f"send If-Match with the {what}'s current ETag", current_etag=etag(revision)
        )
    if if_match not in (revision, ANY_REVISION):
        raise PreconditionFailedError(
            f"the {what} has changed since that ETag was read; read it again",
            current_etag=etag(revision),
        )
