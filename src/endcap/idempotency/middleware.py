"""Idempotency-Key for the POST routes that opt in (``opt=IDEMPOTENT`` or ``IDEMPOTENT_UPLOAD``).

The first request with a key runs and its 2xx answer is remembered; a retry
with the same key, method, path, If-Match and body gets that answer again without
running twice; the same key with anything else is a 409. A JSON body is the
same when it says the same: key order and whitespace do not count (see
fingerprint.py). A request that fails leaves no record, so the client may
retry it. Keys belong to the API key that sent them, so two partners can never
see each other's answers.

A JSON body is small: it is read whole (within the route's body size limit), claimed,
then handed to the route. An upload is not held: it streams to the route as it would
without a key, hashed on the way, and the key is claimed when its last block has
arrived, before the route runs. A retry of a known key is hashed the same way without
running the route, and answered from the record.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Callable
from typing import Any, Literal

from litestar.enums import ScopeType
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Message, Receive, ReceiveMessage, Scope, Send
from litestar.types.asgi_types import (
    HTTPRequestEvent,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
)

from endcap.auth.principal import Principal
from endcap.concurrency import etag
from endcap.db.request_connection import RequestConnection, engine_from, request_connection_of
from endcap.errors import ConflictError
from endcap.idempotency import HIDDEN_FIELDS, STREAMED
from endcap.idempotency.fingerprint import StreamedFingerprint
from endcap.idempotency.fingerprint import fingerprint as fingerprint_of
from endcap.idempotency.repository import IdempotencyRepository

log = logging.getLogger(__name__)

HEADER = b"idempotency-key"
IF_MATCH = b"if-match"
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
        headers = dict(scope.get("headers", [])) if scope["type"] == ScopeType.HTTP else {}
        key = headers.get(HEADER)
        handler = scope.get("route_handler")
        user = scope.get("user")
        if (
            key is None
            or scope.get("method") != "POST"
            or not isinstance(handler, HTTPRouteHandler)
            or not handler.opt.get(OPT)
            or not isinstance(user, Principal)
        ):
            await app(scope, receive, send)
            return
        path = scope["path"]
        if sum(1 for name, _ in scope["headers"] if name == HEADER) > 1:
            # dict() kept the last line: which key the client meant is not ours to guess.
            body = _problem(
                422, "validation-error", "Invalid request", "send Idempotency-Key once", path
            )
            await _answer(send, 422, body, b"application/problem+json")
            return
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
        if_match = headers[IF_MATCH].decode("latin-1") if IF_MATCH in headers else None
        limit = handler.resolve_request_max_body_size()
        if _announced(headers) > (limit or math.inf):
            await _too_large(send, limit or 0, path)
            return
        shared = request_connection_of(scope) or RequestConnection(
            engine_from(scope["app"].state), body_read=False
        )
        remembered = IdempotencyRepository(shared)
        hidden = tuple(handler.opt.get(HIDDEN_FIELDS, ()))
        claim = _Claim(remembered, user, idempotency_key, path, hidden)
        if handler.opt.get(OPT) == STREAMED:
            content_type = headers.get(b"content-type", b"").decode("latin-1")
            hashing = StreamedFingerprint(
                "POST", path, content_type=content_type, if_match=if_match
            )
            await claim.streamed(app, scope, receive, send, hashing, limit)
            return
        # The (small, JSON) body is read once: to fingerprint it and to replay it to the handler.
        chunks: list[bytes] = []
        read = await _read(receive, chunks.append, limit)
        if read != "whole":
            await _unread(read, send, limit, path)
            return
        raw = b"".join(chunks)
        sent = False

        async def replay_body() -> ReceiveMessage:
            nonlocal sent
            if sent:
                return await receive()  # after the body: whatever the client does next
            sent = True
            request: HTTPRequestEvent = {"type": "http.request", "body": raw, "more_body": False}
            return request

        # The claim, the handler's transaction and the recorded answer share one checkout,
        # given back before the answer is sent (_replay, _Remembering.capture).
        shared.keep()
        try:
            if await claim.take(fingerprint_of("POST", path, raw, if_match=if_match), send):
                await claim.run(app, scope, replay_body, send)
        finally:
            await shared.release(kept=True)  # if still held (something failed on the way)

    return middleware


Read = Literal["whole", "too large", "gone"]


async def _read(receive: Receive, take: Callable[[bytes], object], limit: int | None) -> Read:
    """Feed the request body to ``take`` block by block: "whole" when it is all read, "too
    large" once it passes ``limit`` bytes, "gone" when the client went away."""
    total = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return "gone"
        block = message.get("body", b"")
        total += len(block)
        if limit is not None and total > limit:
            return "too large"
        take(block)
        if not message.get("more_body"):
            return "whole"


def _announced(headers: dict[bytes, bytes]) -> int:
    """The Content-Length a request announced (0 when none or unreadable)."""
    value = headers.get(b"content-length", b"")
    return int(value) if value.isdigit() else 0


async def _unread(read: Read, send: Send, limit: int | None, path: str) -> None:
    if read == "too large":
        await _too_large(send, limit or 0, path)
    # "gone": nobody is left to answer.


async def _too_large(send: Send, limit: int, path: str) -> None:
    detail = f"the request body is larger than the {limit} byte limit"
    body = _problem(413, "payload-too-large", "Payload too large", detail, path)
    await _answer(send, 413, body, b"application/problem+json")


class _KeyTakenError(ConflictError):
    """Raised into a streamed route whose key another request claimed while this one was
    arriving: the route stops before it runs, and the first request's answer is sent. A
    domain error, so the route's own answer to it (dropped) is not logged as a fault."""


class _Claim:
    """One request's Idempotency-Key: claim it and run the route, or answer from the record."""

    def __init__(
        self,
        remembered: IdempotencyRepository,
        user: Principal,
        key: str,
        path: str,
        hidden: tuple[str, ...] = (),
    ) -> None:
        self.remembered, self.user, self.key, self.path = remembered, user, key, path
        self.hidden = hidden

    async def take(self, fingerprint: str, send: Send) -> bool:
        """Claim the key for this request; when it is taken already, answer from the record
        (or with a 409) and return False."""
        if await self.remembered.claim(self.user.key_id, self.key, fingerprint):
            return True
        await self.answer_from_record(fingerprint, send)
        return False

    async def run(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        await _Remembering(self.remembered, self.user.key_id, self.key, self.hidden).run(
            app, scope, receive, send
        )

    async def answer_from_record(self, fingerprint: str, send: Send) -> None:
        await _replay(self.remembered, self.user, self.key, fingerprint, self.path, send)

    async def streamed(
        self,
        app: ASGIApp,
        scope: Scope,
        receive: Receive,
        send: Send,
        hashing: StreamedFingerprint,
        limit: int | None,
    ) -> None:
        """Run a route whose body streams to it (an upload), hashing the body on the way
        and claiming the key once it has all arrived, before the route runs."""
        known = await self.remembered.get(self.user.key_id, self.key) is not None
        # The body is still to come: wait for it holding no connection (request_connection.py).
        await self.remembered.connections.release()
        if known:
            # A retry: hashed without running the route, not kept (held to its size limit).
            read = await _read(receive, hashing.update, limit)
            if read == "whole":
                await self.answer_from_record(hashing.hexdigest(), send)
            else:
                await _unread(read, send, limit, self.path)
            return
        running = _Remembering(self.remembered, self.user.key_id, self.key, self.hidden)
        state: Literal["arriving", "claimed", "taken"] = "arriving"

        async def hashed() -> ReceiveMessage:
            nonlocal state
            message = await receive()
            if state == "arriving" and message["type"] == "http.request":
                hashing.update(message.get("body", b""))
                if not message.get("more_body"):
                    if await self.remembered.claim(self.user.key_id, self.key, hashing.hexdigest()):
                        state = "claimed"
                    else:
                        state = "taken"
                        raise _KeyTakenError("this Idempotency-Key was claimed meanwhile")
            return message

        async def answer(message: Message) -> None:
            if state == "claimed":
                await running.capture(message, send)
            elif state == "arriving":
                # Answered before the body had all arrived (too large, a guard): nothing
                # was claimed, nothing ran, so nothing is remembered.
                await send(message)
            # "taken": the route's answer is dropped; the record's is sent below.

        try:
            await app(scope, hashed, answer)
        finally:
            if state == "claimed" and not running.answered:
                await self.remembered.forget(self.user.key_id, self.key)
                await self.remembered.connections.release(kept=True)
        if state == "taken":
            await self.answer_from_record(hashing.hexdigest(), send)


class _Remembering:
    """Runs the claimed request and records its answer (2xx) or forgets the claim."""

    def __init__(
        self,
        remembered: IdempotencyRepository,
        key_id: uuid.UUID,
        key: str,
        hidden: tuple[str, ...] = (),
    ) -> None:
        self.remembered, self.key_id, self.key = remembered, key_id, key
        self.hidden = hidden  # the answer's fields never recorded (HIDDEN_FIELDS)
        self.status = 500
        self.start: Message | None = None
        self.out: list[bytes] = []
        # The handler made its whole answer. From then on the claim is never forgotten:
        # its work may be committed, and a retry must not run it again.
        self.answered = False

    async def run(self, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        async def capture(message: Message) -> None:
            await self.capture(message, send)

        try:
            await app(scope, receive, capture)
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
            body = _without(_json(b"".join(self.out)), self.hidden)
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


def _without(response: Any, hidden: tuple[str, ...]) -> Any:
    """``response`` with its ``hidden`` top-level fields set to null."""
    if not hidden or not isinstance(response, dict):
        return response
    return {name: None if name in hidden else value for name, value in response.items()}


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None
