"""The promotion calendar: which SKUs are on promotion in which week, and how.

About 4% of the assortment is on promotion each week, chosen with a bias to
popular SKUs (brands promote their big sellers). Most promotions are a
percentage off (10-35%); one in five is a multibuy ("buy 2, pay for 1": every
second unit free), which needs two units to give a discount. Pharmacy and
alcohol are never promoted (Swedish rules).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from endcap.synthetic.arrays import BoolArray, FloatArray, IntArray
from endcap.synthetic.catalog import Catalog
from endcap.synthetic.taxonomy import DEPARTMENTS

PROMO_SHARE = 0.04
MULTIBUY_SHARE = 0.2
_DEPTHS = np.array([0.10, 0.15, 0.20, 0.25, 0.30, 0.35])
_DEPTH_P = np.array([0.15, 0.2, 0.25, 0.2, 0.12, 0.08])
_NEVER_PROMOTED = ("Pharmacy", "Alcohol")


@dataclass(frozen=True)
class PromoCalendar:
    skus: IntArray  # (weeks, m): the SKUs on promotion each week
    depth: FloatArray  # (weeks, skus): share off for percentage promotions, else 0
    multibuy: BoolArray  # (weeks, skus): every second unit free

    def on_promo(self, week: IntArray, sku: IntArray) -> BoolArray:
        out: BoolArray = (self.depth[week, sku] > 0) | self.multibuy[week, sku]
        return out


def plan_promotions(rng: np.random.Generator, catalog: Catalog, weeks: int) -> PromoCalendar:
    n = catalog.size
    excluded = np.isin(catalog.department, [DEPARTMENTS.index(d) for d in _NEVER_PROMOTED])
    weight = np.where(excluded, 0.0, catalog.popularity**0.5)
    weight /= weight.sum()
    m = max(5, round(PROMO_SHARE * int((~excluded).sum())))
    skus = np.empty((weeks, m), dtype=np.int64)
    depth = np.zeros((weeks, n), dtype=np.float32)
    multibuy = np.zeros((weeks, n), dtype=bool)
    for w in range(weeks):
        chosen = rng.choice(n, size=m, replace=False, p=weight)
        skus[w] = chosen
        multi = (rng.random(m) < MULTIBUY_SHARE) & ~catalog.by_weight[chosen]
        multibuy[w, chosen[multi]] = True
        depth[w, chosen[~multi]] = rng.choice(_DEPTHS, size=int((~multi).sum()), p=_DEPTH_P)
    return PromoCalendar(skus=skus, depth=depth, multibuy=multibuy)
