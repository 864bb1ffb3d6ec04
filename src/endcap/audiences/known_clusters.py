"""A value-cluster condition names labels a refresh issued: 1 up to the highest yet.

Labels are issued in order and never reused (traits/clusters.py), so a label above the
highest was never a cluster and would match nobody, silently; a rule naming one is
refused, pointing at the condition and saying which labels exist. A retired label is
accepted: an audience saved on it still refreshes (to the shoppers it holds now, none).
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.audiences.rules import Op, Rule, TraitCondition, conditions, invalid_rule
from endcap.traits.cluster_labels import ClusterLabelRepository

# The comparisons whose values are labels ("in", "=", "!="); an ordering of labels is odd
# but names no label.
_NAMING = frozenset({Op.IN, Op.EQ, Op.NE})


async def ensure_known_clusters(session: AsyncSession, rule: Rule) -> None:
    named = [
        c
        for c in conditions(rule)
        if isinstance(c, TraitCondition) and c.trait.name == "value_cluster" and c.op in _NAMING
    ]
    if not named:
        return
    highest = await ClusterLabelRepository(session).highest_issued()
    errors = []
    for condition in named:
        unknown = [v for v in condition.values if highest is None or not 1 <= int(v) <= highest]
        if not unknown:
            continue
        labels = "none yet: refresh traits first" if highest is None else f"1 to {highest}"
        errors.append(
            {
                "field": condition.pointer,
                "message": f"no value cluster {', '.join(str(v) for v in unknown)} (labels "
                f"issued: {labels}; GET /api/v1/traits/clusters shows them)",
            }
        )
    if errors:
        raise invalid_rule(errors)
