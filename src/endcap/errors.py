"""Typed domain errors. Each carries its HTTP status and a stable problem type.

Services raise these; :mod:`endcap.problems` turns them into RFC 9457
responses in one place. 422 is kept for payload validation.
"""

from __future__ import annotations

from typing import Any, ClassVar


class EndcapError(Exception):
    status_code: ClassVar[int] = 400
    problem_type: ClassVar[str] = "bad-request"
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFoundError(EndcapError):
    """Unknown id, or an id that belongs to another tenant: the two look the same."""

    status_code = 404
    problem_type = "not-found"
    title = "Not found"


class ConflictError(EndcapError):
    status_code = 409
    problem_type = "conflict"
    title = "Conflict"


class AuthenticationError(EndcapError):
    status_code = 401
    problem_type = "unauthenticated"
    title = "Authentication required"


class PermissionDeniedError(EndcapError):
    status_code = 403
    problem_type = "forbidden"
    title = "Forbidden"


class InvalidRequestError(EndcapError):
    """A request that is well-formed but breaks a rule the payload schema cannot express."""

    status_code = 422
    problem_type = "validation-error"
    title = "Invalid request"


class UnavailableError(EndcapError):
    status_code = 503
    problem_type = "service-unavailable"
    title = "Service unavailable"


class PreconditionRequiredError(EndcapError):
    """An update that must name the revision it read (If-Match) named none."""

    status_code = 428
    problem_type = "precondition-required"
    title = "Precondition required"


class PreconditionFailedError(EndcapError):
    """An update named a revision (If-Match) that is no longer the current one."""

    status_code = 412
    problem_type = "precondition-failed"
    title = "Precondition failed"
