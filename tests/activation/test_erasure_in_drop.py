"""An erasure reaches the file drop: activation files still waiting there are rewritten
without the erased shopper's profile id or match keys, and nobody else's row is lost."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

from sqlalchemy import delete

from endcap.activation.models import Activation, ActivationContact, ActivationStatus
from endcap.config import Settings
from endcap.consent.models import Purpose
from endcap.db.base import table_of
from endcap.db.engine import SessionFactory
from endcap.privacy.channels import Channel
from endcap.privacy.erasure import ErasureService
from endcap.privacy.schemas import ErasureRequest, Tombstone
from tests.activation.data import Shop, add_activation, build_shop, set_endpoint
from tests.activation.run import activation, export, rows


def reached_everywhere(shop: Shop) -> int:
    """A treated shopper with both consents and two customer records (even: two phones)."""
    first = min(shop.customer_of)
    both = shop.consented[Purpose.TARGETING_ONSITE] & shop.consented[Purpose.TARGETING_OFFSITE]
    return next(p for p in shop.treated() if p in both and (p - first) % 14 == 0)


async def _dropped(sessions: SessionFactory, settings: Settings, shop: Shop) -> dict[str, Path]:
    files = {}
    for channel in (Channel.ONSITE_DISPLAY, Channel.OFFSITE_SOCIAL):
        await set_endpoint(sessions, channel, None)
        activation_id = await add_activation(sessions, shop, channel)
        await export(sessions, settings, activation_id)
        destination = (await activation(sessions, activation_id)).destination
        assert destination is not None
        files[channel.value] = Path(destination)
    return files


async def erase(
    sessions: SessionFactory, settings: Settings, shop: Shop, profile: int
) -> Tombstone:
    """Erase the shopper of ``profile`` by its first customer record; the tombstone."""
    async with sessions() as session:
        tombstone = await ErasureService(session, settings).erase(
            ErasureRequest(customer_id=f"{shop.tag}-c{profile - min(shop.customer_of)}"),
            requested_by=None,
        )
        await session.commit()
    return tombstone


async def test_an_erasure_rewrites_the_dropped_files_that_reached_the_shopper(
    sessions: SessionFactory, settings: Settings
) -> None:
    shop = await build_shop(sessions)
    files = await _dropped(sessions, settings, shop)
    onsite, offsite = files["onsite_display"], files["offsite_social"]
    before = {name: rows(path) for name, path in files.items()}
    mode = stat.S_IMODE(onsite.stat().st_mode)
    erased = reached_everywhere(shop)
    keys = {sha for _type, sha in shop.keys[erased]}
    assert len(keys) == 3  # one e-mail, a phone on each record
    assert [str(erased)] in before["onsite_display"]
    assert keys <= {row[1] for row in before["offsite_social"]}

    tombstone = await erase(sessions, settings, shop, erased)

    assert tombstone.activation_files_scrubbed == 2
    assert rows(onsite) == [r for r in before["onsite_display"] if r != [str(erased)]]
    assert len(rows(onsite)) == len(before["onsite_display"]) - 1
    assert rows(offsite) == [r for r in before["offsite_social"] if r[1] not in keys]
    assert len(rows(offsite)) == len(before["offsite_social"]) - 3
    assert stat.S_IMODE(onsite.stat().st_mode) == mode
    # Nothing is left beside the files (the rewrite's spare is renamed or removed).
    assert sorted(p.name for p in onsite.parent.iterdir()) == sorted([onsite.name, offsite.name])


async def test_an_erasure_leaves_files_that_never_reached_the_shopper_alone(
    sessions: SessionFactory, settings: Settings
) -> None:
    shop = await build_shop(sessions)
    files = await _dropped(sessions, settings, shop)
    held_out = min(shop.holdout())  # a member, but in no file
    before = {name: (path.read_bytes(), path.stat().st_mtime_ns) for name, path in files.items()}

    tombstone = await erase(sessions, settings, shop, held_out)

    assert tombstone.activation_files_scrubbed == 0
    assert {n: (p.read_bytes(), p.stat().st_mtime_ns) for n, p in files.items()} == before


async def test_an_erasure_rewrites_a_dropped_file_whose_contacts_are_not_recorded_yet(
    sessions: SessionFactory, settings: Settings
) -> None:
    """The export dropped its file but has not recorded whom it reached (still running):
    the file is found by its activation's state, not by contacts."""
    shop = await build_shop(sessions)
    files = await _dropped(sessions, settings, shop)
    onsite = files["onsite_display"]
    async with sessions() as session:
        found = await session.get(Activation, _activation_of(onsite))
        assert found is not None
        found.status = ActivationStatus.RUNNING
        contacts = table_of(ActivationContact)
        await session.execute(delete(contacts).where(contacts.c.activation_id == found.id))
        await session.commit()
    erased = reached_everywhere(shop)
    assert [str(erased)] in rows(onsite)

    tombstone = await erase(sessions, settings, shop, erased)

    assert tombstone.activation_files_scrubbed == 2  # this one, and the off-site file
    assert [str(erased)] not in rows(onsite)


async def test_an_erasure_rewrites_the_file_of_an_export_that_failed_once_it_was_dropped(
    sessions: SessionFactory, settings: Settings
) -> None:
    """The file went into the drop, then recording its delivery failed: the activation is
    failed, with no destination and no contacts, and the channel may not have fetched the
    file yet. It is found where the drop put it."""
    shop = await build_shop(sessions)
    files = await _dropped(sessions, settings, shop)
    onsite = files["onsite_display"]
    before = rows(onsite)
    async with sessions() as session:
        found = await session.get(Activation, _activation_of(onsite))
        assert found is not None
        found.status, found.method, found.destination = ActivationStatus.FAILED, None, None
        found.error = "delivered to the drop, but the delivery could not be recorded"
        contacts = table_of(ActivationContact)
        await session.execute(delete(contacts).where(contacts.c.activation_id == found.id))
        await session.commit()
    erased = reached_everywhere(shop)
    assert [str(erased)] in before

    tombstone = await erase(sessions, settings, shop, erased)

    assert tombstone.activation_files_scrubbed == 2  # this one, and the off-site file
    assert rows(onsite) == [r for r in before if r != [str(erased)]]
    assert len(rows(onsite)) == len(before) - 1


def _activation_of(path: Path) -> uuid.UUID:
    """The activation id in a dropped file's name (<channel>-<activation id>.csv)."""
    return uuid.UUID(path.stem.split("-", 1)[1])
