"""The activation file: a campaign's treatment group, with consent, as one channel takes it.

Who is in it: every shopper in the booked audience versions (the union of the
versions the campaign pinned, each shopper once however many of its audiences
hold them), minus the holdout (the campaign's keyed-hash split; a holdout member is
never in any file, with or without consent), minus those without the channel's
consent purpose *at the moment of the export*, minus those the channel's contact limit
across campaigns leaves out (:mod:`endcap.activation.pressure`). ``members`` counts the
union, and each member is counted once, at the first of those steps that leaves them
out, so the counts add up: ``members = holdout_excluded + no_consent_excluded +
pressure_excluded + exported`` — except for ``offsite_social``, where a consented
treatment member within the limit but without any usable e-mail or phone is in no row,
so there the remainder ``members - holdout_excluded - no_consent_excluded -
pressure_excluded - exported`` counts them.

Formats (UTF-8 CSV, ``\\n`` line ends, a header row):

- ``offsite_social``: ``key_type,sha256`` — one hashed match key per row, ``EMAIL`` or
  ``PHONE``; the value is the lower-case hex SHA-256 of the e-mail lower-cased and
  trimmed, or of the phone in E.164 with its leading ``+``
  (:mod:`endcap.identity.normalize`). One key per row with its type is the shape of
  the hashed customer-list APIs of the big platforms (Google Ads ``UserIdentifier``
  ``hashed_email`` / ``hashed_phone_number``, Meta's ``EMAIL`` / ``PHONE`` schema keys);
  a connector maps the type column onto theirs. Shared identifiers are never written.
  A profile's keys are written once each, sorted.
- every other channel: ``profile_id`` — the retailer's profile ids, one per row, in
  ascending order (the onsite and in-store systems know them).

The file is written while the rows stream from the database, so memory stays bounded
by one chunk whatever the audience size. The profile ids of the exported members go,
chunk by chunk, to a second file beside it (``contacts``: native int64s), which is
recorded as the activation's contacts once the channel took the file. A match-key file
has a third (``owners``): the profile id of each of its rows, in order, since a hash
cannot be traced back once an erasure deleted the identifiers behind it
(:mod:`endcap.activation.spool` leaves out the rows of shoppers erased meanwhile).
"""

from __future__ import annotations

import csv
from array import array
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO, TextIO

from sqlalchemy import Row

from endcap.identity.models import IdType
from endcap.marketplace.holdout import HoldoutSplit

PROFILE_HEADER = ("profile_id",)
MATCH_KEY_HEADER = ("key_type", "sha256")
KEY_TYPE_LABELS = {IdType.EMAIL.value: "EMAIL", IdType.PHONE.value: "PHONE"}


@dataclass(slots=True)
class ExportCounts:
    members: int = 0
    holdout_excluded: int = 0
    no_consent_excluded: int = 0
    pressure_excluded: int = 0
    exported: int = 0
    match_keys: int | None = None  # offsite only


@dataclass(slots=True)
class _Profile:
    profile_id: int
    treated: bool
    consented: bool
    pressed: bool  # over the channel's contact limit with this campaign
    keys: set[tuple[str, str]] = field(default_factory=set)


class ExportWriter:
    """Feeds the streamed member rows (in ``profile_id`` order) into the CSV at ``handle``,
    the exported profile ids into ``contacts``, and, for a match-key file, the profile id
    of each of its rows into ``owners``."""

    def __init__(
        self,
        handle: TextIO,
        contacts: BinaryIO,
        split: HoldoutSplit,
        *,
        match_keys: bool,
        owners: BinaryIO | None = None,
    ) -> None:
        if match_keys and owners is None:
            raise ValueError("a match-key file needs its owners beside it")
        self.split = split
        self.match_keys = match_keys
        self.counts = ExportCounts(match_keys=0 if match_keys else None)
        self._csv = csv.writer(handle, lineterminator="\n")
        self._csv.writerow(MATCH_KEY_HEADER if match_keys else PROFILE_HEADER)
        self._contacts = contacts
        self._contacted = array("q")
        self._owners = owners
        self._owned = array("q")
        self._current: _Profile | None = None

    def add(self, rows: Sequence[Row[Any]], left_out: Collection[int] = frozenset()) -> None:
        """One chunk of rows; a profile's rows may run on into the next chunk.

        ``left_out``: the profiles of this chunk over the contact limit (see
        :mod:`endcap.activation.pressure`); a profile's first chunk decides.
        """
        treated = set(self.split.treatment({row[0] for row in rows}))
        for row in rows:
            profile_id = row[0]
            current = self._current
            if current is None or current.profile_id != profile_id:
                self._close(current)
                pressed = bool(left_out) and profile_id in left_out
                current = _Profile(profile_id, profile_id in treated, bool(row[1]), pressed)
                self._current = current
            if self.match_keys and row[2] is not None and current.treated and current.consented:
                current.keys.add((KEY_TYPE_LABELS[row[2]], row[3]))
        self._flush_contacts()

    def finish(self) -> ExportCounts:
        self._close(self._current)
        self._current = None
        self._flush_contacts()
        return self.counts

    def _flush_contacts(self) -> None:
        self._contacted.tofile(self._contacts)
        del self._contacted[:]
        if self._owners is not None:
            self._owned.tofile(self._owners)
            del self._owned[:]

    def _close(self, profile: _Profile | None) -> None:
        if profile is None:
            return
        counts = self.counts
        counts.members += 1
        if not profile.treated:
            counts.holdout_excluded += 1
        elif not profile.consented:
            counts.no_consent_excluded += 1
        elif profile.pressed:
            counts.pressure_excluded += 1
        elif not self.match_keys:
            counts.exported += 1
            self._contacted.append(profile.profile_id)
            self._csv.writerow((profile.profile_id,))
        elif profile.keys:
            counts.exported += 1
            counts.match_keys = (counts.match_keys or 0) + len(profile.keys)
            self._contacted.append(profile.profile_id)
            self._owned.extend([profile.profile_id] * len(profile.keys))
            self._csv.writerows(sorted(profile.keys))
