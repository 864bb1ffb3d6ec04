"""What a request asked, as one hash: a retry must ask the same to get the first answer.

A JSON body counts by what it says, not how it was written: clients that rebuild the
body for a retry (another JSON library, another dict order, pretty-printed or not) send
the same request. So a JSON body is hashed in a canonical form: object keys sorted, no
whitespace, strings with their escapes resolved. Numbers keep the text they were sent
in, because the handlers read money and shares as exact decimals: ``1.10`` and ``1.1``,
or two amounts that one float would round together, are different requests (a false
conflict costs the client a new key; a false replay would answer another request). A
body that is not JSON (or nests deeper than Python can follow) is hashed as sent.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


class _Number(str):
    """A JSON number's literal text, kept as sent."""

    __slots__ = ()


def fingerprint(method: str, path: str, body: bytes) -> str:
    """The SHA-256 hex of ``method``, ``path`` and :func:`canonical_body`."""
    head = f"{method} {path}\n".encode()
    return hashlib.sha256(head + canonical_body(body)).hexdigest()


def canonical_body(body: bytes) -> bytes:
    """``body`` in canonical JSON (see the module docstring), or as sent if it is not JSON."""
    try:
        parsed = json.loads(body, parse_float=_Number, parse_int=_Number)
        return _dump(parsed).encode()
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return body


def _dump(value: Any) -> str:
    if isinstance(value, _Number):
        return str(value)
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(f"{_string(k)}:{_dump(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    if isinstance(value, str):
        return _string(value)
    # True, False, None; and the NaN and Infinity json.loads lets through, as json.dumps
    # spells them.
    return json.dumps(value)


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)
