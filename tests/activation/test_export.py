"""What goes into an activation file: treatment members with consent at export time."""

from __future__ import annotations

from pathlib import Path

from endcap.activation.models import ActivationStatus
from endcap.config import Settings
from endcap.consent.models import Purpose
from endcap.db.engine import SessionFactory
from endcap.marketplace.approvals import ApprovalService
from endcap.privacy.channels import Channel
from tests.activation.data import Shop, add_activation, build_shop, set_endpoint, withdraw
from tests.activation.run import activation, export, rows


def expected_onsite(shop: Shop) -> list[int]:
    return [p for p in shop.treated() if p in shop.consented[Purpose.TARGETING_ONSITE]]


async def test_onsite_file_drop_holds_exactly_the_consented_treatment(
    sessions: SessionFactory, settings: Settings
) -> None:
    shop = await build_shop(sessions)
    await set_endpoint(sessions, Channel.ONSITE_DISPLAY, None)
    activation_id = await add_activation(sessions, shop, Channel.ONSITE_DISPLAY)

    await export(sessions, settings, activation_id)

    done = await activation(sessions, activation_id)
    expected = expected_onsite(shop)
    target = Path(settings.activation.drop_dir) / str(shop.campaign.id)
    path = target / f"onsite_display-{activation_id}.csv"
    assert done.status == ActivationStatus.DELIVERED
    assert (done.method, done.destination, done.attempts) == ("file", str(path), 1)
    assert rows(path) == [["profile_id"], *[[str(p)] for p in expected]]
    assert done.members == 245
    assert done.holdout_excluded == len(shop.holdout())
    assert done.exported == len(expected)
    assert done.no_consent_excluded == len(shop.treated()) - len(expected)
    assert 20 < done.holdout_excluded < 100  # 25% of 245, give or take
    assert not set(shop.holdout()) & {int(r[0]) for r in rows(path)[1:]}
    assert done.match_keys is None
    assert [p.name for p in target.iterdir()] == [path.name]  # no spool leftovers
    assert not list((Path(settings.activation.drop_dir) / ".spool").iterdir())


async def test_a_withdrawal_one_second_before_the_export_is_honoured(
    sessions: SessionFactory, settings: Settings
) -> None:
    shop = await build_shop(sessions)
    await set_endpoint(sessions, Channel.ONSITE_DISPLAY, None)
    before = expected_onsite(shop)
    leaver = before[len(before) // 2]
    await withdraw(sessions, shop.customer_of[leaver], Purpose.TARGETING_ONSITE)
    activation_id = await add_activation(sessions, shop, Channel.ONSITE_DISPLAY)

    await export(sessions, settings, activation_id)

    done = await activation(sessions, activation_id)
    assert done.destination is not None
    exported = [int(r[0]) for r in rows(Path(done.destination))[1:]]
    assert leaver not in exported
    assert exported == [p for p in before if p != leaver]
    assert done.exported == len(before) - 1


async def test_offsite_file_holds_the_sha256_keys_of_consented_treatment_only(
    sessions: SessionFactory, settings: Settings
) -> None:
    shop = await build_shop(sessions)
    await set_endpoint(sessions, Channel.OFFSITE_SOCIAL, None)
    activation_id = await add_activation(sessions, shop, Channel.OFFSITE_SOCIAL)

    await export(sessions, settings, activation_id)

    done = await activation(sessions, activation_id)
    sent = [p for p in shop.treated() if p in shop.consented[Purpose.TARGETING_OFFSITE]]
    keyed = [p for p in sent if shop.keys[p]]
    expected = sorted((t, h) for p in keyed for t, h in shop.keys[p])
    assert done.destination is not None
    body = rows(Path(done.destination))
    assert body[0] == ["key_type", "sha256"]
    assert sorted(tuple(r) for r in body[1:]) == expected
    assert len(body) - 1 == len(set(map(tuple, body[1:])))  # every key once
    assert not shop.shared_keys & {h for _, h in body[1:]}
    holdout_keys = {h for p in shop.holdout() for _, h in shop.keys[p]}
    assert not holdout_keys & {h for _, h in body[1:]}
    assert (done.exported, done.match_keys) == (len(keyed), len(expected))
    assert done.holdout_excluded == len(shop.holdout())
    assert done.no_consent_excluded == len(shop.treated()) - len(sent)
    unkeyed = done.members - done.holdout_excluded - done.no_consent_excluded - done.exported
    assert unkeyed == len(sent) - len(keyed)  # consented, but no usable e-mail or phone


async def test_a_campaign_on_overlapping_audiences_exports_their_union_once(
    sessions: SessionFactory, settings: Settings
) -> None:
    # Two audiences sharing 50 of the 245 members: 150 + 145 rows, 245 people.
    shop = await build_shop(sessions, audiences=(slice(0, 150), slice(100, None)))
    await set_endpoint(sessions, Channel.ONSITE_DISPLAY, None)
    await set_endpoint(sessions, Channel.OFFSITE_SOCIAL, None)
    onsite = await add_activation(sessions, shop, Channel.ONSITE_DISPLAY)
    offsite = await add_activation(sessions, shop, Channel.OFFSITE_SOCIAL)

    await export(sessions, settings, onsite)
    await export(sessions, settings, offsite)

    first, second = shop.audiences.values()
    assert len(first) + len(second) == 295
    assert len(set(first) & set(second)) == 50
    done = await activation(sessions, onsite)
    assert done.destination is not None
    exported = [int(r[0]) for r in rows(Path(done.destination))[1:]]
    assert exported == expected_onsite(shop)  # in profile_id order, each once
    assert done.members == 245 == len(shop.members)
    assert done.holdout_excluded == len(shop.holdout())
    assert done.exported == len(exported)
    assert done.members == done.holdout_excluded + done.no_consent_excluded + done.exported
    # The sizes approval records are over the union too, and split the way the export did.
    async with sessions() as session:
        sizes = await ApprovalService(session, settings).split(shop.campaign)
    assert sizes == (len(shop.treated()), done.holdout_excluded)

    keyed = await activation(sessions, offsite)
    assert keyed.destination is not None
    body = rows(Path(keyed.destination))[1:]
    sent = [p for p in shop.treated() if p in shop.consented[Purpose.TARGETING_OFFSITE]]
    expected = sorted((t, h) for p in sent for t, h in shop.keys[p])
    assert sorted(tuple(r) for r in body) == expected  # a shared shopper's keys once
    assert keyed.members == 245
    assert keyed.holdout_excluded == len(shop.holdout())
    assert keyed.exported == len([p for p in sent if shop.keys[p]])
