"""Contact pressure across campaigns: a shopper's contacts per week on a channel, all brands.

A channel's ``max_per_profile_week`` says how often one shopper may hear from brands on
it in an ISO week. Booking checks only one campaign's frequency cap against it
(:mod:`endcap.marketplace.forecast`): who is in which campaign's file is known only when
the file is written (holdout and consent are decided then), so the limit across
campaigns is kept here, at export time, against what other campaigns' delivered files
already plan for each shopper.

The rule, for an export of campaign C on channel c: a consented treatment member is in
the file only if, in every ISO week of C's flight from the export's week to its end, the
frequency caps of the other campaigns whose latest delivered file on c holds them and
that still run that week, plus C's own cap, add up to at most c's ``max_per_profile_week``.

- Contacts are planned, not observed: a campaign counts its full cap in each week of
  its flight, whether or not the channel sends that many.
- A campaign's latest delivered file on c is its list there: a re-export replaces the
  file before it (that is how a consent withdrawal takes effect at the next export), so
  only the latest counts. A campaign never counts against its own export.
- A campaign cancelled or completed stops counting from the week after it ended: the
  week it ended in was (partly) delivered and stays spent, as its capacity does
  (:func:`endcap.marketplace.plan.unrun_from`); one ended before its flight began
  counts in no week.
- Weeks already past are not checked: a campaign whose flight is over leaves nobody
  out. One whose own cap is above the limit (lowered after it was booked) leaves
  everyone out while any of its weeks remain.

The export asks :meth:`ContactPressure.left_out` once per chunk of members, with the
other campaigns' contacts of that chunk read in one query, so memory stays bounded by
the chunk; exports on one channel take turns, so that two cannot both pass the check
(:mod:`endcap.activation.contacts`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from endcap.marketplace.plan import unrun_from, week_start

WEEK = timedelta(days=7)
# Distinct sets of other campaigns remembered between chunks; a handful in practice.
MAX_REMEMBERED = 4096


@dataclass(frozen=True, slots=True)
class Flight:
    """What a campaign plans per shopper on a channel: ``frequency_cap`` contacts in each
    ISO week from ``starts_on`` to ``ends_on``, unless it ended (``ended_on``) first."""

    starts_on: date
    ends_on: date
    frequency_cap: int
    ended_on: date | None = None

    def weeks_from(self, first: date) -> frozenset[date]:
        """The Mondays of the weeks it still plans contacts in, from ``first`` (a Monday)."""
        stop = week_start(self.ends_on) + WEEK
        if self.ended_on is not None:
            stop = min(stop, unrun_from(self.starts_on, self.ended_on))
        monday = max(week_start(self.starts_on), first)
        weeks = set()
        while monday < stop:
            weeks.add(monday)
            monday += WEEK
        return frozenset(weeks)


class ContactPressure:
    """The rule of the module docstring for one export: ``own`` is the exported campaign's
    flight, ``others`` the other campaigns' flights, each keyed by the id of its latest
    delivered file on the channel (its activation)."""

    def __init__(
        self, *, limit: int, own: Flight, others: Mapping[uuid.UUID, Flight], today: date
    ) -> None:
        self.limit = limit
        self.cap = own.frequency_cap
        self.weeks = own.weeks_from(week_start(today))
        # The files that can matter (their campaigns run in some of our weeks), and what
        # each adds in those weeks; contacts name a file by its position here.
        self.files: tuple[uuid.UUID, ...] = ()
        self._load: list[dict[date, int]] = []
        for file, flight in others.items():
            shared = flight.weeks_from(week_start(today)) & self.weeks
            if shared:
                self.files += (file,)
                self._load.append(dict.fromkeys(shared, flight.frequency_cap))
        self.excludes_everyone = bool(self.weeks) and self.cap > self.limit
        # Whether other campaigns could push anyone over at all; if not, no contacts are read.
        self.needs_contacts = not self.excludes_everyone and any(
            self.cap + sum(load.get(week, 0) for load in self._load) > self.limit
            for week in self.weeks
        )
        self._verdicts: dict[frozenset[int], bool] = {}

    def left_out(self, profile_ids: Iterable[int], contacts: Iterable[tuple[int, int]]) -> set[int]:
        """Which of ``profile_ids`` this export leaves out, given ``contacts``: (profile id,
        position in :attr:`files`) for each of those files that holds the profile."""
        asked = set(profile_ids)
        if self.excludes_everyone:
            return asked
        planned: dict[int, set[int]] = {}
        for profile_id, file in contacts:
            if profile_id in asked:
                planned.setdefault(profile_id, set()).add(file)
        return {p for p, files in planned.items() if not self._allows(frozenset(files))}

    def _allows(self, files: frozenset[int]) -> bool:
        verdict = self._verdicts.get(files)
        if verdict is None:
            loads = [self._load[f] for f in files]
            verdict = all(
                self.cap + sum(load.get(week, 0) for load in loads) <= self.limit
                for week in self.weeks
            )
            if len(self._verdicts) >= MAX_REMEMBERED:
                self._verdicts.clear()
            self._verdicts[files] = verdict
        return verdict
