"""Names people give things others will see: audiences in the brands' catalog, campaigns,
partners. Each is shown as typed, so it must be something a reader can see and tell apart."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Final

from pydantic import AfterValidator, Field

MAX_NAME_LENGTH: Final = 200  # the name columns' width

# Control and format characters (Cc, Cf: a bell, a bidi override that shows "txt.exe" as
# "exe.txt", a zero-width space that makes two equal-looking names differ), line and
# paragraph separators, and lone surrogates have no place in a one-line label.
_INVISIBLE: Final = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


# ValueError: pydantic turns only that into a validation error (422).
def _visible(name: str) -> str:
    if not name.strip():
        raise ValueError("a name needs something besides spaces")
    if name != name.strip():
        # Refused, not trimmed: "Coffee" and "Coffee " would look like one name and be two.
        raise ValueError("a name does not start or end with spaces")
    for char in name:
        if unicodedata.category(char) in _INVISIBLE:
            raise ValueError(
                f"a name holds no control or formatting characters (U+{ord(char):04X})"
            )
    return name


DisplayName = Annotated[
    str, Field(min_length=1, max_length=MAX_NAME_LENGTH), AfterValidator(_visible)
]
