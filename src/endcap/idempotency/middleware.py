"""Idempotency-Key for the POST routes that opt in (``opt={"idempotent": True}``).

The first request with a key runs and its 2xx answer is remembered; a retry
with the same key, method, path and body gets that answer again without
running twice; the same key with anything else is a 409. A JSON body is the
same when it says the same: key order and whitespace do not count (see
fingerprint.py). A request that fails leaves no record, so the client may
retry it. Keys belong to the API key that sent them, so two partners can never
see each other's answers.
"""

from __future__ import annotations

import json
import logging
import uuid
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
from endcap.db.request_connection import RequestConnection, engine_from, request_connection_of
from endcap.idempotency.fingerprint import fingerprint as fingerprint_of
from endcap.idempotency.repository import IdempotencyRepository

log = logging.getLogger(__name__)

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
        fingerprint = fingerprint_of("POST", path, raw)
        shared = request_connection_of(scope) or RequestConnection(
            engine_from(scope["app"].state), body_read=True
        )
        remembered = IdempotencyRepository(shared)
        # The claim, the handler's transaction and the recorded answer share one checkout,
        # given back before the answer is sent (_replay, _Remembering.capture).
        shared.keep()
        try:
            if not await remembered.claim(user.key_id, idempotency_key, fingerprint):
                await _replay(remembered, user, idempotency_key, fingerprint, path, send)
                return
            await _Remembering(remembered, user.key_id, idempotency_key).run(
                app, scope, raw, receive, send
            )
        finally:
            await shared.release(kept=True)  # if still held (something failed on the way)

    return middleware


class _Remembering:
    """Runs the claimed request and records its answer (2xx) or forgets the claim."""

    def __init__(self, remembered: IdempotencyRepository, key_id: uuid.UUID, key: str) -> None:
        self.remembered, self.key_id, self.key = remembered, key_id, key
        self.status = 500
        self.start: Message | None = None
        self.out: list[bytes] = []
        # The handler made its whole answer. From then on the claim is never forgotten:
        # its work may be committed, and a retry must not run it again.
        self.answered = False

    async def run(
        self, app: ASGIApp, scope: Scope, raw: bytes, receive: Receive, send: Send
    ) -> None:
        sent = False

        async def replay_body() -> ReceiveMessage:
            nonlocal sent
            if sent:
                return await receive()  # after the body: whatever the client does next
            sent = True
            request: HTTPRequestEvent = {"type": "http.request", "body": raw, "more_body": False}
            return request

        async def capture(message: Message) -> None:
            await self.capture(message, send)

        try:
            await app(scope, replay_body, capture)
        finally:
            if not self.answered:  # no answer was made: nothing to remember, the client may retry
                await self.remembered.forget(self.key_id, self.key)
                await self.remembered.connections.release(kept=True)

    async def capture(self, message: Message, send: Send) -> None:
        # The answer is recorded before the client can read it: a client that retries the
        # moment it has the answer must get it again, not "still running".
        if message["type"] == "http.response.start":
            self.status, self.start = message["status"], message
        elif message["type"] == "http.response.body":
            self.out.append(message.get("body", b""))
            if not message.get("more_body"):
                self.answered = True
                try:
                    await self.settle()
                except Exception:
                    # The client still gets its answer. The claim stays "running", so a
                    # retry gets a 409 instead of doing the work twice, until the claim
                    # goes stale (IdempotencyRepository.claim).
                    log.exception("could not record the answer to an Idempotency-Key")
                await self.remembered.connections.release(kept=True)  # before the client waits
                if self.start is not None:
                    await send(self.start)
                whole: HTTPResponseBodyEvent = {
                    "type": "http.response.body",
                    "body": b"".join(self.out),
                    "more_body": False,
                }
                await send(whole)
        else:
            await send(message)

    async def settle(self) -> None:
        if 200 <= self.status < 300:
            body = _json(b"".join(self.out))
            await self.remembered.complete(self.key_id, self.key, self.status, body)
        else:
            await self.remembered.forget(self.key_id, self.key)


async def _replay(
    remembered: IdempotencyRepository,
    user: Principal,
    key: str,
    fingerprint: str,
    path: str,
    send: Send,
) -> None:
    first = await remembered.get(user.key_id, key)
    await remembered.connections.release(kept=True)
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
