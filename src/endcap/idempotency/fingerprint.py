"""What a request asked, as one hash: a retry must ask the same to get the first answer.

A JSON body counts by what it says, not how it was written: clients that rebuild the
body for a retry (another JSON library, another dict order, pretty-printed or not) send
the same request. So a JSON body is hashed in a canonical form: object keys sorted, no
whitespace, strings with their escapes resolved. Numbers keep the text they were sent
in, because the handlers read money and shares as exact decimals: ``1.10`` and ``1.1``,
or two amounts that one float would round together, are different requests (a false
conflict costs the client a new key; a false replay would answer another request). A
body that is not JSON (or nests deeper than Python can follow) is hashed as sent.

An upload is too large to hold, so :class:`StreamedFingerprint` hashes it block by block
as it streams to its handler: the bytes as sent, except a multipart body's boundary,
which a client picks at random for each request it builds (a rebuilt retry of the same
file sends another one). An If-Match header is part of what was asked, when sent.
"""

from __future__ import annotations

import hashlib
import json
from email.message import Message
from typing import Any

# What every multipart delimiter ("--" and the boundary) is read as.
DELIMITER = b"--<boundary>"


class _Number(str):
    """A JSON number's literal text, kept as sent."""

    __slots__ = ()


def fingerprint(method: str, path: str, body: bytes, *, if_match: str | None = None) -> str:
    """The SHA-256 hex of ``method``, ``path``, ``if_match`` and :func:`canonical_body`."""
    return hashlib.sha256(_head(method, path, if_match) + canonical_body(body)).hexdigest()


class StreamedFingerprint:
    """The fingerprint of a body fed to :meth:`update` block by block, held in constant
    memory: the bytes as sent, each multipart delimiter read as :data:`DELIMITER`."""

    def __init__(
        self, method: str, path: str, *, content_type: str | None, if_match: str | None = None
    ) -> None:
        self._hash = hashlib.sha256(_head(method, path, if_match))
        boundary = multipart_boundary(content_type)
        self._delimiter = b"--" + boundary.encode("latin-1") if boundary else None
        self._carry = b""  # a tail that may be the start of a delimiter cut by the block's end

    def update(self, block: bytes) -> None:
        if self._delimiter is None:
            self._hash.update(block)
            return
        data, delimiter = self._carry + block, self._delimiter
        start = 0
        while (found := data.find(delimiter, start)) != -1:
            self._hash.update(data[start:found])
            self._hash.update(DELIMITER)
            start = found + len(delimiter)
        keep = max(start, len(data) - len(delimiter) + 1)
        self._hash.update(data[start:keep])
        self._carry = data[keep:]

    def hexdigest(self) -> str:
        whole = self._hash.copy()
        whole.update(self._carry)
        return whole.hexdigest()


def multipart_boundary(content_type: str | None) -> str | None:
    """The boundary parameter of a multipart Content-Type, else None."""
    if not content_type or not content_type.lower().lstrip().startswith("multipart/"):
        return None
    header = Message()
    header["content-type"] = content_type
    boundary = header.get_param("boundary")
    return boundary if isinstance(boundary, str) and boundary else None


def _head(method: str, path: str, if_match: str | None) -> bytes:
    head = f"{method} {path}\n"
    if if_match and if_match.strip():
        head += f"If-Match: {if_match.strip()}\n"
    return head.encode()


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
