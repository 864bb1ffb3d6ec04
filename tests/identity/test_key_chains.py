"""Key chains through the loaders, on a real, fresh database: identifiers hashed on the way
in, records sharing an identifier merged into one profile (and recorded), shared
identifiers flagged and never merged on, splits, determinism, and transaction lines that
follow their customer's profile."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from endcap.identity.models import IdType
from endcap.identity.normalize import stored_value
from endcap.identity.repository import IdentityRepository
from endcap.identity.resolution import resolve
from tests.ingest.support import (
    DATA_TABLES,
    Db,
    clone_database,
    drop_database,
    make_settings,
    write,
)

IDS_HEADER = "customer_id,id_type,id_value\n"


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def customers(db: Db, tmp_path: Path, count: int) -> None:
    content = "customer_id\n" + "".join(f"C{n}\n" for n in range(1, count + 1))
    report = await db.load("customers", write(tmp_path / "customers.csv", content))
    assert report.status == "loaded"


async def identifiers(db: Db, tmp_path: Path, content: str, name: str = "ids.csv", **kw: object):  # type: ignore[no-untyped-def]
    report = await db.load("identifiers", write(tmp_path / name, IDS_HEADER + content),
                           make_settings(**kw))  # type: ignore[arg-type]  # fmt: skip
    assert report.status == "loaded", report.rejections
    return report


async def profiles(db: Db) -> dict[str, int]:
    return dict(await db.rows("SELECT customer_id, profile_id FROM customers"))


def groups(profile_of: dict[str, int]) -> list[list[str]]:
    """The grouping of records into profiles, independent of the ids."""
    by_profile: dict[int, list[str]] = {}
    for customer, profile in profile_of.items():
        by_profile.setdefault(profile, []).append(customer)
    return sorted(sorted(members) for members in by_profile.values())


async def test_emails_and_phones_are_stored_only_as_sha256_of_the_normalised_value(
    db: Db, tmp_path: Path
) -> None:
    await customers(db, tmp_path, 3)
    await identifiers(
        db,
        tmp_path,
        "C1,email,  Anna.Svensson@Example.COM \n"
        "C2,phone,070-123 45 67\n"
        "C3,loyalty_card,7350001234\n",
    )

    rows = await db.rows(
        "SELECT c.customer_id, i.id_type, i.id_value, i.raw_value FROM identifiers i "
        "JOIN customers c ON c.id = i.customer_ref ORDER BY 1"
    )
    assert rows == [
        ("C1", "email", sha("anna.svensson@example.com"), None),
        ("C2", "phone", sha("+46701234567"), None),
        ("C3", "loyalty_card", "7350001234", None),
    ]
    # No raw contact data anywhere in the database's data tables.
    for table in (*DATA_TABLES, "ingest_runs"):
        dump = " ".join(" ".join(map(str, r)) for r in await db.rows(f"SELECT * FROM {table}"))  # noqa: S608
        assert "svensson" not in dump.lower()
        assert "123 45 67" not in dump
        assert "+46701234567" not in dump


async def test_raw_values_are_kept_beside_the_hash_only_when_enabled(
    db: Db, tmp_path: Path
) -> None:
    await customers(db, tmp_path, 2)
    await identifiers(
        db, tmp_path, "C1,email, Anna@Example.com\nC2,phone,070-123 45 67\n", keep_raw=True
    )
    assert await db.rows(
        "SELECT id_type, id_value, raw_value FROM identifiers ORDER BY id_type"
    ) == [
        ("email", sha("anna@example.com"), "Anna@Example.com"),
        ("phone", sha("+46701234567"), "070-123 45 67"),
    ]


async def test_two_spellings_of_one_phone_number_are_one_person(db: Db, tmp_path: Path) -> None:
    await customers(db, tmp_path, 3)
    before = await profiles(db)
    report = await identifiers(
        db, tmp_path, "C1,phone,070-123 45 67\nC2,phone,+46 70 123 45 67\nC3,phone,0701234568\n"
    )
    assert await db.scalar("SELECT count(DISTINCT id_value) FROM identifiers") == 2
    after = await profiles(db)
    assert after == {"C1": before["C1"], "C2": before["C1"], "C3": before["C3"]}
    assert report.resolution is not None
    assert (report.resolution["profiles"], report.resolution["merges"]) == (2, 1)


async def test_records_sharing_an_email_become_one_profile_and_the_merge_is_recorded(
    db: Db, tmp_path: Path
) -> None:
    await customers(db, tmp_path, 3)
    before = await profiles(db)
    assert len(set(before.values())) == 3

    report = await identifiers(db, tmp_path, "C1,email,pat@example.com\nC2,email,Pat@Example.com\n")

    after = await profiles(db)
    assert after == {"C1": before["C1"], "C2": before["C1"], "C3": before["C3"]}
    assert await db.rows(
        "SELECT from_profile_id, into_profile_id, kind, customers_moved FROM profile_merges"
    ) == [(before["C2"], before["C1"], "merge", 1)]
    # The merged-away profile is gone; the rest remain.
    assert sorted(r[0] for r in await db.rows("SELECT id FROM profiles")) == sorted(
        {before["C1"], before["C3"]}
    )
    assert report.resolution == {
        "customers": 3,
        "profiles": 2,
        "new_profiles": 0,
        "customers_moved": 1,
        "merges": 1,
        "splits": 0,
        "shared_identifiers": 0,
    }


async def test_a_chain_of_different_identifiers_is_one_profile(db: Db, tmp_path: Path) -> None:
    await customers(db, tmp_path, 5)
    await identifiers(
        db,
        tmp_path,
        "C1,email,a@example.com\nC2,email,a@example.com\nC2,loyalty_card,L1\n"
        "C3,loyalty_card,L1\nC3,device,D9\nC4,device,D9\nC5,account,L1\n",
    )
    # C5's account "L1" is not the loyalty card "L1": the type is part of the identifier.
    assert groups(await profiles(db)) == [["C1", "C2", "C3", "C4"], ["C5"]]
    assert await db.count("profiles") == 2
    assert await db.count("profile_merges") == 3


async def test_an_identifier_on_more_records_than_the_threshold_is_flagged_not_merged(
    db: Db, tmp_path: Path
) -> None:
    await customers(db, tmp_path, 4)
    before = await profiles(db)
    report = await identifiers(
        db,
        tmp_path,
        "C1,loyalty_card,HOUSE\nC2,loyalty_card,HOUSE\nC3,loyalty_card,HOUSE\n"
        "C3,email,c3@example.com\nC4,email,C3@example.com\n",
        shared_identifier_threshold=2,
    )
    # The house card is on 3 records (> 2): flagged, and it joins nobody.
    assert await db.rows("SELECT id_type, id_value, customer_count FROM shared_identifiers") == [
        ("loyalty_card", "HOUSE", 3)
    ]
    after = await profiles(db)
    assert groups(after) == [["C1"], ["C2"], ["C3", "C4"]]
    assert (after["C1"], after["C2"]) == (before["C1"], before["C2"])
    assert report.resolution is not None
    assert (report.resolution["shared_identifiers"], report.resolution["merges"]) == (1, 1)
    # At the threshold itself it is not shared: two records on one card are one person.
    await identifiers(db, tmp_path, "C1,loyalty_card,FAMILY\nC2,loyalty_card,FAMILY\n",
                      name="ids2.csv", shared_identifier_threshold=2)  # fmt: skip
    assert groups(await profiles(db)) == [["C1", "C2"], ["C3", "C4"]]


async def test_an_identifier_that_becomes_shared_splits_the_records_it_had_joined(
    db: Db, tmp_path: Path
) -> None:
    await customers(db, tmp_path, 3)
    start = await profiles(db)
    await identifiers(
        db, tmp_path, "C1,email,fam@example.com\nC2,email,fam@example.com\n",
        shared_identifier_threshold=2,
    )  # fmt: skip
    joined = await profiles(db)
    assert joined == {"C1": start["C1"], "C2": start["C1"], "C3": start["C3"]}

    report = await identifiers(
        db, tmp_path, "C3,email,fam@example.com\n", name="ids2.csv", shared_identifier_threshold=2
    )

    after = await profiles(db)
    assert len(set(after.values())) == 3
    assert after["C1"] == start["C1"]  # the lowest record keeps the profile
    assert after["C3"] == start["C3"]
    assert after["C2"] not in start.values()  # a new profile for the record that left
    assert await db.rows(
        "SELECT from_profile_id, into_profile_id, kind, customers_moved FROM profile_merges "
        "ORDER BY id"
    ) == [(start["C2"], start["C1"], "merge", 1), (start["C1"], after["C2"], "split", 1)]
    assert report.resolution is not None
    assert (report.resolution["splits"], report.resolution["new_profiles"]) == (1, 1)
    assert await db.rows("SELECT id_value, customer_count FROM shared_identifiers") == [
        (sha("fam@example.com"), 3)
    ]
    assert await db.count("profiles") == 3


async def test_transaction_lines_follow_their_customer_through_a_merge_and_a_split(
    db: Db, tmp_path: Path
) -> None:
    await db.seed_catalog(tmp_path)  # C1, C2, C3
    tx = (
        "transaction_id,occurred_at,sku,quantity,sales_value,customer_id\n"
        "T1,2024-03-01,SKU1,1,10,C1\nT2,2024-03-02,SKU2,1,10,C2\nT3,2024-03-03,SKU3,1,10,C2\n"
        "T4,2024-03-04,SKU1,1,10,C3\nT5,2024-03-05,SKU1,1,10,\n"
    )
    assert (await db.load("transactions", write(tmp_path / "tx.csv", tx))).rows_inserted == 5
    line_profiles = "SELECT t.transaction_id, t.profile_id FROM transactions t ORDER BY 1"
    start = await profiles(db)

    await identifiers(db, tmp_path, "C1,email,x@example.com\nC2,email,x@example.com\n",
                      shared_identifier_threshold=2)  # fmt: skip
    merged = await profiles(db)
    assert merged["C2"] == merged["C1"] == start["C1"]
    assert await db.rows(line_profiles) == [
        ("T1", start["C1"]), ("T2", start["C1"]), ("T3", start["C1"]), ("T4", start["C3"]),
        ("T5", None),
    ]  # fmt: skip

    await identifiers(db, tmp_path, "C3,email,x@example.com\n", name="ids2.csv",
                      shared_identifier_threshold=2)  # fmt: skip
    split = await profiles(db)
    assert split["C2"] not in {split["C1"], split["C3"]}
    assert await db.rows(line_profiles) == [
        ("T1", split["C1"]), ("T2", split["C2"]), ("T3", split["C2"]), ("T4", split["C3"]),
        ("T5", None),
    ]  # fmt: skip


async def test_resolution_is_repeatable(db: Db, tmp_path: Path) -> None:
    await customers(db, tmp_path, 6)
    await identifiers(
        db,
        tmp_path,
        "C1,email,a@example.com\nC4,email,a@example.com\nC2,phone,0701234567\n"
        "C6,phone,+46701234567\nC5,device,D1\n",
    )
    first = await profiles(db)
    merges = await db.count("profile_merges")
    async with db.sessions() as session:
        report = await resolve(session, shared_threshold=5)
        await session.commit()
    assert await profiles(db) == first
    assert await db.count("profile_merges") == merges
    assert (report.customers_moved, report.new_profiles, report.merges, report.splits) == (
        0,
        0,
        0,
        0,
    )
    # Reloading the identifiers changes nothing either.
    await identifiers(db, tmp_path, "C1,email,A@example.com\nC5,device,D1\n", name="ids2.csv")
    assert await profiles(db) == first


async def test_the_same_data_in_a_fresh_database_gives_the_same_profiles(
    db: Db, tmp_path: Path, template_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    async def load_all(target: Db, folder: Path) -> dict[str, int]:
        await customers(target, folder, 8)
        await identifiers(
            target,
            folder,
            "C7,email,a@example.com\nC2,email,a@example.com\nC3,loyalty_card,L\n"
            "C8,loyalty_card,L\nC5,phone,0701234567\nC2,phone,070 123 45 67\n",
        )
        return await profiles(target)

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    here = await load_all(db, tmp_path / "a")
    url = await clone_database(template_url, tmp_path_factory.mktemp("second"))
    other = Db(url)
    try:
        there = await load_all(other, tmp_path / "b")
    finally:
        await other.engine.dispose()
        await drop_database(url)
    assert groups(here) == [["C1"], ["C2", "C5", "C7"], ["C3", "C8"], ["C4"], ["C6"]]
    assert there == here


async def test_a_profile_can_be_found_by_any_of_its_identifiers(db: Db, tmp_path: Path) -> None:
    await customers(db, tmp_path, 2)
    await identifiers(db, tmp_path, "C1,email,pat@example.com\nC2,email,pat@example.com\n"
                      "C2,phone,0701234567\n")  # fmt: skip
    async with db.sessions() as session:
        repository = IdentityRepository(session)
        by_email = await repository.customers_by_identifier(
            IdType.EMAIL, stored_value(IdType.EMAIL, " PAT@example.com", region="SE")
        )
        by_phone = await repository.customers_by_identifier(
            IdType.PHONE, stored_value(IdType.PHONE, "+46 70 123 45 67", region="SE")
        )
    assert [c.customer_id for c in by_email] == ["C1", "C2"]
    assert [c.customer_id for c in by_phone] == ["C2"]
    assert by_phone[0].profile_id == by_email[0].profile_id


async def test_bad_identifiers_are_named_and_nothing_is_stored(db: Db, tmp_path: Path) -> None:
    await customers(db, tmp_path, 2)
    await identifiers(db, tmp_path, "C1,email,keep@example.com\n")
    before = await db.snapshot(*DATA_TABLES)
    content = (
        "customer_id,id_type,id_value,is_hashed\n"
        "C1,email,not-an-email,\n"
        "C2,phone,call me,\n"
        "C2,fax,123,\n"
        f"C2,device,{'d' * 129},\n"
        "C2,email,abc,true\n"
    )
    path = write(tmp_path / "bad.csv", content)
    report = await db.load("identifiers", path)
    assert report.status == "rejected"
    assert [(r.line, r.column, r.reason) for r in report.rejections] == [
        (2, "id_value", "not an e-mail address"),
        (3, "id_value", "not a phone number"),
        (4, "id_type", "must be one of loyalty_card, email, phone, account, device (got 'fax')"),
        (5, "id_value", "longer than 128 characters"),
        (6, "id_value", "a hashed value must be 64 hex characters of SHA-256"),
    ]
    assert await db.snapshot(*DATA_TABLES) == before


async def test_a_hashed_email_matches_the_same_email_given_raw(db: Db, tmp_path: Path) -> None:
    await customers(db, tmp_path, 2)
    digest = sha("pat@example.com").upper()
    report = await db.load(
        "identifiers",
        write(
            tmp_path / "ids.csv",
            f"customer_id,id_type,id_value,is_hashed\nC1,email,Pat@Example.com,\nC2,email,{digest},yes\n",
        ),
    )
    assert report.status == "loaded"
    assert await db.rows("SELECT DISTINCT id_value FROM identifiers") == [(sha("pat@example.com"),)]
    assert groups(await profiles(db)) == [["C1", "C2"]]


async def test_a_customers_file_with_no_rows_on_an_empty_database_loads(
    db: Db, tmp_path: Path
) -> None:
    report = await db.load("customers", write(tmp_path / "none.csv", "customer_id,age_band\n"))
    assert (report.status, report.rows_read) == ("loaded", 0)
    assert report.resolution is not None
    assert (report.resolution["customers"], report.resolution["profiles"]) == (0, 0)
    assert await db.count("profiles") == 0
