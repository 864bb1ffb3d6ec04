"""Optimistic concurrency on the wire: a resource's revision is its ETag, and an update
names the one it read in If-Match (a stale one is a 412)."""

from __future__ import annotations

from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class IfMatchTags:
    """What an If-Match header names: some of our revisions, or any (``*``, RFC 9110
    13.1.1: whatever is current, so it matches whenever the resource exists)."""

    revisions: frozenset[int] = frozenset()
    any: bool = False

    @classmethod
    def exactly(cls, revision: int) -> IfMatchTags:
        return cls(frozenset({revision}))

    def matches(self, revision: int) -> bool:
        return self.any or revision in self.revisions


def parse_if_match(header: str | None) -> IfMatchTags | None:
    """The revisions an If-Match header names (``"3"``, or a list ``"2", "3"``): None when
    absent. A tag that is not one of our strong ETags names nothing, so a header of only
    such tags fails the check rather than being ignored. A weak tag (``W/"3"``) never
    matches: If-Match compares strongly (RFC 9110 13.1.1)."""
    if not header or not header.strip():
        return None
    if header.strip() == "*":
        return IfMatchTags(any=True)
    revisions = set()
    for tag in header.split(","):
        value = tag.strip()
        value = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else ""
        # Strong comparison is character by character: "06" is not the tag "6".
        if value.isascii() and value.isdigit() and len(value) <= 9 and value == str(int(value)):
            revisions.add(int(value))
    return IfMatchTags(frozenset(revisions))


def check_if_match(
    revision: int, if_match: IfMatchTags | None, *, required: bool, what: str
) -> None:
    """PreconditionFailedError (412, naming the current ETag) when ``if_match`` (from
    :func:`parse_if_match`) does not name ``revision``; PreconditionRequiredError (428)
    when it is absent and ``required``. ``what`` names the resource ("audience")."""
    if if_match is None and not required:
        return
    if if_match is None:
        raise PreconditionRequiredError(
            f"send If-Match with the {what}'s current ETag", current_etag=etag(revision)
        )
    if not if_match.matches(revision):
        raise PreconditionFailedError(
            f"the {what} has changed since that ETag was read; read it again",
            current_etag=etag(revision),
        )
