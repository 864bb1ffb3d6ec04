"""JSON pointers (RFC 6901), how every error names the place in a body it is about."""

from __future__ import annotations


def escaped(name: str) -> str:
    """``name`` as a step of a JSON pointer ("~" as "~0", "/" as "~1")."""
    return name.replace("~", "~0").replace("/", "~1")


def child(pointer: str, token: str | int) -> str:
    """``pointer`` extended by one member name or list index."""
    return f"{pointer}/{escaped(str(token))}"
