"""From checked columns to the rows staged for one entity: defaults, derived keys,
attributes from extra columns, normalised identifiers."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from endcap.config import IdentitySettings
from endcap.identity.normalize import normalise_many
from endcap.ingest.contract import EntitySpec
from endcap.ingest.validate import Checked, Rejection

UNASSIGNED_DEPARTMENT = "Unassigned"


@dataclass(slots=True)
class Staged:
    table: pa.Table  # the rows to stage, with a leading "line" column
    rejections: list[Rejection]


def stage_columns(spec: EntitySpec) -> tuple[str, ...]:
    """The staging table's columns, after "line", in order."""
    return {
        "products": ("sku", "name", "brand", "manufacturer", "department", "category",
                     "subcategory", "private_label", "package_size", "attributes"),
        "stores": ("store_id", "name", "region", "format"),
        "customers": ("customer_id", "attributes"),
        "identifiers": ("customer_id", "id_type", "id_value", "raw_value", "observed_at"),
        "consents": ("customer_id", "purpose", "status", "recorded_at", "source"),
        "transactions": ("transaction_id", "line_ref", "occurred_at", "sku", "quantity",
                         "sales_value", "discount", "customer_id", "store_id", "channel"),
    }[spec.name]  # fmt: skip


def prepare(
    spec: EntitySpec,
    source: pa.Table,
    checked: Checked,
    lines: np.ndarray,
    identity: IdentitySettings,
) -> Staged:
    columns = dict(checked.columns)
    ok = checked.ok.copy()
    rejections = list(checked.rejections)
    n = source.num_rows
    if spec.name == "products":
        columns["department"] = _default(columns.get("department"), n, UNASSIGNED_DEPARTMENT)
        flags = columns.get("private_label", pa.array(["false"] * n))
        columns["private_label"] = pc.equal(flags, "true")
    if spec.name == "transactions":
        if "line_no" in columns:
            columns["line_ref"] = columns["line_no"]
            # A file with line numbers names every line by one; a blank one cannot be matched.
            missing = np.asarray(pc.is_null(columns["line_no"])) & ok
            ok &= ~missing
            rejections.extend(
                Rejection(
                    int(lines[i]), "line_no", "a value is required (the file has a line_no column)"
                )
                for i in np.flatnonzero(missing)
            )
        else:
            columns["line_ref"] = pc.binary_join_element_wise("sku:", columns["sku"], "")
        columns["discount"] = _default(columns.get("discount"), n, "0")
        columns["channel"] = _default(columns.get("channel"), n, "store")
    if spec.keeps_attributes:
        columns["attributes"] = _attributes(spec, source)
    if spec.name == "identifiers":
        columns, bad, found = _identifiers(columns, lines, identity, ok)
        ok &= ~bad
        rejections.extend(found)
    names = stage_columns(spec)
    arrays = [pa.array(lines)] + [_column(columns, name, n) for name in names]
    table = pa.table(arrays, names=["line", *names]).filter(pa.array(ok))
    return Staged(table, rejections)


def _column(columns: dict[str, pa.Array], name: str, n: int) -> pa.Array:
    return columns[name] if name in columns else pa.nulls(n, pa.string())


def _default(values: pa.Array | None, n: int, default: str) -> pa.Array:
    if values is None:
        return pa.array([default] * n, pa.string())
    return pc.fill_null(values, default)


def _attributes(spec: EntitySpec, source: pa.Table) -> pa.Array:
    extra = [name for name in source.column_names if name not in spec.names]
    if not extra:
        return pa.array(["{}"] * source.num_rows)
    values = [source.column(name).to_pylist() for name in extra]
    return pa.array(
        [
            json.dumps(
                {
                    k: v.strip()
                    for k, v in zip(extra, row, strict=True)
                    if v is not None and v.strip()
                }
            )
            for row in zip(*values, strict=True)
        ]
    )


def _identifiers(
    columns: dict[str, pa.Array], lines: np.ndarray, identity: IdentitySettings, ok: np.ndarray
) -> tuple[dict[str, pa.Array], np.ndarray, list[Rejection]]:
    types = pc.fill_null(columns["id_type"], "").to_pylist()
    values = pc.fill_null(columns["id_value"], "").to_pylist()
    hashed_column = columns.get("is_hashed")
    hashed = (
        [v == "true" for v in hashed_column.to_pylist()] if hashed_column else [False] * len(values)
    )
    # Rows already rejected (e.g. an unknown id_type) are not normalised again.
    types = [t if keep else "account" for t, keep in zip(types, ok, strict=True)]
    result = normalise_many(
        types, values, hashed, region=identity.default_phone_region, keep_raw=identity.keep_raw
    )
    bad = result.bad & ok
    found = [Rejection(int(lines[i]), "id_value", result.reasons[i]) for i in np.flatnonzero(bad)]
    columns = {
        **columns,
        "id_value": pa.array(result.values, pa.string()),
        "raw_value": pa.array(result.raw, pa.string()),
    }
    return columns, bad, found
