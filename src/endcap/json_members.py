"""Member names given twice in one JSON object, which the parsers we use (msgspec, the
standard library) resolve silently to the last value: `"budget": "5000.00", …,
"budget": "1.00"` would book 1.00. Request bodies and NDJSON rows refuse them instead.

The text is read again only when it may hold such a name. Two counts over its bytes give
the most member names it can hold: its colons (enough when no value holds one), or else
its '":' once whitespace is taken out (a value holding a time or a URL). When the
document already read has that many members, none was given twice, which is nearly
always so; the walk that counts them stops there, objects first.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from typing import Any

from endcap.json_pointer import child

REPEATED_MEMBER = "given more than once; give each member of an object once"


def repeated_members(text: bytes, document: Any) -> list[str]:
    """JSON pointers to the members that ``text`` gives more than once in an object, in
    document order. ``document`` is ``text`` as read already (a repeated member once).
    [] when there are none, or when the standard library cannot read ``text`` again."""
    colons = text.count(b":")
    members = _members(document, colons)
    if members >= colons:
        return []
    # A member name ends '"', whitespace, ':'; a '":' inside a string only adds to this.
    if members >= text.translate(None, b" \t\n\r").count(b'":'):
        return []
    try:
        reread = json.loads(text, object_pairs_hook=_object)
    except (ValueError, RecursionError):
        return []
    return _repeated_in(reread)


def _members(document: Any, enough: int) -> int:
    """How many members ``document`` has, counted until ``enough`` are found: objects
    first, so a long list is looked into only when the objects outside it fall short (the
    ids of a lookalike seed are not walked)."""
    objects: list[dict[str, Any]] = [document] if isinstance(document, dict) else []
    lists: list[list[Any]] = [document] if isinstance(document, list) else []
    count = len(document) if objects else 0
    while count < enough and (objects or lists):
        values: Iterable[Any] = objects.pop().values() if objects else lists.pop()
        for value in values:
            if isinstance(value, dict):
                objects.append(value)
                count += len(value)
            elif isinstance(value, list):
                lists.append(value)
    return count


class _Repeats(dict[str, Any]):
    """An object read again that gave some of its member names more than once."""

    repeated: list[str]


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    read = dict(pairs)
    if len(read) == len(pairs):
        return read
    repeats = _Repeats(read)
    repeats.repeated = [name for name, times in Counter(n for n, _ in pairs).items() if times > 1]
    return repeats


def _repeated_in(document: Any) -> list[str]:
    found: list[str] = []
    stack: list[tuple[str, Any, bool]] = [("", document, False)]
    while stack:
        pointer, value, repeated = stack.pop()
        if repeated:
            found.append(pointer)
        if isinstance(value, dict):
            twice = value.repeated if isinstance(value, _Repeats) else ()
            members = [(child(pointer, k), v, k in twice) for k, v in value.items()]
            stack.extend(reversed(members))
        elif isinstance(value, list):
            stack.extend(reversed([(child(pointer, i), v, False) for i, v in enumerate(value)]))
    return found
