"""The steps of one export, each in a transaction of its own (see :mod:`endcap.activation.jobs`,
which runs them): start, hold the channel, write the file, record that it is being sent,
record the delivery or the failure; and bringing an activation in line with its job
when that job is reclaimed.
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
from endcap.activation.models import ActivationStatus
from endcap.activation.repository import ActivationRepository
from endcap.activation.schemas import ActivationPublic
from endcap.activation.service import COUNT_FIELDS, channel_of, ensure_activatable, public
from endcap.config import Settings
from endcap.db.types import utcnow
from endcap.errors import ConflictError, NotFoundError
from endcap.jobs.reclaim import Reclaim
from endcap.jobs.worker import ProgressCallback
from endcap.marketplace.holdout import HoldoutSplit
from endcap.privacy.channels import Channel, required_purpose

# Files being written live here, inside the drop folder, so that the final move is a rename.
SPOOL_FOLDER = ".spool"
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


class ExportSteps:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.activations = ActivationRepository(session)
        self.contacts = Contacts(self.activations, settings.activation.chunk_rows)

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
        ensure_activatable(campaign)
        pinned = await self.activations.pinned_audiences(campaign.id)
        versions = tuple((a, v) for a, v in pinned if v is not None)
        if campaign.holdout_salt is None or not versions or len(versions) != len(pinned):
            raise ConflictError(
                f"campaign {campaign.id} has no holdout split or pinned audience versions:"
                " it was never approved"
            )
        channel = channel_of(activation.channel)
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
        return public(activation, self.settings, exact=True)

    async def recheck(self, plan: ExportPlan) -> None:
        """ConflictError if the campaign was cancelled (or completed) while the file was
        written: a campaign that has ended is not delivered anywhere."""
        campaign = await self.activations.campaign(plan.campaign_id)
        if campaign is None:
            raise NotFoundError(f"no campaign with id {plan.campaign_id}")
        ensure_activatable(campaign)

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
        return public(activation, self.settings, exact=True)

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
