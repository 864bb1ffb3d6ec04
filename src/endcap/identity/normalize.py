"""Normalising identifiers on the way in: e-mails lower-cased and trimmed, phones in
E.164, both stored as SHA-256 hex so that raw contact data is never kept by default.

The same normalisation serves the look-up by identifier, erasure by identifier
and (later) offsite match keys, so that one person always hashes the same way.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import phonenumbers

from endcap.identity.models import IdType

HASHED = {IdType.EMAIL, IdType.PHONE}
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
# identifiers.id_value holds a hash (64) or a loyalty card, account or device id up to this.
MAX_STORED_LENGTH = 128


class InvalidIdentifierError(ValueError):
    pass


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def normalise_email(value: str) -> str:
    email = value.strip().lower()
    if not EMAIL.match(email):
        raise InvalidIdentifierError("not an e-mail address")
    return email


def normalise_phone(value: str, region: str) -> str:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentifierError("not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidIdentifierError("not a possible phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def stored_value(id_type: IdType, value: str, *, region: str, is_hashed: bool = False) -> str:
    """The value Endcap stores (and looks up) for an identifier. Raises InvalidIdentifierError."""
    value = value.strip()
    if id_type in HASHED:
        if is_hashed:
            digest = value.lower()
            if not SHA256_HEX.match(digest):
                raise InvalidIdentifierError("a hashed value must be 64 hex characters of SHA-256")
            return digest
        normalised = (
            normalise_email(value) if id_type is IdType.EMAIL else normalise_phone(value, region)
        )
        return sha256(normalised)
    if not value:
        raise InvalidIdentifierError("empty identifier")
    if len(value) > MAX_STORED_LENGTH:
        raise InvalidIdentifierError(f"longer than {MAX_STORED_LENGTH} characters")
    return value


@dataclass(slots=True)
class NormalisedColumn:
    values: list[str | None]
    raw: list[str | None]
    bad: np.ndarray
    reasons: list[str]


def normalise_many(
    id_types: list[str], values: list[str], hashed: list[bool], *, region: str, keep_raw: bool
) -> NormalisedColumn:
    """Normalise a chunk; each distinct input is worked out once (phones are costly)."""
    cache: dict[tuple[str, str, bool], str | InvalidIdentifierError] = {}
    out: list[str | None] = []
    raw: list[str | None] = []
    reasons: list[str] = []
    bad = np.zeros(len(values), dtype=bool)
    for index, key in enumerate(zip(id_types, values, hashed, strict=True)):
        if key not in cache:
            try:
                cache[key] = stored_value(IdType(key[0]), key[1], region=region, is_hashed=key[2])
            except InvalidIdentifierError as exc:
                cache[key] = exc
        result = cache[key]
        if isinstance(result, InvalidIdentifierError):
            bad[index] = True
            reasons.append(str(result))
            out.append(None)
            raw.append(None)
        else:
            reasons.append("")
            out.append(result)
            keeps = keep_raw and IdType(key[0]) in HASHED and not key[2]
            raw.append(key[1] if keeps else None)
    return NormalisedColumn(out, raw, bad, reasons)
