"""Rules of activation: which campaigns may be activated, who sees which activation and
how exactly, and the steps of one export (each in its own transaction, see jobs.py).

What goes into a file is decided in :mod:`endcap.activation.export`, who the channel's
contact limit across campaigns leaves out in :mod:`endcap.activation.pressure` (with
what it reads and records in :mod:`endcap.activation.contacts`); how the file reaches
the channel in :mod:`endcap.activation.delivery`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.activation.contacts import Contacts
from endcap.activation.delivery import Delivered
from endcap.activation.export import ExportCounts, ExportWriter
from endcap.activation.models import Activation, ActivationStatus
from endcap.activation.repository import ActivationRepository
from endcap.activation.schemas import ActivationPublic
from endcap.auth.principal import Principal
from endcap.config import Settings
from endcap.db.types import utcnow
from endcap.errors import ConflictError, NotFoundError
from endcap.jobs.reclaim import Reclaim
from endcap.jobs.service import JobService
from endcap.jobs.worker import ProgressCallback
from endcap.marketplace.holdout import HoldoutSplit
from endcap.marketplace.models import Campaign, CampaignStatus
from endcap.pagination import DEFAULT_PAGE_SIZE, Page, PageRequest, next_cursor
from endcap.privacy.channels import Channel, required_purpose
from endcap.privacy.sizes import round_count

EXPORT_JOB = "activation_export"
# A campaign is activated once approved (its holdout is fixed then) and until it ends.
ACTIVATABLE = frozenset(
    {CampaignStatus.APPROVED, CampaignStatus.SCHEDULED, CampaignStatus.LIVE, CampaignStatus.PAUSED}
)
# Files being written live here, inside the drop folder, so that the final move is a rename.
SPOOL_FOLDER = ".spool"
COUNT_FIELDS = (
    "members",
    "holdout_excluded",
    "no_consent_excluded",
    "pressure_excluded",
    "exported",
    "match_keys",
)
# Why a consented or unconsented shopper was left out is the retailer's to know. The
# pressure count is the overlap of this audience with other brands' delivered files, so
# even rounded it would size a competitor's campaign; and with the consent count beside it
# a brand could subtract one from the other. A brand sees neither: only how many were
# considered, held out and sent.
RETAILER_ONLY_COUNTS = frozenset({"no_consent_excluded", "pressure_excluded"})
# What a failed export keeps: who was considered, not who was sent.
CONSIDERED_FIELDS = ("members", "holdout_excluded", "no_consent_excluded", "pressure_excluded")


@dataclass(frozen=True, slots=True)
class ExportPlan:
    """What one export needs, read when it starts."""

    activation_id: uuid.UUID
    campaign_id: uuid.UUID
    channel: Channel
    # (audience, pinned version) of each of the campaign's audiences: the file holds their union.
    versions: tuple[tuple[uuid.UUID, int], ...]
    split: HoldoutSplit
    endpoint_url: str | None


@dataclass(frozen=True, slots=True)
class ExportFile:
    """A written export: the file for the channel, the exported profile ids beside it
    (recorded as contacts when it is delivered), and the exact counts."""

    path: Path
    contacts: Path
    counts: ExportCounts

    def discard(self) -> None:
        """Remove both files (the channel's is gone already once moved into the drop)."""
        for path in (self.path, self.contacts):
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)


class ActivationService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.activations = ActivationRepository(session)
        self.contacts = Contacts(self.activations, settings.activation.chunk_rows)

    # -- enqueueing ----------------------------------------------------------------------------

    async def enqueue(
        self, campaign: Campaign, created_by: uuid.UUID | None
    ) -> list[ActivationPublic]:
        """One queued activation and one "activation_export" job per campaign channel.

        Raises ConflictError (naming the status) unless the campaign is approved,
        scheduled, live or paused, and when one of its channels already has an
        activation queued or running. Only flushes: the caller commits.
        """
        _ensure_activatable(campaign)
        channels = [_channel(name) for name in campaign.channels]
        busy = await self.activations.unfinished_channels(campaign.id) & set(campaign.channels)
        if busy:
            raise ConflictError(
                f"campaign {campaign.id} already has an activation queued or running for "
                + ", ".join(sorted(busy))
            )
        jobs = JobService(self.session)
        created = []
        for channel in channels:
            activation = await self.activations.add(
                Activation(campaign_id=campaign.id, channel=channel.value, created_by=created_by)
            )
            job = await jobs.enqueue(EXPORT_JOB, {"activation_id": str(activation.id)}, created_by)
            activation.job_id = job.id
            created.append(activation)
        await self.session.flush()
        return [self._public(a, exact=True) for a in created]

    async def enqueue_campaign(
        self, campaign_id: uuid.UUID, created_by: uuid.UUID | None
    ) -> list[ActivationPublic]:
        """:meth:`enqueue` by id; NotFoundError for an unknown campaign."""
        campaign = await self.activations.campaign(campaign_id, for_update=True)
        if campaign is None:
            raise NotFoundError(f"no campaign with id {campaign_id}")
        return await self.enqueue(campaign, created_by)

    # -- reading -------------------------------------------------------------------------------

    async def list_for(
        self,
        principal: Principal,
        campaign_id: uuid.UUID,
        page: PageRequest | None = None,
    ) -> Page[ActivationPublic]:
        """A campaign's activations, oldest first. A brand reaches only its own campaigns
        (NotFoundError otherwise, as for an unknown id) and sees rounded counts."""
        await self._visible_campaign(principal, campaign_id)
        page = page or PageRequest(DEFAULT_PAGE_SIZE)
        rows, cursor = next_cursor(await self.activations.list_page(campaign_id, page), page)
        exact = not principal.is_brand
        return Page[ActivationPublic](
            items=[self._public(a, exact=exact) for a in rows], next_cursor=cursor
        )

    async def get(self, principal: Principal, activation_id: uuid.UUID) -> ActivationPublic:
        """One activation; NotFoundError for an unknown id or another partner's campaign."""
        activation = await self.activations.get(activation_id)
        missing = NotFoundError(f"no activation with id {activation_id}")
        if activation is None:
            raise missing
        campaign = await self.activations.campaign(activation.campaign_id)
        if campaign is None or not _reaches(principal, campaign):
            raise missing
        return self._public(activation, exact=not principal.is_brand)

    async def _visible_campaign(self, principal: Principal, campaign_id: uuid.UUID) -> Campaign:
        campaign = await self.activations.campaign(campaign_id)
        if campaign is None or not _reaches(principal, campaign):
            raise NotFoundError(f"no campaign with id {campaign_id}")
        return campaign

    def _public(self, activation: Activation, *, exact: bool) -> ActivationPublic:
        counts: dict[str, int | None] = {name: getattr(activation, name) for name in COUNT_FIELDS}
        if not exact:
            gate = self.settings.privacy_gate
            counts = {
                name: None
                if value is None or name in RETAILER_ONLY_COUNTS
                else round_count(value, to=gate.round_to, minimum=gate.min_audience).value
                for name, value in counts.items()
            }
        return ActivationPublic(
            id=activation.id,
            campaign_id=activation.campaign_id,
            channel=activation.channel,
            status=ActivationStatus(activation.status),
            exact=exact,
            attempts=activation.attempts,
            method=activation.method if exact else None,
            destination=activation.destination if exact else None,
            error=activation.error if exact else None,
            job_id=activation.job_id if exact else None,
            created_at=activation.created_at,
            finished_at=activation.finished_at,
            **counts,
        )

    # -- one export, step by step --------------------------------------------------------------

    async def start(self, activation_id: uuid.UUID) -> ExportPlan:
        """Mark the activation running and read what its export needs.

        Raises NotFoundError for an unknown activation, ConflictError when it was
        delivered already, when the campaign is no longer activatable, or when it has no
        holdout salt or pinned audience versions (it was never approved).
        """
        activation = await self.activations.get(activation_id)
        if activation is None:
            raise NotFoundError(f"no activation with id {activation_id}")
        if activation.status == ActivationStatus.DELIVERED:
            raise ConflictError(f"activation {activation_id} was delivered already")
        campaign = await self.activations.campaign(activation.campaign_id)
        if campaign is None:
            raise NotFoundError(f"no campaign with id {activation.campaign_id}")
        _ensure_activatable(campaign)
        pinned = await self.activations.pinned_audiences(campaign.id)
        versions = tuple((a, v) for a, v in pinned if v is not None)
        if campaign.holdout_salt is None or not versions or len(versions) != len(pinned):
            raise ConflictError(
                f"campaign {campaign.id} has no holdout split or pinned audience versions:"
                " it was never approved"
            )
        channel = _channel(activation.channel)
        endpoint = await self.activations.channel_settings(channel.value)
        await self.activations.set_fields(
            activation_id, status=ActivationStatus.RUNNING, attempts=0, error=None
        )
        return ExportPlan(
            activation_id=activation_id,
            campaign_id=campaign.id,
            channel=channel,
            versions=versions,
            split=HoldoutSplit(campaign.holdout_salt, campaign.holdout_share),
            endpoint_url=endpoint.endpoint_url if endpoint else None,
        )

    async def delivered(self, activation_id: uuid.UUID) -> ActivationPublic | None:
        """The activation if it was delivered already, else None.

        Its job runs again when its worker died after the delivery was recorded but
        before the job's own outcome was: that run returns this, and sends nothing.
        """
        activation = await self.activations.get(activation_id)
        if activation is None or activation.status != ActivationStatus.DELIVERED:
            return None
        return self._public(activation, exact=True)

    async def recheck(self, plan: ExportPlan) -> None:
        """ConflictError if the campaign was cancelled (or completed) while the file was
        written: a campaign that has ended is not delivered anywhere."""
        campaign = await self.activations.campaign(plan.campaign_id)
        if campaign is None:
            raise NotFoundError(f"no campaign with id {plan.campaign_id}")
        _ensure_activatable(campaign)

    async def hold_channel(self, channel: Channel) -> None:
        """Hold the channel for this export until this session's transaction ends, so that
        no other export on it checks or records contacts meanwhile (activation/contacts.py)."""
        await self.contacts.hold(channel)

    async def write_file(self, plan: ExportPlan, progress: ProgressCallback) -> ExportFile:
        """Stream the treatment group with consent (as of now), within the channel's contact
        limit across campaigns, into a spool file: the union of the pinned versions, each
        shopper once.

        Returns the file (the caller delivers, then discards it) and the exact counts.
        Memory stays bounded by ``settings.activation.chunk_rows`` rows. Call it while
        holding the channel (:meth:`hold_channel`).
        """
        total = await self.activations.count_members(plan.versions)
        progress(0, total)
        campaign = await self.activations.campaign(plan.campaign_id)
        if campaign is None:
            raise NotFoundError(f"no campaign with id {plan.campaign_id}")
        pressure = await self.contacts.pressure(plan.channel, campaign, utcnow().date())
        spool = Path(self.settings.activation.drop_dir) / SPOOL_FOLDER
        spool.mkdir(parents=True, exist_ok=True)
        _clear_spool(spool, plan.activation_id)
        descriptor, name = tempfile.mkstemp(dir=spool, prefix=f"{plan.activation_id}-")
        contacts_descriptor, contacts_name = tempfile.mkstemp(
            dir=spool, prefix=f"{plan.activation_id}-", suffix=".contacts"
        )
        path, contacts = Path(name), Path(contacts_name)
        try:
            with (
                os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle,
                os.fdopen(contacts_descriptor, "wb") as contacts_handle,
            ):
                offsite = plan.channel is Channel.OFFSITE_SOCIAL
                writer = ExportWriter(handle, contacts_handle, plan.split, match_keys=offsite)
                chunks = self.activations.stream_members(
                    plan.versions,
                    required_purpose(plan.channel),
                    with_match_keys=offsite,
                    chunk_rows=self.settings.activation.chunk_rows,
                )
                async for chunk in chunks:
                    writer.add(chunk, await self.contacts.left_out(pressure, chunk))
                    progress(writer.counts.members, total)
                counts = writer.finish()
        except BaseException:
            for leftover in (path, contacts):
                with contextlib.suppress(OSError):
                    leftover.unlink()
            raise
        return ExportFile(path, contacts, counts)

    async def sending(self, plan: ExportPlan, route: Delivered) -> None:
        """Record how and where the file is about to go; the caller commits before sending.

        From then on, until :meth:`finish` records the delivery, the channel may have the
        file without our knowing: a worker dying then leaves an activation that
        :meth:`abandoned` fails rather than sends again.
        """
        await self.activations.set_fields(
            plan.activation_id, method=route.method, destination=route.destination
        )

    async def abandoned(self, activation_id: uuid.UUID, verdict: Reclaim) -> Reclaim:
        """Bring the activation in line with its reclaimed job (the hook of
        :mod:`endcap.jobs.reclaim`); returns the job's verdict, which may now be a failure.

        - delivered (recorded before the worker died): as it is; a re-run returns it.
        - failed (recorded, but not yet on the job): the job fails with the same reason.
        - sending (see :meth:`sending`): failed, whatever the attempts allow. The push
          may have been taken or the file dropped and already collected; sending again
          could deliver it twice, so the retailer decides, knowing where it went.
        - otherwise nothing reached the channel: queued again with its job, or failed
          with the job's reason, nothing counting as delivered.
        """
        activation = await self.activations.get(activation_id)
        if activation is None or activation.status == ActivationStatus.DELIVERED:
            return verdict
        if activation.status == ActivationStatus.FAILED:
            return Reclaim(activation.error or "the activation failed")
        if activation.status == ActivationStatus.RUNNING and activation.method is not None:
            verdict = Reclaim(
                "abandoned: the worker stopped responding while sending it"
                f" ({activation.method} to {activation.destination}); it may have arrived,"
                " so it is not sent again: check with the channel before exporting anew"
            )
        if verdict.error is None:
            await self.activations.mark_queued(activation_id)
        else:
            await self.fail(activation_id, verdict.error, attempts=activation.attempts, counts=None)
        return verdict

    async def finish(
        self, plan: ExportPlan, written: ExportFile, delivered: Delivered
    ) -> ActivationPublic:
        """Record a delivered activation with its exact counts, and whom it reached (its
        contacts, which count against other campaigns' exports on the channel), in one
        transaction: the caller commits while still holding the channel."""
        counts = written.counts
        await self.contacts.record(plan.activation_id, written.contacts)
        await self.activations.set_fields(
            plan.activation_id,
            status=ActivationStatus.DELIVERED,
            method=delivered.method,
            destination=delivered.destination,
            attempts=delivered.attempts,
            error=None,
            finished_at=utcnow(),
            **{name: getattr(counts, name) for name in COUNT_FIELDS},
        )
        activation = await self.activations.get(plan.activation_id)
        if activation is None:  # deleted with its campaign while it ran
            raise NotFoundError(f"no activation with id {plan.activation_id}")
        return self._public(activation, exact=True)

    async def fail(
        self,
        activation_id: uuid.UUID,
        reason: str,
        *,
        attempts: int,
        counts: ExportCounts | None,
    ) -> None:
        """Record a failed activation: nothing counts as delivered (no ``exported``,
        ``match_keys``, method or destination); the counts of who was considered stay,
        when they are known. A delivered activation is never turned into a failed one."""
        known = {} if counts is None else {n: getattr(counts, n) for n in CONSIDERED_FIELDS}
        await self.activations.mark_failed(
            activation_id,
            error=reason,
            attempts=attempts,
            method=None,
            destination=None,
            exported=None,
            match_keys=None,
            finished_at=utcnow(),
            **known,
        )


def _clear_spool(spool: Path, activation_id: uuid.UUID) -> None:
    # A run whose worker died left its half-written file behind.
    for leftover in spool.glob(f"{activation_id}-*"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _reaches(principal: Principal, campaign: Campaign) -> bool:
    return not principal.is_brand or principal.partner_id == campaign.partner_id


def _ensure_activatable(campaign: Campaign) -> None:
    if campaign.status not in ACTIVATABLE:
        raise ConflictError(
            f"campaign {campaign.id} is {campaign.status}; only an approved, scheduled, live"
            " or paused campaign can be activated",
            campaign_status=str(campaign.status),
        )


def _channel(name: str) -> Channel:
    try:
        return Channel(name)
    except ValueError as exc:
        raise ConflictError(f"{name!r} is not a delivery channel") from exc
