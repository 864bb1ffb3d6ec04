"""The privacy gate's policy numbers, read from ``ENDCAP_PRIVACY_*`` like the rest of privacy.

The defaults are also module constants so that the pure rules in this package
take them as keyword defaults without reading the environment at import time.
Lists are set from the environment as JSON, e.g.
``ENDCAP_PRIVACY_SENSITIVE_DEPARTMENTS='["Pharmacy","Baby","Alcohol","Tobacco"]'``.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_AUDIENCE = 1000
ROUND_TO = 100
K_THRESHOLD = 50
SENSITIVE_DEPARTMENTS: tuple[str, ...] = ("Pharmacy", "Baby", "Alcohol")


class PrivacyGateSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ENDCAP_PRIVACY_", extra="ignore")

    # Below this many profiles a booking could aim at a handful of known shoppers.
    min_audience: int = Field(default=MIN_AUDIENCE, ge=1)
    # Brand-facing counts are rounded to this, so one shopper more or less never shows.
    round_to: int = Field(default=ROUND_TO, ge=1)
    # A report row or audience difference resting on fewer profiles singles people out.
    k_threshold: int = Field(default=K_THRESHOLD, ge=2)
    # Departments whose purchases reveal health, family or habits; never used to target.
    sensitive_departments: tuple[str, ...] = SENSITIVE_DEPARTMENTS
    # Single categories marked the same way inside otherwise ordinary departments.
    sensitive_categories: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _minimum_is_a_rounding_step(self) -> Self:
        """A shown size is then never below the minimum it passed (1000 stays 1000)."""
        if self.min_audience % self.round_to:
            raise ValueError(
                f"min_audience ({self.min_audience}) must be a multiple of "
                f"round_to ({self.round_to})"
            )
        return self
