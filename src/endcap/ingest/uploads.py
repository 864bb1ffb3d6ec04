"""The one file of an upload, and spooling it to disk in bounded memory, refusing it past
the size cap."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, NoReturn

import anyio
from litestar.datastructures import UploadFile

from endcap.errors import EndcapError, InvalidRequestError

COPY_BLOCK = 1024 * 1024


class UploadTooLargeError(EndcapError):
    status_code = 413
    problem_type = "payload-too-large"
    title = "Payload too large"


FIELD = "data"  # the multipart field that carries the file (curl -F data=@file.csv)
HOW = f"send the file as multipart/form-data, in the field '{FIELD}' (curl -F {FIELD}=@file.csv)"


def the_file(form: dict[str, Any]) -> UploadFile:
    """The upload's one file; InvalidRequestError when the form holds none, several, or
    anything beside it (nothing in a form is silently dropped)."""
    found = form.get(FIELD)
    if isinstance(found, list) and found:
        _refuse(f"one file per upload: '{FIELD}' holds {len(found)}; {HOW}")
    if not isinstance(found, UploadFile):
        _refuse(HOW)
    others = sorted(set(form) - {FIELD})
    if others:
        _refuse(f"a form field beside '{FIELD}' would be ignored: {', '.join(others)}; {HOW}")
    return found


def _refuse(message: str) -> NoReturn:
    raise InvalidRequestError(message, errors=[{"field": FIELD, "message": message}])


async def spool(upload: UploadFile, folder: Path, max_bytes: int) -> Path:
    """Copy the upload into ``folder`` block by block; nothing is kept if it is too large."""
    await anyio.Path(folder).mkdir(parents=True, exist_ok=True)
    target = anyio.Path(
        folder / f"{uuid.uuid4().hex}{Path(upload.filename or 'upload').suffix.lower()}"
    )
    written = 0
    try:
        async with await anyio.open_file(target, "wb") as out:
            while block := await upload.read(COPY_BLOCK):
                written += len(block)
                if written > max_bytes:
                    raise UploadTooLargeError(f"the file is larger than the {max_bytes} byte limit")
                await out.write(block)
    except BaseException:
        await target.unlink(missing_ok=True)
        raise
    finally:
        await upload.close()
    return Path(target)
