"""The one place where errors become RFC 9457 problem details.

Domain errors carry their own status and type; framework errors (routing,
validation, auth) and a database that is down are mapped here too. A client
never sees a stack trace, a SQL fragment or a hint about another tenant.
"""

from __future__ import annotations

import logging
import re
from enum import Enum
from typing import Any, get_args

from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    NotFoundException,
    ValidationException,
)
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from endcap.errors import EndcapError
from endcap.json_pointer import escaped
from endcap.request_checks import TOO_LARGE

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "urn:endcap:problem:"

log = logging.getLogger("endcap.problems")

_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("too-many-requests", "Too many requests"),
}

# Errors that mean "the database cannot be reached right now", not "your request is wrong".
# A lost connection also arrives as a DBAPIError whose connection is invalidated (an
# asyncpg InterfaceError among them). Not every InterfaceError: asyncpg raises one for a
# statement it refuses to send (over 32767 parameters), a fault no retry mends.
DATABASE_UNAVAILABLE = (OperationalError, PoolTimeoutError, OSError, TimeoutError)


# Paths are echoed in answers; one of 10 KB is shown cut, not sent back whole.
SHOWN_PATH_CHARS = 200


def shown_path(request: Request[Any, Any, Any]) -> str:
    path = request.url.path
    return path if len(path) <= SHOWN_PATH_CHARS else path[:SHOWN_PATH_CHARS] + "..."


def problem(
    request: Request[Any, Any, Any],
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": shown_path(request),
    }
    # Extension members add to the standard ones and never replace them.
    body.update({k: v for k, v in (extensions or {}).items() if k not in body})
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _domain(request: Request[Any, Any, Any], exc: EndcapError) -> Response[dict[str, Any]]:
    headers = {"WWW-Authenticate": 'Bearer realm="endcap"'} if exc.status_code == 401 else None
    return problem(
        request,
        exc.status_code,
        exc.problem_type,
        exc.title,
        exc.detail,
        headers=headers,
        extensions=exc.extra,
    )


def _validation(
    request: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    errors = [
        {
            "field": _field_name(item.get("key"), item.get("source")),
            "source": item.get("source", "body"),
            "message": _message(item) + _choices(request, item),
        }
        for item in (exc.extra if isinstance(exc.extra, list) else [])
        if isinstance(item, dict)
    ]
    if any(e["message"] == NO_BODY for e in errors):
        return _invalid_body(request, NO_BODY)
    extensions: dict[str, Any] = {"errors": errors[:MAX_ERRORS]}
    if len(errors) > MAX_ERRORS:
        extensions["errors_total"] = len(errors)
    return problem(
        request,
        422,
        "validation-error",
        "Invalid request",
        f"invalid value for {_named(errors)}",
        extensions=extensions,
    )


def _choices(request: Request[Any, Any, Any], item: dict[str, Any]) -> str:
    """`` (one of a, b, c)`` for a query or path parameter that is not one of its enum's
    values: Litestar's message names only what was sent ("Invalid enum value 'nope'")."""
    if item.get("source") not in ("query", "path") or "enum" not in str(item.get("message")):
        return ""
    handler = request.scope.get("route_handler")
    parameters = getattr(getattr(handler, "parsed_fn_signature", None), "parameters", {})
    annotation = getattr(parameters.get(item.get("key")), "annotation", None)
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, Enum):
            return f" (one of {', '.join(str(member.value) for member in candidate)})"
    return ""


# A client fixes the first few faults and sends again: a seed of 20,000 bad values had an
# answer of 2.8 MB, one entry and one name in the detail per value.
MAX_ERRORS = 50
FIELDS_IN_DETAIL = 3


def _named(errors: list[dict[str, Any]]) -> str:
    """The fields at fault, in the order found, the first few by name."""
    fields = list(dict.fromkeys(e["field"] for e in errors))
    named = ", ".join(fields[:FIELDS_IN_DETAIL]) or "the request"
    left = len(fields) - FIELDS_IN_DETAIL
    return f"{named} and {left} more" if left > 0 else named


NO_BODY = "the request needs a JSON body"
# How msgspec says a body is not JSON, in the ClientException Litestar raises.
_UNREADABLE_JSON = ("Input data was truncated", "JSON is malformed")
NOT_A_FORM = (
    "the request body is not multipart/form-data: an upload sends its file in the form field"
    " 'data' (curl -F data=@file.csv)"
)


def _message(item: dict[str, Any]) -> str:
    message = str(item.get("message", "invalid value"))
    # Litestar reports a missing value by the KeyError it caught: the quoted name alone.
    if message == repr(item.get("key")):
        return NO_BODY if item.get("key") == "data" else "a value is required"
    return message


def _field_name(key: object, source: object) -> str:
    # Litestar names the whole payload "data" (the handler argument); clients know it as the body.
    if not key or key == "data":
        return "body"
    name = str(key)
    if source not in (None, "body") or name.startswith("/"):  # a parameter, or a pointer
        return name
    # A place in the body (Litestar gives a body error no source), named as the services
    # name one: by JSON pointer. Litestar joins the steps with dots, so a member name
    # holding a dot is taken for two.
    return "".join(f"/{escaped(step)}" for step in name.split("."))


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[dict[str, Any]]:
    if type(exc) is ClientException:
        # Litestar raises a bare ClientException when the body cannot be decoded
        # at all (malformed JSON); that is a payload problem like any other.
        detail = exc.detail
        if at := _MSGSPEC_AT.fullmatch(detail):
            # Read as JSON, but not a value in it: a number too large that request_checks
            # could not find itself, the body being broken further on too.
            message = TOO_LARGE if "out of range" in at["message"] else at["message"]
            return _invalid_value(request, _pointer(at["path"]), message)
        if "JSON" in detail or "decode" in detail.lower() or detail.startswith(_UNREADABLE_JSON):
            detail = "the request body is not valid JSON"
        elif "multipart" in detail:  # only uploads take a form
            detail = NOT_A_FORM
        return _invalid_body(request, detail)
    slug, title = _TITLES.get(exc.status_code, ("http-error", "HTTP error"))
    detail = exc.detail
    if isinstance(exc, NotFoundException) and exc.detail == "Not Found":
        detail = f"no route {request.method} {shown_path(request)}"
    return problem(request, exc.status_code, slug, title, detail, headers=exc.headers)


# Where msgspec says a value is wrong: "Number out of range - at `$[...][0]`", "[...]"
# being a member it does not name.
_MSGSPEC_AT = re.compile(r"(?P<message>.+) - at `(?P<path>\$[^`]*)`")
_MSGSPEC_STEP = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")


def _pointer(path: str) -> str:
    """msgspec's path as a JSON pointer; "body" when it passes a member it does not name."""
    pointer = ""
    for name, index in _MSGSPEC_STEP.findall(path):
        if index == "...":
            return "body"
        pointer += f"/{index or escaped(name)}"
    return pointer or "body"


def _invalid_value(
    request: Request[Any, Any, Any], field: str, message: str
) -> Response[dict[str, Any]]:
    return problem(
        request,
        422,
        "validation-error",
        "Invalid request",
        f"invalid value for {field}",
        extensions={"errors": [{"field": field, "source": "body", "message": message}]},
    )


def _bad_encoding(
    request: Request[Any, Any, Any], exc: UnicodeDecodeError
) -> Response[dict[str, Any]]:
    # No byte position: the decoder reports it within the JSON string it was reading, not
    # within the body, and a wrong position misleads more than none.
    return _invalid_body(request, "the request body is not valid UTF-8")


def _too_deep(request: Request[Any, Any, Any], exc: RecursionError) -> Response[dict[str, Any]]:
    # msgspec gives up on a body nested deeper than Python's recursion limit (a 2 KB body of
    # brackets will do); any other RecursionError is a fault of ours.
    if "deserializing" in str(exc):
        return _invalid_body(request, "the request body is nested too deeply to be read")
    return _unexpected(request, exc)


def _invalid_body(request: Request[Any, Any, Any], detail: str) -> Response[dict[str, Any]]:
    return problem(
        request,
        422,
        "validation-error",
        "Invalid request",
        detail,
        extensions={"errors": [{"field": "body", "source": "body", "message": detail}]},
    )


def _database_down(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    log.warning("database unavailable: %s", type(exc).__name__)
    return problem(
        request,
        503,
        "service-unavailable",
        "Service unavailable",
        "the database is not reachable; try again shortly",
        headers={"Retry-After": "5"},
    )


def _unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[dict[str, Any]]:
    if isinstance(exc, DATABASE_UNAVAILABLE) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    ):
        return _database_down(request, exc)
    if isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        inner = exc.exceptions[0]
        if isinstance(inner, EndcapError):
            return _domain(request, inner)
        if isinstance(inner, Exception):
            return _unexpected(request, inner)
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem(request, 500, "internal-error", "Internal error", "an unexpected error occurred")


def exception_handlers() -> ExceptionHandlersMap:
    return {
        EndcapError: _domain,
        ValidationException: _validation,
        HTTPException: _http,
        UnicodeDecodeError: _bad_encoding,
        RecursionError: _too_deep,
        Exception: _unexpected,
    }


__all__ = ["PROBLEM_MEDIA_TYPE", "exception_handlers", "problem"]
