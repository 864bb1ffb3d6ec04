"""The platform as an operator meets it: the CLI, a database that goes away,
the OpenAPI document, telemetry, and logs that hold no secrets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.instrumentation.utils import suppress_http_instrumentation

from endcap.auth.roles import Role
from endcap.client import EndcapClient
from tests.support.server import ServerProcess


def _endcap(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "endcap", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_cli_bootstraps_an_admin_key_that_the_api_accepts(
    server: ServerProcess, database_url: str
) -> None:
    done = _endcap(
        "keys",
        "create",
        "--role",
        "retailer_admin",
        "--name",
        "ops",
        env={"ENDCAP_DATABASE_URL": database_url},
    )
    assert done.returncode == 0, done.stderr
    key = next(line.split()[-1] for line in done.stdout.splitlines() if line.startswith("key:"))

    with EndcapClient(server.base_url, key) as client:
        assert client.me().role is Role.RETAILER_ADMIN
        key_id = client.me().key_id

    revoked = _endcap("keys", "revoke", str(key_id), env={"ENDCAP_DATABASE_URL": database_url})
    assert revoked.returncode == 0, revoked.stderr
    assert (
        httpx.get(
            f"{server.base_url}/api/v1/me", headers={"Authorization": f"Bearer {key}"}
        ).status_code
        == 401
    )


def test_cli_refuses_a_brand_key_without_partner(database_url: str) -> None:
    done = _endcap("keys", "create", "--role", "brand", env={"ENDCAP_DATABASE_URL": database_url})
    assert done.returncode != 0
    assert "partner" in done.stderr


def test_cli_migrate_on_an_empty_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    done = _endcap("migrate", env={"ENDCAP_DATABASE_URL": url})
    assert done.returncode == 0, done.stderr
    listed = _endcap("keys", "list", env={"ENDCAP_DATABASE_URL": url})
    assert listed.returncode == 0, listed.stderr


@pytest.fixture
def dead_database_server(backend: str, tmp_path: Path) -> ServerProcess:
    # A port nothing listens on (PostgreSQL), or a file in a folder that does not exist (SQLite).
    url = (
        "postgresql+asyncpg://postgres@127.0.0.1:9/endcap"
        if backend == "postgres"
        else f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'endcap.db'}"
    )
    server = ServerProcess(
        {"ENDCAP_DATABASE_URL": url, "ENDCAP_DATABASE_CONNECT_TIMEOUT": "2"}, tmp_path / "log"
    )
    server.start(wait_ready=False)
    yield server  # type: ignore[misc]
    server.stop()


def test_database_down_fails_readiness_and_answers_503_without_hanging(
    dead_database_server: ServerProcess, admin_key: str
) -> None:
    base = dead_database_server.base_url
    assert httpx.get(f"{base}/health/live").status_code == 200

    started = time.monotonic()
    ready = httpx.get(f"{base}/health/ready", timeout=15)
    request = httpx.get(
        f"{base}/api/v1/me", headers={"Authorization": f"Bearer {admin_key}"}, timeout=15
    )
    elapsed = time.monotonic() - started

    assert ready.status_code == 503
    assert ready.json()["type"] == "urn:endcap:problem:service-unavailable"
    assert request.status_code == 503
    assert request.headers["retry-after"] == "5"
    assert "postgres" not in request.text.lower()
    assert "sqlite" not in request.text.lower()
    assert elapsed < 10


def test_openapi_31_is_served_with_every_route_and_an_interactive_ui(server: ServerProcess) -> None:
    spec = httpx.get(f"{server.base_url}/schema/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert {"/api/v1/keys", "/api/v1/partners", "/api/v1/me", "/health/ready"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    ui = httpx.get(f"{server.base_url}/schema")
    assert ui.status_code == 200
    assert "text/html" in ui.headers["content-type"]


def test_logs_are_json_with_trace_ids_and_never_hold_a_key(
    server: ServerProcess, admin: EndcapClient, admin_key: str
) -> None:
    created = admin.create_key("log probe", Role.BUYER)
    with EndcapClient(server.base_url, created.key) as buyer:
        buyer.me()
    httpx.get(
        f"{server.base_url}/api/v1/me", headers={"Authorization": "Bearer ek_wrongkey_secretsecret"}
    )
    time.sleep(0.2)

    logs = server.logs()
    assert created.key not in logs
    assert admin_key not in logs
    assert "secretsecret" not in logs
    request_lines = [json.loads(line) for line in logs.splitlines() if '"endcap.request"' in line]
    assert request_lines, "the server logged no request lines"
    assert all(len(entry["trace_id"]) == 32 for entry in request_lines)
    assert not any("127.0.0.1" in json.dumps(entry) for entry in request_lines)


def test_console_trace_exporter_shows_http_and_sql_spans(
    database_url: str, admin_key: str, tmp_path: Path
) -> None:
    server = ServerProcess(
        {
            "ENDCAP_DATABASE_URL": database_url,
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_SERVICE_NAME": "endcap-test",
        },
        tmp_path / "traced.log",
    ).start()
    try:
        httpx.get(f"{server.base_url}/api/v1/me", headers={"Authorization": f"Bearer {admin_key}"})
    finally:
        server.stop()  # flushes the batch span processor
    logs = server.logs()
    assert '"service.name": "endcap-test"' in logs
    assert "GET /api/v1/me" in logs
    assert "SELECT" in logs


def test_a_request_continues_the_callers_trace_and_its_span_names_the_route(
    database_url: str, admin_key: str, tmp_path: Path
) -> None:
    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    server = ServerProcess(
        {"ENDCAP_DATABASE_URL": database_url, "OTEL_TRACES_EXPORTER": "console"},
        tmp_path / "traced.log",
    ).start()
    try:
        # Once any test has built the app in this process, OpenTelemetry instruments httpx
        # here too, and would write a traceparent of its own over the one sent.
        with suppress_http_instrumentation():
            answer = httpx.get(
                f"{server.base_url}/api/v1/partners/{uuid.uuid4()}",
                headers={
                    "Authorization": f"Bearer {admin_key}",
                    "traceparent": f"00-{caller_trace}-{caller_span}-01",
                },
            )
    finally:
        server.stop()  # flushes the batch span processor
    assert answer.status_code == 404
    logs = server.logs()
    # The request's log line and its server span belong to the caller's trace.
    lines = [json.loads(x) for x in logs.splitlines() if '"endcap.request"' in x]
    (line,) = [x for x in lines if x["msg"].startswith("GET /api/v1/partners/")]
    assert line["trace_id"] == caller_trace
    spans = _console_spans(logs)
    (server_span,) = [s for s in spans if s["name"].startswith("GET /api/v1/partners")]
    assert server_span["kind"] == "SpanKind.SERVER"
    assert server_span["context"]["trace_id"] == f"0x{caller_trace}"
    assert server_span["parent_id"] == f"0x{caller_span}"
    assert server_span["name"] == "GET /api/v1/partners/{partner_id}"
    assert server_span["attributes"]["http.response.status_code"] == 404
    assert server_span["attributes"]["http.route"] == "/api/v1/partners/{partner_id}"
    assert "127.0.0.1" not in json.dumps(server_span)  # no client address, as in the logs


def _console_spans(logs: str) -> list[dict[str, Any]]:
    """The spans the console exporter printed (indented JSON objects, one after another)."""
    decoder, spans, at = json.JSONDecoder(), [], 0
    while (at := logs.find("{\n", at)) != -1:
        try:
            found, end = decoder.raw_decode(logs, at)
        except ValueError:
            at += 1
            continue
        if isinstance(found, dict) and "context" in found and "kind" in found:
            spans.append(found)
        at = end
    return spans
