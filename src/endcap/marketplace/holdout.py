"""The holdout split: which of a campaign's audience members are kept out of every channel.

A shopper's side is a keyed hash of the campaign's salt and the profile id
(keyed BLAKE2b, a MAC): uniform, independent across campaigns, and the same
every time it is computed, so activation and measurement agree without a
per-shopper table. The salt is drawn once, when the campaign is approved, and
never again, so the split can never be re-drawn to flatter a result.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

SALT_BYTES = 16
_SCALE = 2**64


def new_salt() -> str:
    """A fresh random key for one campaign's split (hex)."""
    return secrets.token_hex(SALT_BYTES)


def position(salt: str, profile_id: int) -> float:
    """Where the profile falls in [0, 1) for this campaign's salt."""
    return _position(bytes.fromhex(salt), profile_id)


def _position(key: bytes, profile_id: int) -> float:
    digest = hashlib.blake2b(
        profile_id.to_bytes(8, "big", signed=True), key=key, digest_size=8
    ).digest()
    return int.from_bytes(digest, "big") / _SCALE


@dataclass(frozen=True, slots=True)
class HoldoutSplit:
    salt: str
    share: Decimal

    def in_holdout(self, profile_id: int) -> bool:
        return position(self.salt, profile_id) < float(self.share)

    def treatment(self, profile_ids: Iterable[int]) -> Iterator[int]:
        """The members that may be activated (the holdout is never sent anywhere)."""
        threshold = float(self.share)
        key = bytes.fromhex(self.salt)
        for profile_id in profile_ids:
            if _position(key, profile_id) >= threshold:
                yield profile_id

    def count(self, profile_ids: Iterable[int]) -> tuple[int, int]:
        """(treatment, holdout) sizes."""
        ids = list(profile_ids)
        treated = sum(1 for _ in self.treatment(ids))
        return treated, len(ids) - treated
