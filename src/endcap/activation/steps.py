"""The steps of one export, each in a transaction of its own (see :mod:`endcap.activation.jobs`,
which runs them): start, hold the channel, write the file, record that it is being sent,
record the delivery or the failure; and bringing an activation in line with its job
when that job is reclaimed.

A run writes to its activation only while its job's claim is its own (the claim number
the worker took, see :mod:`endcap.jobs.worker`): a run that lost its lease may still be
going when the reclaimed job runs again, and it must neither send the file a second time
nor record anything over the run that replaced it. :meth:`ExportSteps.sending` checks the
claim, the activation and the campaign together, under lock, just before the file goes.
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
from endcap.activation.service import (
    ACTIVATABLE,
    COUNT_FIELDS,
    channel_of,
    ensure_activatable,
    public,
)
from endcap.activation.spool import ExportFile, leave_out_erased, owners_file
from endcap.config import Settings
from endcap.db.types import utcnow
from endcap.errors import ConflictError, NotFoundError
from endcap.jobs.models import Job
from endcap.jobs.reclaim import Reclaim
from endcap.jobs.service import JobService
from endcap.jobs.worker import ProgressCallback
from endcap.marketplace.holdout import HoldoutSplit
from endcap.marketplace.models import Campaign
from endcap.privacy.channels import Channel, required_purpose

# Files being written live here, inside the drop folder, so that the final move is a rename.
SPOOL_FOLDER = ".spool"
# What a failed export keeps: who was considered, not who was sent.
CONSIDERED_FIELDS = ("members", "holdout_excluded", "no_consent_excluded", "pressure_excluded")


class RunSupersededError(ConflictError):
    """This run of an export may not write to its activation any more: its job was
    reclaimed (the run that replaced it, or the reclaim's verdict, owns the activation
    now), or the activation ended meanwhile. The caller leaves the activation as it is."""


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


class ExportSteps:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.activations = ActivationRepository(session)
        self.contacts = Contacts(self.activations, settings.activation.chunk_rows)

    async def start(self, activation_id: uuid.UUID, run: Job) -> ExportPlan:
        """Mark the activation running and read what its export needs; ``run`` is the job
        as its worker claimed it.

        Raises NotFoundError for an unknown activation; RunSupersededError when the run
        lost its job or the activation failed already (it is never run again: the
        retailer exports anew); ConflictError when it was delivered already, when a run
        began sending it before, when the campaign is no longer activatable, or when it
        has no holdout salt or pinned audience versions (it was never approved).
        """
        activation = await self.activations.get(activation_id)
        if activation is None:
            raise NotFoundError(f"no activation with id {activation_id}")
        await self._ensure_owner(activation, run)
        if activation.status == ActivationStatus.DELIVERED:
            raise ConflictError(f"activation {activation_id} was delivered already")
        if activation.status == ActivationStatus.FAILED:
            raise RunSupersededError(
                f"activation {activation_id} failed already ({activation.error}); it is not"
                " run again: export anew"
            )
        _ensure_unsent(activation)
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
        return public(activation, exact=True)

    async def recheck(self, plan: ExportPlan) -> None:
        """ConflictError if the campaign was cancelled, completed or paused since the export
        started: such a campaign is not delivered anywhere."""
        campaign = await self.activations.campaign(plan.campaign_id)
        if campaign is None:
            raise NotFoundError(f"no campaign with id {plan.campaign_id}")
        _ensure_deliverable(campaign)

    async def hold_channel(self, channel: Channel) -> None:
        """Hold the channel for this export until this session's transaction ends, so that
        no other export on it checks or records contacts meanwhile (activation/contacts.py)."""
        await self.contacts.hold(channel)

    async def check_hold(self, channel: Channel) -> None:
        """In the session that holds the channel: raise ChannelHoldLostError if the hold
        ended meanwhile (activation/contacts.py)."""
        await self.contacts.check_hold(channel)

    async def moves_seen(self) -> tuple[int, int]:
        """Before :meth:`write_file`, committed on its own: the moves (Contacts.moves_seen)
        and then the erasures (ActivationRepository.erasures_seen) the file will reflect."""
        moves = await self.contacts.moves_seen()  # takes the moves lock, then
        return moves, await self.activations.erasures_seen()

    async def write_file(
        self, plan: ExportPlan, progress: ProgressCallback, *, moves_seen: tuple[int, int]
    ) -> ExportFile:
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
        clear_spool(spool, plan.activation_id)  # a run whose worker died left its files
        descriptor, name = tempfile.mkstemp(dir=spool, prefix=f"{plan.activation_id}-")
        contacts_descriptor, contacts_name = tempfile.mkstemp(
            dir=spool, prefix=f"{plan.activation_id}-", suffix=".contacts"
        )
        path, contacts = Path(name), Path(contacts_name)
        offsite = plan.channel is Channel.OFFSITE_SOCIAL
        owners = owners_file(spool, plan.activation_id) if offsite else None
        try:
            with (
                os.fdopen(descriptor, "w", encoding="utf-8", newline="") as handle,
                os.fdopen(contacts_descriptor, "wb") as contacts_handle,
                owners.open("wb") if owners else contextlib.nullcontext() as owners_handle,
            ):
                writer = ExportWriter(
                    handle, contacts_handle, plan.split, match_keys=offsite, owners=owners_handle
                )
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
            for leftover in (path, contacts, owners):
                if leftover is not None:
                    with contextlib.suppress(OSError):
                        leftover.unlink()
            raise
        return ExportFile(path, contacts, owners, counts, *moves_seen)

    async def leave_out_erased(self, written: ExportFile) -> int:
        """Just before the file goes out: rewrite it without the shoppers erased since it
        was read, and keep erasures, merges and splits from committing until this
        session's transaction ends, so that a file dropped before then is found by the
        erasures after (activation/spool.py); the rows it lost."""
        return await leave_out_erased(
            self.activations, written, self.settings.activation.chunk_rows
        )

    async def sending(self, plan: ExportPlan, route: Delivered, run: Job) -> None:
        """The last check before the file leaves Endcap, and the record of how and where it
        is about to go; the caller commits before sending.

        Under lock, so that nothing changes between the check and the commit: the job's
        claim (a reclaim waits for the commit, and then finds the activation sending) and
        the campaign (a cancel or pause waits too, and lands after the file went out:
        the activation then truthfully ends delivered). From the commit until
        :meth:`finish`, the channel may have the file without our knowing: a worker dying
        then leaves an activation that :meth:`abandoned` fails rather than sends again.

        Raises RunSupersededError when ``run`` lost its job or the activation is no longer
        running (nothing is written); ConflictError when a run began sending it before
        (it may have arrived) or when the campaign was cancelled, completed or paused
        (nothing was delivered).
        """
        activation = await self.activations.get(plan.activation_id)
        if activation is None:
            raise NotFoundError(f"no activation with id {plan.activation_id}")
        await self._ensure_owner(activation, run)
        if activation.status != ActivationStatus.RUNNING:
            raise RunSupersededError(
                f"activation {plan.activation_id} is {activation.status}: this run does not send it"
            )
        _ensure_unsent(activation)
        campaign = await self.activations.campaign(plan.campaign_id, for_update=True)
        if campaign is None:
            raise NotFoundError(f"no campaign with id {plan.campaign_id}")
        _ensure_deliverable(campaign)
        # Conditional, for runs without a job (no claim to lock): only one sends.
        if not await self.activations.mark_sending(
            plan.activation_id, route.method, route.destination
        ):
            raise RunSupersededError(
                f"activation {plan.activation_id} is being sent by another run meanwhile"
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
            await self.fail(
                activation_id, verdict.error, attempts=activation.attempts, counts=None, run=None
            )
        return verdict

    async def finish(
        self, plan: ExportPlan, written: ExportFile, delivered: Delivered
    ) -> ActivationPublic:
        """Record a delivered activation with its exact counts, and whom it reached (its
        contacts, which count against other campaigns' exports on the channel), in one
        transaction: the caller commits while still holding the channel.

        Not fenced by the job's claim, unlike the other steps: the file went out, and a
        run that lost its job meanwhile still records the truth (only the run that
        passed :meth:`sending` can get here, so no newer run's record is overwritten)."""
        counts = written.counts
        await self.contacts.record(plan.activation_id, written.contacts, seen=written.moves_seen)
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
        return public(activation, exact=True)

    async def fail(
        self,
        activation_id: uuid.UUID,
        reason: str,
        *,
        attempts: int,
        counts: ExportCounts | None,
        run: Job | None,
    ) -> bool:
        """Record a failed activation: nothing counts as delivered (no ``exported``,
        ``match_keys``, method or destination); the counts of who was considered stay,
        when they are known. A delivered activation is never turned into a failed one.

        ``run``: the export run failing it, which writes nothing (False) once it lost its
        job; None for the reclaim itself.
        """
        activation = await self.activations.get(activation_id)
        if run is not None and (activation is None or not await self._owns(activation, run)):
            return False
        # Past ``sending`` a run may still be pushing its file or moving it into the drop
        # (one that lost its lease and does not know yet): its files stay to it, until
        # the worker's chore clears them (spool_retention.py).
        sent = activation is not None and activation.method is not None
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
        # Whatever run wrote them, its spool files hold shoppers' ids, and a failed export
        # is never run again to clear them (nor does an erasure look there): a run whose
        # worker died, re-queued, may fail before it writes anything.
        if not sent:
            clear_spool(Path(self.settings.activation.drop_dir) / SPOOL_FOLDER, activation_id)
        return True

    async def _owns(self, activation: Activation, run: Job) -> bool:
        """Whether ``run`` is the claimed run of the activation's export job; on PostgreSQL
        the job's row stays locked until this transaction ends (see JobService.holds_claim).
        An activation without a job (exported by hand) has no claim to lose."""
        if activation.job_id is None:
            return True
        return activation.job_id == run.id and await JobService(self.session).holds_claim(run)

    async def _ensure_owner(self, activation: Activation, run: Job) -> None:
        if not await self._owns(activation, run):
            raise RunSupersededError(
                f"this run of activation {activation.id}'s export lost its job (it was"
                " reclaimed): it leaves the activation to the run that replaced it"
            )


def _ensure_unsent(activation: Activation) -> None:
    """ConflictError when a run began sending the file already: it may have arrived (that
    run lost its job, or would not be here), so it is not sent a second time."""
    if activation.method is not None:
        raise ConflictError(
            f"another run began sending activation {activation.id} ({activation.method} to"
            f" {activation.destination}); it may have arrived, so it is not sent again:"
            " check with the channel before exporting anew"
        )


def _ensure_deliverable(campaign: Campaign) -> None:
    if campaign.status not in ACTIVATABLE:
        raise ConflictError(
            f"campaign {campaign.id} was {campaign.status} before its file went out:"
            " nothing was delivered",
            campaign_status=str(campaign.status),
        )


def clear_spool(spool: Path, activation_id: uuid.UUID) -> int:
    """Remove the activation's files from ``spool``; how many went."""
    cleared = 0
    for leftover in spool.glob(f"{activation_id}-*"):
        with contextlib.suppress(OSError):
            leftover.unlink()
            cleared += 1
    return cleared
