"""The "activation_export" job: export one activation's file and deliver it.

Each step has a transaction of its own: the activation shows as running at once;
the members are read in one read-only snapshot (consent as of that moment), and just
before the file goes out it loses the shoppers erased since (see
:mod:`endcap.activation.spool`); no transaction that does work stays open while the
channel is called. Beside them, from
just before the members are read until the delivery and whom it reached are recorded
(or the export failed), the export holds its channel in a session of its own, so that
exports on one channel take turns at the contact limit (see
:mod:`endcap.activation.contacts`); one waiting for its turn shows as running. That
session can end under the export (an administrator, a failover, the network) and the
lock with it: the hold is checked before the file goes out and before each retry, and
an export that lost it fails without sending. A
failure is recorded on the activation in its own committed transaction and then
raised, so the job ends failed with the same reason.

When the worker dies mid-export the job is reclaimed (see :mod:`endcap.jobs.reclaim`)
and :func:`on_abandoned` makes the activation follow it. A re-run starts from the
beginning, which is safe up to the delivery: until then nothing has left Endcap but a
spool file, which the re-run removes. Just before sending, the route is committed on
the activation (``sending``); an activation abandoned past that point is failed, never
sent again, because the channel may have it already. The delivery is recorded
(``finish``) right after the channel took it, and a re-run of a delivered activation
returns that record and sends nothing; a delivery that cannot be recorded fails the
activation with an error naming where the file went (see :func:`_record`).

A worker that is alive but lost its lease (stalled past it) is not dead: its run may go
on beside the re-run. The worker cancels it at its next refused renewal, and until then
every write it makes is fenced by its job's claim (see :mod:`endcap.activation.steps`):
``sending`` refuses a run whose job was reclaimed, so only one of the two sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlmodel.ext.asyncio.session import AsyncSession

from endcap.activation.delivery import (
    Delivered,
    DeliveryFailedError,
    Parcel,
    Recheck,
    deliver,
    route,
)
from endcap.activation.export import ExportCounts
from endcap.activation.schemas import ActivationPublic
from endcap.activation.service import EXPORT_JOB
from endcap.activation.spool import ExportFile
from endcap.activation.spool_retention import SWEEP_EVERY, clear_failed_spools
from endcap.activation.steps import ExportPlan, ExportSteps, RunSupersededError
from endcap.config import Settings
from endcap.db.engine import SessionFactory
from endcap.errors import EndcapError
from endcap.jobs.chores import chore
from endcap.jobs.models import Job
from endcap.jobs.reclaim import Reclaim
from endcap.jobs.worker import ProgressCallback, handles
from endcap.privacy.channels import Channel

log = logging.getLogger("endcap.activation")
# Tries at recording a delivery that happened: a database restarting or failing over is
# back within seconds, and the record is what says the channel has the file.
RECORD_ATTEMPTS = 3


# The files of exports failed after ``sending`` that no run clears (spool_retention.py).
chore("clear-failed-spools", every=SWEEP_EVERY)(clear_failed_spools)


class DeliveryUnrecordedError(EndcapError):
    """The channel took the file, but the delivery could not be recorded (see _record)."""


async def on_abandoned(
    session: AsyncSession, settings: Settings, job: Job, verdict: Reclaim
) -> Reclaim:
    """The activation follows its reclaimed job (see ExportSteps.abandoned)."""
    activation_id = uuid.UUID(str(job.params["activation_id"]))
    return await ExportSteps(session, settings).abandoned(activation_id, verdict)


@handles(EXPORT_JOB, on_abandoned=on_abandoned)
async def run_export(
    sessions: SessionFactory, settings: Settings, job: Job, progress: ProgressCallback
) -> dict[str, Any]:
    activation_id = uuid.UUID(str(job.params["activation_id"]))
    counts: ExportCounts | None = None
    async with contextlib.AsyncExitStack() as stack:
        try:
            async with sessions() as session:
                recorded = await ExportSteps(session, settings).delivered(activation_id)
            if recorded is not None:
                return _result(recorded)
            async with sessions() as session:
                plan = await ExportSteps(session, settings).start(activation_id, job)
                await session.commit()
            # Held until the stack closes, after the delivery and its contacts are recorded.
            hold = await stack.enter_async_context(_holding(sessions, settings, plan.channel))
            async with sessions() as session:
                # Apart from the read below: its lock must not be held while the file is
                # written, or key-chain loads would wait for it.
                seen = await ExportSteps(session, settings).moves_seen()
                await session.commit()
            async with sessions() as session:
                written = await ExportSteps(session, settings).write_file(
                    plan, progress, moves_seen=seen
                )
            stack.callback(written.discard)
            counts = written.counts
            parcel = Parcel(written.path, plan.activation_id, plan.campaign_id, plan.channel.value)
            await hold()
            async with sessions() as session:
                # Writing a large file takes a while: the job may have been reclaimed, or the
                # campaign cancelled, meanwhile. Checked and marked in one transaction.
                await ExportSteps(session, settings).sending(
                    plan, route(parcel, plan.endpoint_url, settings.activation), job
                )
                await session.commit()
            delivered = await _send(sessions, settings, plan, written, parcel, hold)
        except RunSupersededError:
            raise  # another run, or the reclaim, owns the activation now: leave it as it is
        except Exception as exc:
            reason = exc.detail if isinstance(exc, EndcapError) else f"{type(exc).__name__}: {exc}"
            attempts = exc.attempts if isinstance(exc, DeliveryFailedError) else 0
            async with sessions() as session:
                await ExportSteps(session, settings).fail(
                    activation_id, reason, attempts=attempts, counts=counts, run=job
                )
                await session.commit()
            raise
        activation = await _record(sessions, settings, job, plan, written, delivered)
    return _result(activation)


async def _send(
    sessions: SessionFactory,
    settings: Settings,
    plan: ExportPlan,
    written: ExportFile,
    parcel: Parcel,
    hold: Recheck,
) -> Delivered:
    """Leave out of the file whoever was erased since it was read, then deliver it.

    Into the drop, the look-up's lock is held until the file is there, so that an
    erasure either came before the look-up or finds the file in the drop. A push is
    looked at before each attempt, and sent without holding the lock: it can take
    minutes, and an erasure during an attempt comes after the file left Endcap
    (activation/spool.py)."""
    recheck = _recheck(sessions, settings, plan, hold, written)
    async with sessions() as session:
        await ExportSteps(session, settings).leave_out_erased(written)
        if not plan.endpoint_url:
            # Nothing to commit: the session's end releases the lock, after the move.
            return await deliver(parcel, None, settings.activation, recheck)
    return await deliver(parcel, plan.endpoint_url, settings.activation, recheck)


async def _record(
    sessions: SessionFactory,
    settings: Settings,
    job: Job,
    plan: ExportPlan,
    written: ExportFile,
    delivered: Delivered,
) -> ActivationPublic:
    """Record the delivery (ExportSteps.finish), tried RECORD_ATTEMPTS times; when it
    cannot be recorded, fail the activation with an error saying where the file went, and
    raise DeliveryUnrecordedError.

    The channel has the file whatever becomes of the record, so nothing here sends it
    again. Failed is the honest end: "delivered" would say that whom it reached is
    recorded and counts against the channel's contact limit, which it does not; left
    "running", it would look like work in progress forever (its job ends failed, so no
    reclaim comes) and keep the channel's next export out. Should even the failure not
    be recorded (the database gone), the job stays running, is reclaimed, and the
    reclaim fails the activation as "abandoned while sending": not sent again either.
    """
    failure: Exception | None = None
    for attempt in range(RECORD_ATTEMPTS):
        if attempt:
            await asyncio.sleep(settings.activation.backoff_seconds * 2 ** (attempt - 1))
        try:
            async with sessions() as session:
                activation = await ExportSteps(session, settings).finish(plan, written, delivered)
                await session.commit()
        except Exception as exc:  # tried again, then recorded as the failure
            failure = exc
            log.warning(
                "recording the delivery of activation %s failed", plan.activation_id, exc_info=True
            )
        else:
            return activation
    reason = (
        f"the file was delivered ({delivered.method} to {delivered.destination}, taken on"
        f" attempt {delivered.attempts}) but recording the delivery failed"
        f" {RECORD_ATTEMPTS} times ({type(failure).__name__}: {failure}): it is not sent"
        f" again, and the {written.counts.exported} shoppers it reached do not count against"
        " the channel's contact limit; check with the channel before exporting anew"
    )
    async with sessions() as session:
        await ExportSteps(session, settings).fail(
            plan.activation_id,
            reason,
            attempts=delivered.attempts,
            counts=written.counts,
            run=job,
        )
        await session.commit()
    raise DeliveryUnrecordedError(reason) from failure


@contextlib.asynccontextmanager
async def _holding(
    sessions: SessionFactory, settings: Settings, channel: Channel
) -> AsyncIterator[Recheck]:
    """The channel's export lock (see ExportSteps.hold_channel), in a session of its
    own whose transaction stays open until the block ends and then rolls back. Yields
    the check that it is still held, made before the file goes out and before each
    retry: a hold lost after the channel took the file cannot be undone, and the
    delivery is recorded as it happened."""
    session = sessions()
    try:
        steps = ExportSteps(session, settings)
        await steps.hold_channel(channel)

        async def check() -> None:
            await steps.check_hold(channel)

        yield check
    finally:
        try:
            await session.close()
        except DBAPIError:
            # Ended under the export after its last check: what happened is recorded
            # already (delivered or failed); only its ending goes unheard otherwise.
            log.warning(
                "the hold on the %s channel had ended before its export finished",
                channel.value,
                exc_info=True,
            )


def _recheck(
    sessions: SessionFactory,
    settings: Settings,
    plan: ExportPlan,
    hold: Recheck,
    written: ExportFile,
) -> Recheck:
    """Before a retried push: the channel is still held and the campaign still runs, and
    the file leaves out whoever was erased since it was read. Retries can take minutes,
    and until one is taken nothing was delivered, so a cancel, a pause or an erasure then
    is honoured. Unlocked: one landing between this read and the request counts as
    landing after it."""

    async def recheck() -> None:
        await hold()
        async with sessions() as session:
            steps = ExportSteps(session, settings)
            await steps.recheck(plan)
            await steps.leave_out_erased(written)

    return recheck


def _result(activation: ActivationPublic) -> dict[str, Any]:
    return {
        "activation": activation.model_dump(mode="json"),
        "progress_done": activation.members,
        "message": f"{activation.exported} exported to {activation.channel} by {activation.method}",
    }
