"""What a failed job keeps as its ``error``: the reason, in words a client can show."""

from __future__ import annotations

from typing import Final

from sqlalchemy.exc import StatementError

from endcap.errors import EndcapError

# A reason is read on a job's page; past this it is a dump, not a reason. A statement
# with 40,000 bound values once made one of 952,352 characters, most of it the values.
MAX_ERROR_CHARACTERS: Final = 2000


def failure_reason(exc: BaseException) -> str:
    """Why a job failed, at most :data:`MAX_ERROR_CHARACTERS` long.

    A domain error gives its detail. A failed statement gives the driver's message
    without the SQL and bound parameters that SQLAlchemy appends to it: those can run
    to megabytes, and may hold the values of a request.
    """
    if isinstance(exc, EndcapError):
        reason = exc.detail
    elif isinstance(exc, StatementError) and exc.orig is not None:
        reason = f"{type(exc).__name__}: {exc.orig}"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    return shortened(reason)


def shortened(reason: str) -> str:
    """``reason`` cut to :data:`MAX_ERROR_CHARACTERS`, saying how long it was."""
    if len(reason) <= MAX_ERROR_CHARACTERS:
        return reason
    note = f" ... (cut short: {len(reason)} characters in all)"
    return reason[: MAX_ERROR_CHARACTERS - len(note)] + note
