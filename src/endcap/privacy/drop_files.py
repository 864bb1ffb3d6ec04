"""Erasure in the file drop: activation files still waiting there lose the erased rows.

A file-drop activation (activation/delivery.py) stays in ``drop_dir`` until the
channel's reader fetches it, and some readers only copy, so the folder can keep a
shopper's profile id or hashed e-mail long after they asked to be forgotten. The
folder is Endcap's to keep, so an erasure rewrites every file there that reached the
person (their activation contacts say which; privacy/erasure.py also adds the files of
exports that failed once dropped): profile-id files lose the rows of the profile and of
the ids merged into it since, match-key files the rows of the person's e-mail and phone
hashes.

A file already fetched or pushed to an endpoint has left Endcap; the channel's own
erasure process must be told (README).

Each file is written anew beside itself and swapped in with one rename, so a reader
sees the old file or the new one, never half of one; its permissions are kept. Only
files inside ``drop_dir`` are touched: a destination recorded under an earlier setting
is left alone rather than followed out of the folder.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Collection, Iterable
from pathlib import Path

from endcap.activation.export import MATCH_KEY_HEADER, PROFILE_HEADER


def scrub_files(
    destinations: Iterable[str],
    drop_dir: Path,
    profile_ids: Collection[int],
    match_keys: Collection[str],
) -> int:
    """Rewrite each of ``destinations`` still in the drop without the erased rows; the
    number of files that lost a row."""
    root = drop_dir.resolve()
    changed = 0
    for destination in sorted(set(destinations)):
        path = Path(destination).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            continue
        if _scrub(path, {str(p) for p in profile_ids}, set(match_keys)):
            changed += 1
    return changed


def _scrub(path: Path, profile_ids: Collection[str], match_keys: Collection[str]) -> bool:
    with path.open(newline="", encoding="utf-8") as source:
        rows = csv.reader(source)
        header = tuple(next(rows, ()))
        if header == PROFILE_HEADER:
            column, erased = 0, profile_ids
        elif header == MATCH_KEY_HEADER:
            column, erased = 1, match_keys
        else:  # not a file Endcap wrote: leave it as it is
            return False
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        spare = Path(name)
        removed = 0
        try:
            with os.fdopen(handle, "w", newline="", encoding="utf-8") as target:
                out = csv.writer(target, lineterminator="\n")
                out.writerow(header)
                for row in rows:
                    if len(row) > column and row[column] in erased:
                        removed += 1
                    else:
                        out.writerow(row)
            if removed:
                spare.chmod(path.stat().st_mode & 0o777)
                spare.replace(path)
        finally:
            spare.unlink(missing_ok=True)
    return removed > 0
