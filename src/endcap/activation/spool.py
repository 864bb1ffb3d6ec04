"""An export's files in the spool, and the last look at them before they go out: the
shoppers erased since they were read leave the file.

An export reads its shoppers when it writes its file, seconds or minutes before the file
goes out. An erasure that commits in between deletes the person everywhere but in that
file: while it is in the spool no erasure finds it (privacy/drop_files.py rewrites files
once they are in the drop), and once the person's identifiers are gone their hashed
e-mail and phone cannot be told from anyone else's. So just before the file goes out,
the export looks up which of its profiles no longer exist, follows those merged away to
where they went, and rewrites the file without the rows of the erased: by the profile id
in each row, or for a match-key file by the profile id of each row that the export wrote
beside it (``owners``).

Into the drop, the look-up holds the profile-moves lock shared
(:meth:`ActivationRepository.hold_profiles`) until the file is in the drop. An erasure
takes that lock alone, so it either committed before the look-up, which then sees it, or
waits until the file is in the drop and finds it there: the activation's ``destination``
is committed before the look-up (:meth:`ExportSteps.sending`). A push is looked at before
each attempt, without holding the lock through it: a push can take minutes, which would
hold back every erasure and key-chain load, and an erasure during an attempt comes after
the file left Endcap (README).

The export's counts (``exported``, ``match_keys``) stay what it read, as they do when an
erasure rewrites a file already in the drop; its contacts leave the erased out
(:meth:`Contacts.record`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import tempfile
import uuid
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from endcap.activation.contacts import MAX_HOPS
from endcap.activation.export import ExportCounts
from endcap.activation.repository import ActivationRepository

# Owners read at a time while a file is rewritten (8 bytes each).
READ_ROWS = 65_536


@dataclass(frozen=True, slots=True)
class ExportFile:
    """A written export: the file for the channel, the exported profile ids beside it
    (recorded as contacts when it is delivered), for a match-key file the profile id of
    each of its rows (``owners``), and the exact counts."""

    path: Path
    contacts: Path
    owners: Path | None
    counts: ExportCounts
    moves_seen: int  # the profile moves the file reflects (Contacts.moves_seen)
    erasures_seen: int  # ... and the erasures (ActivationRepository.erasures_seen)

    def discard(self) -> None:
        """Remove the files (the channel's is gone already once moved into the drop)."""
        for path in (self.path, self.contacts, self.owners):
            if path is not None:
                with contextlib.suppress(OSError):
                    path.unlink(missing_ok=True)


def owners_file(spool: Path, activation_id: uuid.UUID) -> Path:
    """A new, empty file in ``spool`` for a match-key file's row owners, readable by
    Endcap only, as the others there are (mkstemp), and cleared with them by a re-run."""
    descriptor, name = tempfile.mkstemp(dir=spool, prefix=f"{activation_id}-", suffix=".owners")
    os.close(descriptor)
    return Path(name)


async def leave_out_erased(
    activations: ActivationRepository, written: ExportFile, chunk_rows: int
) -> int:
    """Rewrite ``written`` without the rows of shoppers erased since it was read; the rows
    it lost. From here until the session's transaction ends, no erasure, merge or split
    commits (see the module docstring): the caller moves the file into the drop first.

    Reads the contacts ``chunk_rows`` ids at a time; the file is rewritten (in a thread)
    only when someone in it was erased."""
    await activations.hold_profiles()
    if await activations.erasures_seen() == written.erasures_seen:
        return 0  # nobody was erased since the read: no look-up (about 1 s at 1M rows)
    erased = await _erased(activations, written.contacts, chunk_rows)
    if not erased:
        return 0
    return await asyncio.to_thread(leave_out, written.path, written.owners, erased)


def leave_out(path: Path, owners: Path | None, erased: Collection[int]) -> int:
    """Rewrite the file at ``path`` without the rows of the ``erased`` profiles, in one
    rename, its permissions kept; the rows it lost. ``owners``: the profile id of each of
    its rows (native int64s); None where each row is a profile id. Endcap's files hold no
    quoted fields, so rows are copied line by line, byte for byte."""
    # Named as the export's own leftovers are (<activation id>-...), so that a re-run of an
    # export whose worker died here clears it from the spool.
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.", suffix=".tmp")
    spare = Path(name)
    removed = 0
    try:
        with (
            path.open("rb") as source,
            os.fdopen(handle, "wb") as target,
            _open(owners) as owned,
        ):
            target.write(source.readline())  # the header
            lines: Iterable[tuple[bytes, int]] = (
                ((line, int(line)) for line in source)
                if owned is None
                else zip(source, _row_owners(owned), strict=True)
            )
            for line, owner in lines:
                if owner in erased:
                    removed += 1
                else:
                    target.write(line)
        if removed:
            spare.chmod(stat.S_IMODE(path.stat().st_mode))
            spare.replace(path)
    finally:
        spare.unlink(missing_ok=True)
    return removed


async def _erased(activations: ActivationRepository, contacts: Path, chunk_rows: int) -> set[int]:
    """The file's profiles that were erased since it was read: gone, and not merged into a
    profile that is still there (followed up to MAX_HOPS merges on, as contacts.py does;
    an erasure deletes the merges into the erased, so their old ids look erased too)."""
    gone = await activations.gone_among(_chunks(contacts, chunk_rows))
    erased = {old for old, new in gone.items() if new is None}
    moved = {old: new for old, new in gone.items() if new is not None}
    for _ in range(MAX_HOPS):
        if not moved:
            return erased
        targets = np.fromiter(set(moved.values()), dtype=np.int64)
        onward = await activations.gone_among([targets])
        still_moving: dict[int, int] = {}
        for old, into in moved.items():
            if into not in onward:
                continue  # merged into a profile that is still there
            last = onward[into]
            if last is None:
                erased.add(old)
            else:
                still_moving[old] = last
        moved = still_moving
    return erased | set(moved)  # merged on more often than that while the file was out


def _chunks(ids: Path, chunk_rows: int) -> Iterator[np.ndarray]:
    with ids.open("rb") as handle:
        while (chunk := np.fromfile(handle, dtype=np.int64, count=chunk_rows)).shape[0]:
            yield chunk


def _open(owners: Path | None) -> contextlib.AbstractContextManager[BinaryIO | None]:
    return contextlib.nullcontext() if owners is None else owners.open("rb")


def _row_owners(handle: BinaryIO) -> Iterator[int]:
    while (chunk := np.fromfile(handle, dtype=np.int64, count=READ_ROWS)).shape[0]:
        yield from chunk.tolist()
