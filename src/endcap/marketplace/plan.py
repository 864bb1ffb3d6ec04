"""How a booking turns reach, flight and frequency cap into impressions per week and a cost.

One function serves both the forecast and the booking, so what a brand is
quoted is what the booking then reserves. It works from the *rounded* reach
the brand saw: impressions and cost carry no more information about the
audience than the catalog already shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from endcap.privacy.channels import Channel

CENT = Decimal("0.01")


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week: capacity is kept per ISO week."""
    return day - timedelta(days=day.weekday())


def unrun_from(starts_on: date, ended_on: date) -> date:
    """The first ISO week (its Monday) a campaign that ended on ``ended_on`` does not run in.

    Once the flight has begun, the week it ended in has been (partly) delivered and
    stays spent: its capacity is not given back, and its contacts keep counting
    against the shoppers' weekly limit. A campaign ended before its flight gives back
    that week too.
    """
    this_week = week_start(ended_on)
    return this_week if starts_on > ended_on else this_week + timedelta(days=7)


def flight_days_per_week(starts_on: date, ends_on: date) -> dict[date, int]:
    """Days of the flight (both ends included) in each ISO week it touches."""
    days: dict[date, int] = {}
    day = starts_on
    while day <= ends_on:
        monday = week_start(day)
        days[monday] = days.get(monday, 0) + 1
        day += timedelta(days=1)
    return days


def cost_of(impressions: int, cpm: Decimal) -> Decimal:
    return (Decimal(impressions) * cpm / 1000).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    channel: Channel
    reach: int
    treatment_reach: int
    cpm: Decimal
    weeks: dict[date, int] = field(default_factory=dict)

    @property
    def impressions(self) -> int:
        return sum(self.weeks.values())

    @property
    def cost(self) -> Decimal:
        return cost_of(self.impressions, self.cpm)


@dataclass(frozen=True, slots=True)
class Plan:
    lines: list[ChannelPlan]
    budget_limited: bool

    @property
    def impressions(self) -> int:
        return sum(line.impressions for line in self.lines)

    @property
    def cost(self) -> Decimal:
        return sum((line.cost for line in self.lines), Decimal(0))


def plan(
    reach: Mapping[Channel, int],
    cpm: Mapping[Channel, Decimal],
    *,
    starts_on: date,
    ends_on: date,
    frequency_cap: int,
    holdout_share: Decimal,
    budget: Decimal | None = None,
) -> Plan:
    """Impressions per channel and week: treatment reach * cap * the week's days / 7.

    With a budget below the full cost, every week of every channel is cut by the
    same factor (rounded down), so the cost never exceeds the budget.
    """
    days = flight_days_per_week(starts_on, ends_on)
    lines = []
    for channel, shown in reach.items():
        treated = int((Decimal(shown) * (1 - holdout_share)).to_integral_value(ROUND_HALF_UP))
        weeks = {monday: treated * frequency_cap * n // 7 for monday, n in days.items()}
        lines.append(ChannelPlan(channel, shown, treated, cpm[channel], weeks))
    full = Plan(lines, budget_limited=False)
    if budget is None or full.cost <= budget or full.cost == 0:
        return full
    factor = budget / full.cost
    cut = [
        ChannelPlan(
            line.channel,
            line.reach,
            line.treatment_reach,
            line.cpm,
            {monday: int(n * factor) for monday, n in line.weeks.items()},
        )
        for line in lines
    ]
    trimmed = Plan(cut, budget_limited=True)
    # Each line's cost is rounded to the cent, so the sum can still top the budget by a
    # cent or two; take single impressions off the biggest week until it does not.
    while trimmed.cost > budget:
        line = max(trimmed.lines, key=lambda candidate: candidate.cost)
        monday = max(line.weeks, key=lambda week: line.weeks[week])
        line.weeks[monday] -= 1
    return trimmed
