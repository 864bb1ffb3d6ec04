"""ApiKeyService on the real database: hashing, showing once, roles, revocation."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.auth.models import ApiKey
from endcap.auth.principal import Principal
from endcap.auth.roles import Role
from endcap.auth.schemas import ApiKeyCreate
from endcap.auth.service import ApiKeyService
from endcap.errors import AuthenticationError, ConflictError, InvalidRequestError, NotFoundError
from endcap.pagination import PageRequest
from endcap.partners.schemas import PartnerCreate
from endcap.partners.service import PartnerService
from tests.support.names import unique

ADMIN = Principal(key_id=uuid.uuid4(), role=Role.RETAILER_ADMIN, partner_id=None)


async def test_key_is_prefixed_shown_once_and_stored_only_as_a_hash(session: AsyncSession) -> None:
    keys = ApiKeyService(session, "ek")
    created = await keys.create(ApiKeyCreate(name="ops", role=Role.RETAILER_ADMIN))

    assert created.key.startswith("ek_")
    assert created.prefix == created.key[: len(created.prefix)]
    row = (await session.exec(select(ApiKey).where(ApiKey.id == created.id))).one()
    stored = [str(v) for v in row.model_dump().values()]
    assert created.key not in stored
    assert all(created.key.split("_", 2)[2] not in value for value in stored)
    assert len(row.secret_digest) == 64
    # Reading it back never shows the secret again.
    again = await keys.get(created.id)
    assert "key" not in again.model_dump()


async def test_authenticate_returns_the_role_and_partner(session: AsyncSession) -> None:
    partner = await PartnerService(session).create(PartnerCreate(name=unique("Acme")))
    keys = ApiKeyService(session, "ek")
    created = await keys.create(ApiKeyCreate(name="acme", role=Role.BRAND, partner_id=partner.id))

    principal = await keys.authenticate(created.key)

    assert principal == Principal(key_id=created.id, role=Role.BRAND, partner_id=partner.id)


async def test_a_revoked_key_no_longer_authenticates(session: AsyncSession) -> None:
    keys = ApiKeyService(session, "ek")
    created = await keys.create(ApiKeyCreate(name="temp", role=Role.BUYER))

    revoked = await keys.revoke(created.id, by=ADMIN)

    assert revoked.revoked_at is not None
    with pytest.raises(AuthenticationError, match="revoked"):
        await keys.authenticate(created.key)
    with pytest.raises(ConflictError, match="already revoked"):
        await keys.revoke(created.id, by=ADMIN)


async def test_a_key_cannot_revoke_itself(session: AsyncSession) -> None:
    keys = ApiKeyService(session, "ek")
    created = await keys.create(ApiKeyCreate(name="self", role=Role.RETAILER_ADMIN))
    me = await keys.authenticate(created.key)

    with pytest.raises(ConflictError, match="itself"):
        await keys.revoke(created.id, by=me)


async def test_a_tampered_secret_with_a_real_lookup_is_refused(session: AsyncSession) -> None:
    keys = ApiKeyService(session, "ek")
    created = await keys.create(ApiKeyCreate(name="real", role=Role.BUYER))
    tampered = created.key[:-1] + ("A" if created.key[-1] != "A" else "B")

    with pytest.raises(AuthenticationError):
        await keys.authenticate(tampered)


@pytest.mark.parametrize(
    ("role", "partner", "field_message"),
    [
        (Role.BRAND, None, "needs the partner"),
        (Role.BRAND, "unknown", "no partner with id"),
        (Role.BUYER, "known", "only brand keys carry a partner"),
        (Role.RETAILER_ADMIN, "known", "only brand keys carry a partner"),
    ],
)
async def test_partner_rules_for_keys(
    session: AsyncSession, role: Role, partner: str | None, field_message: str
) -> None:
    known = await PartnerService(session).create(PartnerCreate(name=unique("Known")))
    partner_id = {None: None, "unknown": uuid.uuid4(), "known": known.id}[partner]

    with pytest.raises(InvalidRequestError, match=field_message) as raised:
        await ApiKeyService(session, "ek").create(
            ApiKeyCreate(name="x", role=role, partner_id=partner_id)
        )

    assert raised.value.extra["errors"][0]["field"] == "/partner_id"


async def test_unknown_key_id_is_not_found(session: AsyncSession) -> None:
    with pytest.raises(NotFoundError):
        await ApiKeyService(session, "ek").get(uuid.uuid4())


async def test_list_pages_through_every_key_once_in_creation_order(session: AsyncSession) -> None:
    keys = ApiKeyService(session, "ek")
    made = [await keys.create(ApiKeyCreate(name=f"k{i}", role=Role.BUYER)) for i in range(7)]
    wanted = {k.id for k in made}

    seen: list[uuid.UUID] = []
    cursor = None
    pages = 0
    while True:
        page = await keys.list(PageRequest.parse(3, cursor), role=Role.BUYER)
        pages += 1
        seen.extend(k.id for k in page.items if k.id in wanted)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == [k.id for k in made]
    assert pages >= 3


@settings(
    max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(
    presented=st.one_of(
        st.text(max_size=120), st.from_regex(r"ek_[A-Za-z0-9]{8}_[A-Za-z0-9_-]{1,60}")
    )
)
async def test_random_strings_never_authenticate(session: AsyncSession, presented: str) -> None:
    with pytest.raises(AuthenticationError):
        await ApiKeyService(session, "ek").authenticate(presented)
