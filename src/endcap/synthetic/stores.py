"""Stores: one online store plus physical stores spread over Swedish regions by
population, about one per 2,000 profiles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from endcap.synthetic.arrays import FloatArray, IntArray
from endcap.synthetic.places import DISTRICTS, REGIONS

STORE_COLUMNS = ("store_id", "name", "region", "format")
PROFILES_PER_STORE = 2000
ONLINE = 0  # index of the online store
_FORMATS = ("hypermarket", "supermarket", "convenience")
_FORMAT_P = (0.12, 0.55, 0.33)
_FORMAT_PULL = (4.0, 2.0, 1.0)  # how many shoppers each format draws
_FORMAT_LABEL = {"hypermarket": "Endcap Stormarknad", "supermarket": "Endcap Market",
                 "convenience": "Endcap Nära"}  # fmt: skip


@dataclass(frozen=True)
class Stores:
    table: pa.Table
    store_id: pa.Array
    region: IntArray  # index into REGIONS; -1 for the online store
    pull: FloatArray  # relative attraction; 0 for the online store
    pull_cdf: FloatArray

    @property
    def size(self) -> int:
        return int(self.region.shape[0])


def store_count(profiles: int) -> int:
    return max(5, round(profiles / PROFILES_PER_STORE))


def build_stores(rng: np.random.Generator, profiles: int) -> Stores:
    n = store_count(profiles)
    population = np.array([r.population for r in REGIONS])
    regions = rng.choice(len(REGIONS), size=n - 1, p=population / population.sum())
    formats = rng.choice(len(_FORMATS), size=n - 1, p=np.array(_FORMAT_P))
    ids = [f"S{i + 1:04d}" for i in range(n)]
    names = ["Endcap Market Online"]
    region_names = ["Online"]
    format_names = ["online"]
    seen: set[str] = set(names)
    for r, f in zip(regions, formats, strict=True):
        region = REGIONS[int(r)]
        city = region.cities[int(rng.integers(len(region.cities)))]
        district = DISTRICTS[int(rng.integers(len(DISTRICTS)))]
        base = f"{_FORMAT_LABEL[_FORMATS[int(f)]]} {city} {district}"
        name, k = base, 2
        while name in seen:
            name, k = f"{base} {k}", k + 1
        seen.add(name)
        names.append(name)
        region_names.append(region.name)
        format_names.append(_FORMATS[int(f)])
    pull = np.concatenate([[0.0], np.array(_FORMAT_PULL)[formats] * rng.lognormal(0, 0.3, n - 1)])
    table = pa.table(
        {"store_id": ids, "name": names, "region": region_names, "format": format_names}
    )
    return Stores(
        table=table,
        store_id=table.column("store_id").combine_chunks(),
        region=np.concatenate([[-1], regions]).astype(np.int64),
        pull=pull,
        pull_cdf=np.cumsum(pull) / pull.sum(),
    )
