"""A stand-in for a channel's ingestion endpoint (an ad platform): a real HTTP server on
127.0.0.1, in a thread, that records every request and can be told to fail, or to hold
its answers (a slow channel) while a test acts during the push."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Behaviour:
    fail_first: int = 0  # answer fail_status to this many requests, then 200
    always_fail: bool = False
    fail_status: int = 503
    delay_seconds: float = 0.0  # how long each request takes to answer
    # While set and clear, each request waits for it (up to HOLD_SECONDS) before its answer.
    answer: threading.Event | None = None
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


HOLD_SECONDS = 30.0


class ChannelReceiver:
    def __init__(self) -> None:
        self.behaviour = Behaviour()
        behaviour = self.behaviour

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with behaviour.lock:
                    behaviour.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    failing = (
                        behaviour.always_fail or len(behaviour.requests) <= behaviour.fail_first
                    )
                    answer = behaviour.answer
                time.sleep(behaviour.delay_seconds)
                if answer is not None:
                    answer.wait(HOLD_SECONDS)
                self.send_response(behaviour.fail_status if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/ingest"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def requests(self) -> list[Received]:
        with self.behaviour.lock:
            return list(self.behaviour.requests)

    def hold(self) -> None:
        """Leave every request unanswered (the body is received and recorded) until
        :meth:`release`: a push in flight."""
        self.behaviour.answer = threading.Event()

    def release(self) -> None:
        if self.behaviour.answer is not None:
            self.behaviour.answer.set()

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Block until ``count`` requests arrived (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"{len(self.requests)} requests, not {count}"
            time.sleep(0.01)

    def __enter__(self) -> ChannelReceiver:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
