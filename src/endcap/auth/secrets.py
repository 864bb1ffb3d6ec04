"""Making and checking API key secrets.

A key reads ``<prefix>_<lookup>_<secret>``. The lookup part is stored in clear
to find the row; only a SHA-256 of the whole key is kept, so a database dump
yields no usable key. Keys are 256-bit random, so a fast hash is enough (no
password-stretching needed).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

LOOKUP_BYTES = 6  # 8 url-safe characters; unique per key, checked by the database
SECRET_BYTES = 32


@dataclass(frozen=True, slots=True)
class NewKey:
    plaintext: str
    lookup: str
    digest: str


def new_key(prefix: str) -> NewKey:
    lookup = secrets.token_urlsafe(LOOKUP_BYTES).replace("_", "x").replace("-", "y")
    plaintext = f"{prefix}_{lookup}_{secrets.token_urlsafe(SECRET_BYTES)}"
    return NewKey(plaintext=plaintext, lookup=lookup, digest=digest(plaintext))


def digest(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def split_lookup(plaintext: str, prefix: str) -> str | None:
    """The lookup part of a presented key, or None when it is not shaped like one of ours."""
    head, sep, rest = plaintext.partition("_")
    if head != prefix or not sep:
        return None
    lookup, sep, secret = rest.partition("_")
    if not sep or not lookup or not secret:
        return None
    return lookup


def matches(plaintext: str, stored_digest: str) -> bool:
    return hmac.compare_digest(digest(plaintext), stored_digest)
