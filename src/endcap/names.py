"""Text people write for others to read: names of audiences, campaigns and partners, a
creative's headline, descriptions and reasons that cross from one tenant to another. Each
is shown as typed, so it must be something a reader can see and tell apart."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Final

from pydantic import AfterValidator, Field

MAX_NAME_LENGTH: Final = 200  # the name columns' width

# Control and format characters (Cc, Cf: a bell, a bidi override that shows "txt.exe" as
# "exe.txt", a zero-width space that makes two equal-looking names differ), line and
# paragraph separators, and lone surrogates have no place in a one-line label.
_INVISIBLE: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Prose may run over lines and be indented; nothing else invisible.
_PROSE_LAYOUT: Final = frozenset("\n\r\t")
# A text of only these reads as blank: the invisible ones and spaces of every width (Zs;
# tabs and line breaks are Cc).
_SHOWS_NOTHING: Final = _INVISIBLE | {"Zs"}


def is_visible(text: str) -> bool:
    """Whether ``text`` shows anything: a character neither a space nor invisible."""
    return any(unicodedata.category(char) not in _SHOWS_NOTHING for char in text)


def _invisible(text: str, allowed: frozenset[str]) -> str | None:
    for char in text:
        if char not in allowed and unicodedata.category(char) in _INVISIBLE:
            return f"U+{ord(char):04X}"
    return None


# ValueError: pydantic turns only that into a validation error (422).
def _label(text: str) -> str:
    if not is_visible(text):
        raise ValueError("needs something to read besides spaces")
    if text != text.strip():
        # Refused, not trimmed: "Coffee" and "Coffee " would look like one name and be two.
        raise ValueError("does not start or end with spaces")
    if found := _invisible(text, frozenset()):
        raise ValueError(f"holds no control or formatting characters ({found})")
    return text


def _prose(text: str) -> str:
    if found := _invisible(text, _PROSE_LAYOUT):
        raise ValueError(
            f"holds no control or formatting characters but line breaks and tabs ({found})"
        )
    return text


# A one-line label: a name, a headline.
DisplayName = Annotated[
    str, Field(min_length=1, max_length=MAX_NAME_LENGTH), AfterValidator(_label)
]
# Free text shown to others (a description, a reason): it may be empty and run over lines.
ShownText = Annotated[str, AfterValidator(_prose)]
