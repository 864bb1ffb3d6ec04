"""Spooling an uploaded file to disk in bounded memory, refusing it past the size cap."""

from __future__ import annotations

import uuid
from pathlib import Path

import anyio
from litestar.datastructures import UploadFile

from endcap.errors import EndcapError

COPY_BLOCK = 1024 * 1024


class UploadTooLargeError(EndcapError):
    status_code = 413
    problem_type = "payload-too-large"
    title = "Payload too large"


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
