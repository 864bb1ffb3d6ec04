"""The campaign state machine: which action moves which state to which, and who may take it.

    draft -book-> submitted -approve-> approved -schedule-> scheduled -start-> live
    submitted -reject-> rejected      live -pause-> paused -resume-> live
    live or paused -complete-> completed
    cancel: from any state before completed (draft, submitted, approved, scheduled, live, paused)

Anything else is a 409 naming the current state. Every move is written to the
audit trail (campaign_events) with the API key and role that made it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from endcap.auth.roles import Role
from endcap.errors import ConflictError, InvalidRequestError, PermissionDeniedError
from endcap.marketplace.models import CampaignStatus as S


class Action(StrEnum):
    CREATE = "create"
    BOOK = "book"
    APPROVE = "approve"
    REJECT = "reject"
    SCHEDULE = "schedule"
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    COMPLETE = "complete"
    CANCEL = "cancel"


@dataclass(frozen=True, slots=True)
class Move:
    sources: frozenset[S]
    target: S
    by: frozenset[Role]


_RETAILER = frozenset({Role.RETAILER_ADMIN})
_BOTH = frozenset({Role.RETAILER_ADMIN, Role.BRAND})

MOVES: Mapping[Action, Move] = MappingProxyType(
    {
        Action.BOOK: Move(frozenset({S.DRAFT}), S.SUBMITTED, _BOTH),
        Action.APPROVE: Move(frozenset({S.SUBMITTED}), S.APPROVED, _RETAILER),
        Action.REJECT: Move(frozenset({S.SUBMITTED}), S.REJECTED, _RETAILER),
        Action.SCHEDULE: Move(frozenset({S.APPROVED}), S.SCHEDULED, _RETAILER),
        Action.START: Move(frozenset({S.SCHEDULED}), S.LIVE, _RETAILER),
        Action.PAUSE: Move(frozenset({S.LIVE}), S.PAUSED, _BOTH),
        Action.RESUME: Move(frozenset({S.PAUSED}), S.LIVE, _BOTH),
        Action.COMPLETE: Move(frozenset({S.LIVE, S.PAUSED}), S.COMPLETED, _RETAILER),
        Action.CANCEL: Move(
            frozenset({S.DRAFT, S.SUBMITTED, S.APPROVED, S.SCHEDULED, S.LIVE, S.PAUSED}),
            S.CANCELLED,
            _BOTH,
        ),
    }
)

# Moves that end a booking: the capacity of weeks it will not run in goes back.
RELEASES_CAPACITY = frozenset({Action.REJECT, Action.CANCEL, Action.COMPLETE})


class IllegalTransitionError(ConflictError):
    problem_type = "illegal-transition"
    title = "Illegal transition"


def target_of(action: Action, current: S, role: Role) -> S:
    """The state ``action`` leads to from ``current``.

    PermissionDeniedError (403) when the role may never take it (a brand approving);
    IllegalTransitionError (409, with ``current_status``, and what is
    possible now) when the action does not apply to that state.
    """
    move = MOVES[action]
    if role not in move.by:
        raise PermissionDeniedError(f"only the retailer may {action.value} a campaign")
    if current not in move.sources:
        allowed = sorted(a.value for a, m in MOVES.items() if current in m.sources and role in m.by)
        raise IllegalTransitionError(
            f"cannot {action.value} a campaign that is {current.value}"
            + (f"; possible now: {', '.join(allowed)}" if allowed else ""),
            current_status=current.value,
            allowed=allowed,
        )
    return move.target


def parse_action(name: str) -> Action:
    """The move ``name`` asks for; InvalidRequestError naming the moves there are."""
    found = next((action for action in MOVES if action.value == name), None)
    if found is None:
        message = f"no action {name!r}: one of {', '.join(a.value for a in MOVES)}"
        raise InvalidRequestError(message, errors=[{"field": "action", "message": message}])
    return found
