"""Migration 0032 gives each row of the estimate sample the slot the code computes for the
share the last refresh sampled (traits/sample.py), and puts the slot in the sample's spend
key before the id. A database of its own."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import DateTime, bindparam

from endcap.db import migrate
from endcap.traits.models import CATEGORY_SPEND
from endcap.traits.sample import SLOTS, is_sampled, slot
from tests.audiences.data import spend_row, traits_row
from tests.support.migrations import AT, database_at, run

SHARE = 0.25  # the last refresh's; an older one sampled half
# Ids past 2**31 too (the hash takes them modulo 2**31 first), each one the share samples.
SAMPLED = [i for i in (*range(1, 400), *range(2**31, 2**31 + 50)) if is_sampled(i, SHARE)][-30:]


@pytest.fixture
def url_at_0031(backend: str, tmp_path: Path) -> Iterator[str]:
    with database_at(backend, tmp_path, "0031") as url:
        yield url


def insert(url: str, table: str, row: dict[str, Any]) -> None:
    typed = [
        bindparam(k, type_=DateTime(timezone=True))
        for k, v in row.items()
        if isinstance(v, datetime)
    ]
    columns = ", ".join(row)
    values = ", ".join(f":{k}" for k in row)
    run(url, f"INSERT INTO {table} ({columns}) VALUES ({values})", typed, **row)  # noqa: S608


def add_refresh(url: str, share: float, finished: datetime) -> None:
    run(
        url,
        "INSERT INTO trait_refreshes (as_of, mode, profiles_recomputed, sample_share,"
        " sample_profiles, profiles, finished_at) VALUES (:at, 'full', 100, :share, 25, 100,"
        " :finished)",
        [bindparam("finished", type_=DateTime(timezone=True))],
        at=AT,
        share=share,
        finished=finished,
    )


def test_sampled_rows_take_the_slots_the_code_gives_them(url_at_0031: str, backend: str) -> None:
    url = url_at_0031
    # The last refresh by when it finished, written first: not the highest id.
    add_refresh(url, SHARE, AT + timedelta(days=1))
    add_refresh(url, 0.5, AT)
    for profile in SAMPLED:
        run(url, "INSERT INTO profiles (id, created_at) VALUES (:id, :at)", id=profile, at=AT)
        zeros = dict.fromkeys(CATEGORY_SPEND.values(), 0)
        insert(url, "profile_traits_sample", {**traits_row(profile), **zeros})
        for level, key in (("category", "Milk"), ("brand", "7")):
            insert(url, "profile_spend_sample", spend_row(profile, level, key, 1, 2, 3))

    migrate.upgrade(url, "0032")

    expected = sorted((p, slot(p, SHARE)) for p in SAMPLED)
    assert len({s for _, s in expected}) > SLOTS // 2  # the ids spread over the slots
    assert sum(p >= 2**31 for p in SAMPLED) >= 5
    traits = run(url, "SELECT profile_id, slot FROM profile_traits_sample ORDER BY profile_id")
    assert [(int(p), int(s)) for p, s in traits] == expected
    for key in ("Milk", "7"):
        spend = run(
            url,
            "SELECT profile_id, slot FROM profile_spend_sample WHERE key = :key"
            " ORDER BY profile_id",
            key=key,
        )
        assert [(int(p), int(s)) for p, s in spend] == expected
    if backend == "postgres":
        (definition,) = run(
            url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'pk_profile_spend_sample'"
        )[0]
        assert "(level, key, slot, profile_id) INCLUDE" in definition
    else:
        info = run(url, "PRAGMA table_info(profile_spend_sample)")
        keyed = sorted((pk, name) for _, name, _, _, _, pk in info if pk)
        assert [name for _, name in keyed] == ["level", "key", "slot", "profile_id"]

    command.downgrade(migrate.alembic_config(url), "0031")  # and back
    assert len(run(url, "SELECT profile_id FROM profile_spend_sample")) == 2 * len(SAMPLED)
    if backend == "postgres":
        (definition,) = run(
            url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'pk_profile_spend_sample'"
        )[0]
        assert "(level, key, profile_id) INCLUDE" in definition
        columns = run(
            url,
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'slot'"
            " AND table_name LIKE 'profile_%_sample'",
        )
        assert columns == []
    else:
        info = run(url, "PRAGMA table_info(profile_spend_sample)")
        keyed = sorted((pk, name) for _, name, _, _, _, pk in info if pk)
        assert [name for _, name in keyed] == ["level", "key", "profile_id"]
        for table in ("profile_spend_sample", "profile_traits_sample"):
            assert "slot" not in {name for _, name, *_ in run(url, f"PRAGMA table_info({table})")}


def test_without_a_sampled_refresh_the_empty_sample_migrates(url_at_0031: str) -> None:
    migrate.upgrade(url_at_0031, "0032")
    assert run(url_at_0031, "SELECT count(*) FROM profile_spend_sample") == [(0,)]
