"""Routes that only read, outside a transaction: no BEGIN and COMMIT around their queries.

In READ COMMITTED, PostgreSQL's level here, every statement of a transaction reads its
own fresh snapshot anyway, so a handler that only reads sees exactly what it would see in
one: the transaction bought nothing but two round trips (a forecast's BEGIN and COMMIT,
tests/perf/profile_booking). Its session refuses any write, which would otherwise
commit on its own; the one write such a route makes on purpose goes around it, on the
session's connection (audiences/frozen_overlaps.py keeps an overlap's first count).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, UOWTransaction
from sqlmodel.orm.session import Session

READS_ONLY = "reads_only"  # a handler's opt: its request session may only read


class ReadsOnlySession(Session):
    """The sync session behind a reads-only route's AsyncSession."""


@event.listens_for(ReadsOnlySession, "do_orm_execute")
def _only_selects(state: ORMExecuteState) -> None:
    if not state.is_select:
        raise RuntimeError(f"a reads-only route may not run {state.statement}")


@event.listens_for(ReadsOnlySession, "before_flush")
def _no_flush(session: Session, _flush: UOWTransaction, _instances: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a reads-only route may not write")
