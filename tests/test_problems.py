"""Which database errors tell the caller to retry (503) and which are our fault (500)."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar, Request
from sqlalchemy.exc import InterfaceError, OperationalError

from endcap.problems import exception_handlers


def _request() -> Request[Any, Any, Any]:
    scope: Any = {
        "type": "http",
        "method": "POST",
        "path": "/api/v1/audiences/estimate",
        "raw_path": b"/api/v1/audiences/estimate",
        "query_string": b"",
        "headers": [],
        "app": Litestar(),
        "state": {},
    }
    return Request(scope)


def _status(exc: Exception) -> int:
    return exception_handlers()[Exception](_request(), exc).status_code  # type: ignore[operator, union-attr]


def test_a_statement_the_driver_refuses_to_send_is_not_a_database_outage() -> None:
    refused = InterfaceError(
        "SELECT ...", {}, Exception("the number of query arguments cannot exceed 32767")
    )
    assert _status(refused) == 500  # no retry mends it: a 503 asked for one


@pytest.mark.parametrize(
    "lost",
    [
        InterfaceError(
            "SELECT 1", {}, Exception("connection is closed"), connection_invalidated=True
        ),
        OperationalError("SELECT 1", {}, Exception("server closed the connection")),
        ConnectionRefusedError(111, "Connection refused"),
    ],
    ids=["invalidated", "operational", "refused"],
)
def test_a_lost_connection_is_a_503_to_retry(lost: Exception) -> None:
    assert _status(lost) == 503
