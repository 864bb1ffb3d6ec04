"""Handing a finished activation file to its channel: a signed push, or the file drop.

**Push** (the channel's ``endpoint_url`` is set): one ``POST`` of the CSV file as the
body, ``Content-Type: text/csv``, with these headers:

- ``X-Endcap-Activation``: the activation id. The same id on a second request is a
  retry of the same file: a channel de-duplicates on it.
- ``X-Endcap-Campaign``, ``X-Endcap-Channel``: the campaign id and the channel name.
- ``X-Endcap-Timestamp``: when this attempt was signed, in whole Unix seconds.
- ``X-Endcap-Signature``: ``sha256=`` followed by the lower-case hex of
  ``HMAC-SHA256(key, message)``, where ``key`` is the shared signing secret
  (``ENDCAP_ACTIVATION_SIGNING_SECRET``) as UTF-8 bytes and ``message`` is the ASCII
  bytes of ``f"{timestamp}.{body_sha256}"`` — the timestamp header's value, a dot, and
  the lower-case hex SHA-256 of the exact body bytes.

A channel verifies by hashing the body it received, recomputing the HMAC with the
timestamp header, comparing in constant time, and refusing timestamps too far from
its clock (each attempt is signed afresh, so a retry carries a current timestamp).

A 2xx answer delivers. Connection errors, timeouts and 5xx answers are retried, up to
``attempts`` tries in all, waiting ``backoff_seconds * 2**(n-1)`` after the n-th
failure; a 4xx (or any other) answer fails at once, as repeating the same request
cannot change it. Before each retry the caller's ``recheck`` runs: the retries can
take minutes, and a campaign cancelled meanwhile is not tried again. No push is made
without a signing secret.

**File drop** (no endpoint): the file is moved to
``drop_dir/<campaign_id>/<channel>-<activation_id>.csv`` by one rename, so a reader
polling the folder sees a whole file or none.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from endcap.config import ActivationSettings
from endcap.errors import EndcapError

READ_BYTES = 1024 * 1024
SIGNATURE_PREFIX = "sha256="
# Group-readable: the drop folder is read by the SFTP service's user, not by Endcap's.
DROP_FILE_MODE = 0o640
# Raises an EndcapError when the file should no longer be sent (see push).
Recheck = Callable[[], Awaitable[None]]


class DeliveryFailedError(EndcapError):
    """The channel did not take the file; ``attempts`` says how often it was tried."""

    def __init__(self, detail: str, *, attempts: int) -> None:
        super().__init__(detail)
        self.attempts = attempts


@dataclass(frozen=True, slots=True)
class Delivered:
    method: str  # "push" or "file"
    destination: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Parcel:
    """One activation's finished file and what the channel is told about it."""

    path: Path
    activation_id: uuid.UUID
    campaign_id: uuid.UUID
    channel: str


def sign(secret: str, timestamp: int, body_sha256: str) -> str:
    """The ``X-Endcap-Signature`` value for a body whose SHA-256 hex is ``body_sha256``."""
    message = f"{timestamp}.{body_sha256}".encode("ascii")
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(READ_BYTES):
            digest.update(block)
    return digest.hexdigest()


async def _body(path: Path) -> AsyncIterator[bytes]:
    with path.open("rb") as handle:
        while block := handle.read(READ_BYTES):
            yield block


async def push(
    parcel: Parcel,
    endpoint_url: str,
    settings: ActivationSettings,
    recheck: Recheck | None = None,
) -> Delivered:
    """POST the file to ``endpoint_url``, signed, with retries (see the module docstring).

    Raises DeliveryFailedError when there is no signing secret, on a non-retried
    answer, when every attempt failed, and when ``recheck`` refuses a retry; its message
    names the endpoint and the last outcome (e.g. "answered 503 on 4 attempts").
    """
    if not settings.signing_secret:
        raise DeliveryFailedError(
            "no signing secret is set (ENDCAP_ACTIVATION_SIGNING_SECRET): "
            f"refusing to push unsigned to {endpoint_url}",
            attempts=0,
        )
    outcome = ""
    async with httpx.AsyncClient(timeout=settings.timeout_seconds) as client:
        for attempt in range(1, settings.attempts + 1):
            if attempt > 1:
                await asyncio.sleep(settings.backoff_seconds * 2 ** (attempt - 2))
                if recheck is not None:
                    await _before_retry(recheck, endpoint_url, outcome, attempt - 1)
            # Read for each attempt: a recheck may have rewritten the file (an erasure).
            body_sha256 = await asyncio.to_thread(file_sha256, parcel.path)
            size = parcel.path.stat().st_size
            timestamp = int(time.time())
            headers = {
                "Content-Type": "text/csv",
                "Content-Length": str(size),
                "X-Endcap-Timestamp": str(timestamp),
                "X-Endcap-Signature": sign(settings.signing_secret, timestamp, body_sha256),
                "X-Endcap-Activation": str(parcel.activation_id),
                "X-Endcap-Campaign": str(parcel.campaign_id),
                "X-Endcap-Channel": parcel.channel,
            }
            try:
                response = await client.post(
                    endpoint_url, content=_body(parcel.path), headers=headers
                )
            except httpx.TransportError as exc:  # connection refused or reset, timeouts
                outcome = f"could not be reached ({type(exc).__name__})"
                continue
            if response.is_success:
                return Delivered("push", endpoint_url, attempt)
            outcome = f"answered {response.status_code}"
            if not response.is_server_error:
                raise DeliveryFailedError(
                    f"channel endpoint {endpoint_url} {outcome} (not retried); nothing delivered",
                    attempts=attempt,
                )
    raise DeliveryFailedError(
        f"channel endpoint {endpoint_url} {outcome} on {settings.attempts} attempts;"
        " nothing delivered",
        attempts=settings.attempts,
    )


async def _before_retry(recheck: Recheck, endpoint_url: str, outcome: str, tried: int) -> None:
    try:
        await recheck()
    except EndcapError as exc:
        raise DeliveryFailedError(
            f"channel endpoint {endpoint_url} {outcome} on attempt {tried} and was not tried"
            f" again: {exc.detail}",
            attempts=tried,
        ) from exc


def drop_folder(settings: ActivationSettings) -> Path:
    """The drop folder, absolute: the destination recorded with a delivery is read again
    by an erasure (privacy/drop_files.py), perhaps in a process started elsewhere."""
    return Path(settings.drop_dir).absolute()


def drop_target(parcel: Parcel, drop_dir: Path) -> Path:
    """Where :func:`drop` puts the parcel's file."""
    return drop_path(drop_dir, parcel.campaign_id, parcel.channel, parcel.activation_id)


def drop_path(
    drop_dir: Path, campaign_id: uuid.UUID, channel: str, activation_id: uuid.UUID
) -> Path:
    """Where an activation's file goes in the drop, known from the activation alone: an
    erasure finds there the file of an export that failed after dropping it."""
    return drop_dir / str(campaign_id) / f"{channel}-{activation_id}.csv"


def drop(parcel: Parcel, drop_dir: Path) -> Delivered:
    """Move the file into the drop folder in one rename; the file's own folder must be
    on the same file system (the spool lives inside ``drop_dir``)."""
    target = drop_target(parcel, drop_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    parcel.path.chmod(DROP_FILE_MODE)
    parcel.path.replace(target)
    return Delivered("file", str(target), 1)


def route(parcel: Parcel, endpoint_url: str | None, settings: ActivationSettings) -> Delivered:
    """How and where :func:`deliver` will send the parcel (``attempts`` is 0: not yet)."""
    if endpoint_url:
        return Delivered("push", endpoint_url, 0)
    return Delivered("file", str(drop_target(parcel, drop_folder(settings))), 0)


async def deliver(
    parcel: Parcel,
    endpoint_url: str | None,
    settings: ActivationSettings,
    recheck: Recheck | None = None,
) -> Delivered:
    """Push to ``endpoint_url`` when the channel has one, else into the file drop.
    ``recheck`` runs before each retry of a push (see :func:`push`).

    Raises DeliveryFailedError when the push fails (the file is then left where it was).
    """
    if endpoint_url:
        return await push(parcel, endpoint_url, settings, recheck)
    return await asyncio.to_thread(drop, parcel, drop_folder(settings))
