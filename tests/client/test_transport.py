"""The typed client's transport against real sockets: ``ready()`` answers a yes or no,
whether the server answers, is not there, or never answers."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from endcap.client import EndcapClient
from tests.support.server import ServerProcess


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_ready_is_true_when_the_server_answers(server: ServerProcess, admin_key: str) -> None:
    with EndcapClient(server.base_url, admin_key) as client:
        assert client.ready() is True


def test_ready_is_false_when_nothing_listens(closed_port: int) -> None:
    with EndcapClient(f"http://127.0.0.1:{closed_port}", "ek_unused") as client:
        assert client.ready() is False


def test_ready_is_false_when_the_server_never_answers(silent_port: int) -> None:
    with EndcapClient(f"http://127.0.0.1:{silent_port}", "ek_unused", timeout=0.5) as client:
        assert client.ready() is False
