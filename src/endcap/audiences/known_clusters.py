"""A value-cluster condition names labels a refresh issued: 1 up to the highest yet.

Labels are issued in order and never reused (traits/clusters.py), so a label above the
highest was never a cluster and would match nobody, silently. A request that names one
(an estimate, a new rule, an edit) is refused, pointing at the condition and saying which
labels exist. A refresh does not check: an audience saved before this check keeps
refreshing as it did (to nobody), and so does one on a retired label.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.rules import Op, Rule, TraitCondition, conditions, invalid_rule
from endcap.traits.cluster_labels import ClusterLabelRepository

# The comparisons that select the shoppers of the labels they name. "!=" selects everyone
# else, and an ordering of labels names none: neither is checked.
_NAMING = frozenset({Op.IN, Op.EQ})


async def ensure_known_clusters(session: AsyncSession, rule: Rule) -> None:
    """Raise :class:`~endcap.errors.InvalidRequestError` (422) when ``rule`` selects a
    value-cluster label no refresh issued, one error per condition."""
    named = [
        c
        for c in conditions(rule)
        if isinstance(c, TraitCondition) and c.trait.name == "value_cluster" and c.op in _NAMING
    ]
    if not named:
        return
    highest = await ClusterLabelRepository(session).highest_in_use()
    errors = []
    for condition in named:
        # The parser makes every value of this trait a whole number.
        unknown = sorted(
            {int(v) for v in condition.values if highest is None or not 1 <= int(v) <= highest}
        )
        if not unknown:
            continue
        labels = "none yet: refresh traits first" if highest is None else f"1 to {highest}"
        errors.append(
            {
                "field": condition.pointer,
                "message": f"no value cluster {', '.join(map(str, unknown))} (labels "
                f"issued: {labels}; GET /api/v1/traits/clusters shows them)",
            }
        )
    if errors:
        raise invalid_rule(errors)
