"""Each request's server span and its one structured log line: method, path, status,
duration. No client address, in either.

The span replaces OpenTelemetry's ASGI instrumentation, which cost about an eighth of a
booking request's Python calls (tests/perf/profile_booking): it decoded every header for
each of its dozen header look-ups and filled in attributes Endcap does not keep (the
client's address among them). This one reads the trace context headers once, names the
span after the method and route, as the HTTP conventions ask, and records the status and
the duration (``http.server.request.duration``, when metrics are exported).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.semconv.attributes.http_attributes import (
    HTTP_REQUEST_METHOD,
    HTTP_RESPONSE_STATUS_CODE,
    HTTP_ROUTE,
)
from opentelemetry.semconv.attributes.network_attributes import NETWORK_PROTOCOL_VERSION
from opentelemetry.semconv.attributes.url_attributes import URL_PATH, URL_SCHEME
from opentelemetry.semconv.metrics.http_metrics import HTTP_SERVER_REQUEST_DURATION
from opentelemetry.trace import SpanKind, StatusCode

from endcap.observability.tracing import Telemetry

log = logging.getLogger("endcap.request")


def request_log_middleware(app: ASGIApp, telemetry: Telemetry | None = None) -> ASGIApp:
    """Logs every HTTP request; with ``telemetry``, inside a server span of its own."""
    tracer = telemetry.tracer_provider.get_tracer(__name__) if telemetry else None
    durations = (
        telemetry.meter_provider.get_meter(__name__).create_histogram(
            HTTP_SERVER_REQUEST_DURATION, unit="s", description="Duration of HTTP server requests"
        )
        if telemetry
        else None
    )
    carried = frozenset(name.encode() for name in propagate.get_global_textmap().fields)

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        if tracer is None or durations is None:
            try:
                await app(scope, receive, send_wrapper)
            finally:
                _log(scope, status, started)
            return
        method, route = scope["method"], scope.get("path_template") or scope["path"]
        attributes: dict[str, Any] = {
            HTTP_REQUEST_METHOD: method,
            HTTP_ROUTE: route,
            URL_PATH: scope["path"],
            URL_SCHEME: scope["scheme"],
            NETWORK_PROTOCOL_VERSION: scope["http_version"],
        }
        with tracer.start_as_current_span(
            f"{method} {route}",
            context=_parent(scope, carried),
            kind=SpanKind.SERVER,
            attributes=attributes,
        ) as span:
            try:
                await app(scope, receive, send_wrapper)
            finally:
                span.set_attribute(HTTP_RESPONSE_STATUS_CODE, status)
                if status >= 500:
                    span.set_status(StatusCode.ERROR)
                _log(scope, status, started)  # in the span: the line carries its trace id
                durations.record(
                    time.perf_counter() - started,
                    {
                        HTTP_REQUEST_METHOD: method,
                        HTTP_ROUTE: route,
                        HTTP_RESPONSE_STATUS_CODE: status,
                    },
                )

    return middleware


def _parent(scope: Scope, carried: frozenset[bytes]) -> Context | None:
    """The caller's trace context, from the headers the propagators read (W3C by default)."""
    carrier = {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope["headers"]
        if name in carried
    }
    return propagate.extract(carrier) if carrier else None


def _log(scope: Scope, status: int, started: float) -> None:
    log.info(
        "%s %s %s",
        scope.get("method"),
        scope["path"],
        status,
        extra={"status": status, "ms": round((time.perf_counter() - started) * 1000, 2)},
    )
