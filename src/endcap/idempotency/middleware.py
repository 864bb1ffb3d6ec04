"""Idempotency-Key for the POST routes that opt in (``opt={"idempotent": True}``).

The first request with a key runs and its 2xx answer is remembered; a retry
with the same key, method, path and body gets that answer again without
running twice; the same key with anything else is a 409. A request that fails
leaves no record, so the client may retry it. Keys belong to the API key that
sent them, so two partners can never see each other's answers.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from litestar.types.asgi_types import (
    HTTPRequestEvent,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
)

from endcap.auth.principal import Principal
from endcap.concurrency import etag
from endcap.db.session import read_session_factory_from
from endcap.idempotency.repository import IdempotencyRepository

HEADER = b"idempotency-key"
OPT = "idempotent"
MAX_KEY_LENGTH = 200


def _problem(status: int, slug: str, title: str, detail: str, path: str) -> bytes:
    return json.dumps(
        {
            "type": f"urn:endcap:problem:{slug}",
            "title": title,
            "status": status,
            "detail": detail,
            "instance": path,
        }
    ).encode()


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    media_type: bytes = b"application/json",
    extra_headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [(b"content-type", media_type), *(extra_headers or [])],
    }
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(start)
    await send(end)


def idempotency_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        key = (
            dict(scope.get("headers", [])).get(HEADER) if scope["type"] == ScopeType.HTTP else None
        )
        handler = scope.get("route_handler")
        user = scope.get("user")
        if (
            key is None
            or scope.get("method") != "POST"
            or handler is None
            or not handler.opt.get(OPT)
            or not isinstance(user, Principal)
        ):
            await app(scope, receive, send)
            return
        path = scope["path"]
        idempotency_key = key.decode("latin-1").strip()
        if not idempotency_key or len(idempotency_key) > MAX_KEY_LENGTH:
            body = _problem(
                422,
                "validation-error",
                "Invalid request",
                f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters",
                path,
            )
            await _answer(send, 422, body, b"application/problem+json")
            return
        # Buffer the (small, JSON) body once: to fingerprint it and to replay it to the handler.
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message["body"])
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        fingerprint = hashlib.sha256(b"POST " + path.encode() + b"\n" + raw).hexdigest()
        remembered = IdempotencyRepository(read_session_factory_from(scope["app"].state))
        claimed = await remembered.claim(user.key_id, idempotency_key, fingerprint)
        if claimed is None:
            await _replay(remembered, user, idempotency_key, fingerprint, path, send)
            return

        sent = False

        async def replay_body() -> ReceiveMessage:
            nonlocal sent
            if sent:
                return await receive()  # after the body: whatever the client does next
            sent = True
            request: HTTPRequestEvent = {"type": "http.request", "body": raw, "more_body": False}
            return request

        status = 500
        out: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                out.append(message.get("body", b""))
            await send(message)

        try:
            await app(scope, replay_body, capture)
        finally:
            if 200 <= status < 300:
                await remembered.complete(
                    user.key_id, idempotency_key, status, _json(b"".join(out))
                )
            else:
                await remembered.forget(user.key_id, idempotency_key)

    return middleware


async def _replay(
    remembered: IdempotencyRepository,
    user: Principal,
    key: str,
    fingerprint: str,
    path: str,
    send: Send,
) -> None:
    first = await remembered.get(user.key_id, key)
    if first is None or first.fingerprint != fingerprint:
        body = _problem(
            409,
            "idempotency-key-reused",
            "Conflict",
            "this Idempotency-Key was used for a different request",
            path,
        )
        await _answer(send, 409, body, b"application/problem+json")
    elif first.status_code is None:
        body = _problem(
            409,
            "idempotency-key-in-flight",
            "Conflict",
            "the first request with this Idempotency-Key is still running; retry shortly",
            path,
        )
        await _answer(send, 409, body, b"application/problem+json")
    else:
        await _answer(
            send,
            first.status_code,
            json.dumps(first.response).encode(),
            b"application/json",
            _etag_of(first.response),
        )


def _etag_of(response: Any) -> list[tuple[bytes, bytes]]:
    # Versioned resources (audiences, campaigns) answer with ETag = their revision; a replay
    # sends it again so a retried create can go straight on to an If-Match update.
    revision = response.get("revision") if isinstance(response, dict) else None
    if isinstance(revision, int) and not isinstance(revision, bool):
        return [(b"etag", etag(revision).encode())]
    return []


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
