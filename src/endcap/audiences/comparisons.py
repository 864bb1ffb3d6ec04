"""Comparisons a rule makes, written once for SQL and for Python: ``compare`` builds the SQL
test, ``holds`` asks the same of an amount in Python (for a profile without rows), and
``share_test`` compares a ratio exactly, without dividing."""

from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, and_, literal
from sqlalchemy.sql import ColumnElement

from endcap.audiences.rules import Op

ZERO = Decimal(0)
COMPARE: dict[Op, Callable[[Any, Any], Any]] = {
    Op.GT: operator.gt,
    Op.GE: operator.ge,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
}


def compare(expression: Any, op: Op, values: tuple[Any, ...]) -> ColumnElement[bool]:
    """``expression op values`` (``between`` takes two values, ``in`` any number)."""
    if op is Op.BETWEEN:
        return expression.between(values[0], values[1])  # type: ignore[no-any-return]
    if op is Op.IN:
        return expression.in_(values)  # type: ignore[no-any-return]
    return COMPARE[op](expression, values[0])  # type: ignore[no-any-return]


def holds(op: Op, values: tuple[Decimal, ...], amount: Decimal) -> bool:
    """The same comparison in Python (for an amount the database has no row for)."""
    if op is Op.BETWEEN:
        return values[0] <= amount <= values[1]
    if op is Op.IN:
        return amount in values
    return bool(COMPARE[op](amount, values[0]))


def share_test(
    seller: Any, requirements: Any, op: Op, values: tuple[int | float, ...]
) -> ColumnElement[bool]:
    """``seller / requirements op value``, exactly, for requirements above 0.

    Each value is the fraction p/q its decimals write, and seller·q is compared with
    p·requirements: no division, so 0.01 of 0.05 is a share of 0.2 (dividing in binary
    floating point gives 0.19999999999999998), on PostgreSQL's decimals exactly and on
    SQLite's floats as nearly as they hold the amounts.
    """

    def side(value: int | float, compared: Op) -> ColumnElement[bool]:
        p, q = Decimal(str(value)).as_integer_ratio()
        whole = Numeric(38, 0)
        return COMPARE[compared](  # type: ignore[no-any-return]
            seller * literal(Decimal(q), whole), requirements * literal(Decimal(p), whole)
        )

    if op is Op.BETWEEN:
        return and_(side(values[0], Op.GE), side(values[1], Op.LE))
    return side(values[0], op)
