"""The privacy gate's policy numbers: defaults from the design, overridable from the
environment, and refused when they would contradict each other."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from endcap.config import PrivacySettings
from endcap.privacy.settings import PrivacyGateSettings


def test_the_defaults_are_the_designs(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "MIN_AUDIENCE",
        "ROUND_TO",
        "K_THRESHOLD",
        "SENSITIVE_DEPARTMENTS",
        "SENSITIVE_CATEGORIES",
    ):
        monkeypatch.delenv(f"ENDCAP_PRIVACY_{name}", raising=False)
    settings = PrivacyGateSettings()
    assert settings.min_audience == 1000
    assert settings.round_to == 100
    assert settings.k_threshold == 50
    assert settings.sensitive_departments == ("Pharmacy", "Baby", "Alcohol")
    assert settings.sensitive_categories == ()


def test_the_environment_sets_numbers_and_json_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENDCAP_PRIVACY_MIN_AUDIENCE", "5000")
    monkeypatch.setenv("ENDCAP_PRIVACY_ROUND_TO", "500")
    monkeypatch.setenv("ENDCAP_PRIVACY_K_THRESHOLD", "100")
    monkeypatch.setenv("ENDCAP_PRIVACY_SENSITIVE_DEPARTMENTS", '["Pharmacy", "Tobacco"]')
    settings = PrivacyGateSettings()
    assert (settings.min_audience, settings.round_to, settings.k_threshold) == (5000, 500, 100)
    assert settings.sensitive_departments == ("Pharmacy", "Tobacco")


def test_it_shares_the_prefix_with_the_erasure_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENDCAP_PRIVACY_ERASURE_TRANSACTIONS", "delete")
    monkeypatch.setenv("ENDCAP_PRIVACY_K_THRESHOLD", "75")
    assert PrivacyGateSettings().k_threshold == 75
    assert PrivacySettings().erasure_transactions == "delete"


def test_a_minimum_that_rounding_could_undercut_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENDCAP_PRIVACY_MIN_AUDIENCE", "1050")
    with pytest.raises(ValidationError, match="multiple of round_to"):
        PrivacyGateSettings()


@pytest.mark.parametrize(
    ("name", "value"), [("MIN_AUDIENCE", "0"), ("ROUND_TO", "0"), ("K_THRESHOLD", "1")]
)
def test_thresholds_that_protect_nobody_are_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(f"ENDCAP_PRIVACY_{name}", value)
    with pytest.raises(ValidationError):
        PrivacyGateSettings()
