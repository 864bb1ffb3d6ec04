from __future__ import annotations

import uuid
from dataclasses import dataclass

from endcap.auth.roles import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request.

    ``partner_id`` is set exactly when ``role`` is :attr:`Role.BRAND`; services
    scope every brand query by it.
    """

    key_id: uuid.UUID
    role: Role
    partner_id: uuid.UUID | None

    @property
    def is_brand(self) -> bool:
        return self.role is Role.BRAND
