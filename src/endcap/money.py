"""Money, prices and shares as the API takes them: decimals with a fixed number of places.

Each is quantized to its column's scale as it is read (exactly: more places than that are
refused), so an answer made from what a request sent says ``"1234.50"``, as every later
read of the stored value does, and never ``"1234.5"``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, Field

from endcap.errors import InvalidRequestError


def _places(places: int) -> AfterValidator:
    step = Decimal(1).scaleb(-places)
    # + 0: "-0" is zero, and reads back as "0.00", never "-0.00".
    return AfterValidator(lambda value: value.quantize(step) + 0)


def share_setting(value: float) -> Decimal:
    """A share from the settings (a float) as :data:`Share` reads one: ``0.1`` -> ``0.100``."""
    return Decimal(str(value)).quantize(Decimal("0.001"))


# A budget: numeric(14, 2).
Money = Annotated[Decimal, Field(gt=0, max_digits=14, decimal_places=2), _places(2)]
# A channel's CPM on the rate card (0 allowed), and an audience's premium on it (not 0).
RateCpm = Annotated[Decimal, Field(ge=0, le=10_000, max_digits=10, decimal_places=2), _places(2)]
PremiumCpm = Annotated[Decimal, Field(gt=0, le=10_000, max_digits=10, decimal_places=2), _places(2)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. SEK")]
# A holdout share: numeric(4, 3).
Share = Annotated[Decimal, Field(gt=0, lt=1, max_digits=4, decimal_places=3), _places(3)]


def retailer_priced(given: str | None, retailer: str, pointer: str) -> str:
    """The currency a price is stored in: ``given``, or the retailer's when none is given.
    InvalidRequestError naming ``pointer`` when ``given`` is another: a rate card or an
    audience priced apart from the rest could be published, but no budget could pay it."""
    if given is None or given == retailer:
        return retailer
    message = (
        f"prices here are in {retailer} (ENDCAP_MARKETPLACE_CURRENCY), not {given}: every rate"
        " card, audience price and budget is in the same currency"
    )
    raise InvalidRequestError(message, errors=[{"field": pointer, "message": message}])
