"""Rewriting a spool file without the rows of erased shoppers: by the profile id in each
row, or by the owner of each match-key row; in one rename, its mode kept."""

from __future__ import annotations

import stat
from pathlib import Path

import numpy as np
import pytest

from endcap.activation.spool import leave_out


def spool_file(folder: Path, text: str, mode: int = 0o600) -> Path:
    path = folder / "activation-file"
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def owners_of(folder: Path, *profile_ids: int) -> Path:
    path = folder / "activation-file.owners"
    np.array(profile_ids, dtype=np.int64).tofile(path)
    return path


def test_a_profile_id_file_loses_the_rows_of_the_erased_and_keeps_its_mode(
    tmp_path: Path,
) -> None:
    path = spool_file(tmp_path, "profile_id\n3\n5\n8\n13\n", mode=0o640)

    assert leave_out(path, None, {5, 13}) == 2

    assert path.read_text(encoding="utf-8") == "profile_id\n3\n8\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # the spare was renamed


def test_a_match_key_file_loses_the_rows_the_erased_owned_not_the_same_hash_of_another(
    tmp_path: Path,
) -> None:
    # Profile 5's e-mail is also profile 8's (a key shared by two, not yet flagged):
    # only 5 was erased, so 8 keeps its row.
    text = "key_type,sha256\nEMAIL,aa\nEMAIL,bb\nPHONE,cc\nEMAIL,bb\nPHONE,dd\n"
    path = spool_file(tmp_path, text)
    owners = owners_of(tmp_path, 3, 5, 5, 8, 8)

    assert leave_out(path, owners, {5}) == 2

    assert path.read_text(encoding="utf-8") == "key_type,sha256\nEMAIL,aa\nEMAIL,bb\nPHONE,dd\n"


def test_owners_that_do_not_match_the_rows_leave_the_file_as_it_was(tmp_path: Path) -> None:
    text = "key_type,sha256\nEMAIL,aa\nEMAIL,bb\n"
    path = spool_file(tmp_path, text)
    owners = owners_of(tmp_path, 3)

    with pytest.raises(ValueError, match="zip"):
        leave_out(path, owners, {3})

    assert path.read_text(encoding="utf-8") == text
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, owners.name])
