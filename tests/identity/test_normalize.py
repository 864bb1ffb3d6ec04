"""Normalising identifiers: e-mails lower-cased and trimmed, phones in E.164, both hashed."""

from __future__ import annotations

import hashlib

import pytest

from endcap.identity.models import IdType
from endcap.identity.normalize import (
    InvalidIdentifierError,
    normalise_email,
    normalise_many,
    normalise_phone,
    stored_value,
)


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def test_an_email_is_trimmed_and_lower_cased_before_hashing() -> None:
    assert normalise_email("  Anna.Svensson@Example.COM\t") == "anna.svensson@example.com"
    expected = sha("anna.svensson@example.com")
    for spelling in (
        "anna.svensson@example.com",
        " ANNA.SVENSSON@EXAMPLE.COM ",
        "Anna.Svensson@example.Com",
    ):
        assert stored_value(IdType.EMAIL, spelling, region="SE") == expected


@pytest.mark.parametrize(
    "spelling",
    ["070-123 45 67", "0701234567", "+46 70 123 45 67", "+46701234567", "0046 70-1234567"],
)
def test_one_swedish_mobile_number_in_any_spelling_is_one_e164_hash(spelling: str) -> None:
    assert normalise_phone(spelling, "SE") == "+46701234567"
    assert stored_value(IdType.PHONE, spelling, region="SE") == sha("+46701234567")


def test_the_region_only_applies_to_numbers_without_a_country_code() -> None:
    assert normalise_phone("070-123 45 67", "SE") == "+46701234567"
    assert normalise_phone("+46 70 123 45 67", "GB") == "+46701234567"
    assert normalise_phone("020 7946 0018", "GB") == "+442079460018"


@pytest.mark.parametrize(
    ("id_type", "value", "reason"),
    [
        (IdType.EMAIL, "anna.example.com", "not an e-mail address"),
        (IdType.EMAIL, "anna@example", "not an e-mail address"),
        (IdType.EMAIL, "an na@example.com", "not an e-mail address"),
        (IdType.PHONE, "call me", "not a phone number"),
        (IdType.PHONE, "12", "not a possible phone number"),
        (IdType.LOYALTY_CARD, "   ", "empty identifier"),
        (IdType.DEVICE, "d" * 129, "longer than 128 characters"),
        (IdType.EMAIL, "abc123", "a hashed value must be 64 hex characters of SHA-256"),
    ],
)
def test_bad_identifiers_are_refused_with_a_reason(
    id_type: IdType, value: str, reason: str
) -> None:
    with pytest.raises(InvalidIdentifierError, match=f"^{reason}$"):
        stored_value(id_type, value, region="SE", is_hashed=value == "abc123")


def test_a_value_hashed_by_the_retailer_is_kept_as_its_lower_case_hex() -> None:
    digest = sha("anna@example.com")
    assert stored_value(IdType.EMAIL, digest.upper(), region="SE", is_hashed=True) == digest
    # ... and matches the same e-mail given raw.
    assert stored_value(IdType.EMAIL, "Anna@Example.com", region="SE") == digest


def test_other_identifiers_are_kept_as_given_but_trimmed() -> None:
    assert stored_value(IdType.LOYALTY_CARD, " 7350001234 ", region="SE") == "7350001234"
    assert stored_value(IdType.ACCOUNT, "Web-42", region="SE") == "Web-42"
    assert stored_value(IdType.DEVICE, "d" * 128, region="SE") == "d" * 128


def test_normalise_many_keeps_raw_only_when_asked_and_only_for_contact_data() -> None:
    types = ["email", "phone", "loyalty_card", "email", "email"]
    values = ["A@x.se", "070-123 45 67", "735", "bad", sha("b@x.se")]
    hashed = [False, False, False, False, True]

    plain = normalise_many(types, values, hashed, region="SE", keep_raw=False)
    assert plain.values == [sha("a@x.se"), sha("+46701234567"), "735", None, sha("b@x.se")]
    assert plain.raw == [None] * 5
    assert plain.bad.tolist() == [False, False, False, True, False]
    assert plain.reasons == ["", "", "", "not an e-mail address", ""]

    kept = normalise_many(types, values, hashed, region="SE", keep_raw=True)
    assert kept.values == plain.values
    assert kept.raw == ["A@x.se", "070-123 45 67", None, None, None]
