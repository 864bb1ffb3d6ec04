"""Small vectorised helpers shared by the generators: sampling, id scrambling,
and building Arrow arrays (padded ids, cents as decimals, dictionaries)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

IntArray = npt.NDArray[np.integer[Any]]
FloatArray = npt.NDArray[np.floating[Any]]
BoolArray = npt.NDArray[np.bool_]

MONEY = pa.decimal128(12, 2)
_PRIME = 2_147_483_647  # coprime with every modulus used here (all are below it)


def sample_cdf(cdf: FloatArray, u: FloatArray) -> IntArray:
    """Indices drawn from a cumulative distribution, one per uniform in ``u``."""
    idx: IntArray = np.minimum(np.searchsorted(cdf, u, side="right"), cdf.shape[0] - 1)
    return idx


def cdf_of(weights: FloatArray) -> FloatArray:
    c: FloatArray = np.cumsum(weights, dtype=np.float64)
    c /= c[-1]
    return c


def scramble(values: IntArray, modulus: int, salt: int = 0) -> IntArray:
    """A bijection on ``[0, modulus)``: sequential numbers come out looking random
    but never collide, which keeps ids unique without a global uniqueness check."""
    if modulus >= _PRIME:
        raise ValueError("modulus too large for the scrambler")
    v = values.astype(np.int64) % modulus
    out: IntArray = (v * (_PRIME % modulus) + salt) % modulus
    return out


def padded(prefix: str, values: IntArray, width: int) -> pa.Array:
    """``prefix`` followed by the zero-padded decimal ``values``."""
    digits = pc.utf8_lpad(pc.cast(pa.array(values.astype(np.int64)), pa.string()), width, "0")
    out: pa.Array = pc.binary_join_element_wise(prefix, digits, "")
    return out


def money(cents: IntArray) -> pa.Array:
    """Whole cents as a ``decimal128(12, 2)`` array, built straight from the buffer."""
    c = np.ascontiguousarray(cents, dtype=np.int64)
    words = np.empty((c.shape[0], 2), dtype=np.int64)
    words[:, 0] = c
    words[:, 1] = c >> 63  # two's-complement sign extension into the high word
    return pa.Array.from_buffers(MONEY, c.shape[0], [None, pa.py_buffer(words)])


def dictionary(
    indices: IntArray, values: pa.Array, null_mask: BoolArray | None = None
) -> pa.DictionaryArray:
    """A dictionary-encoded column: ``values[indices]`` without copying strings."""
    idx = pa.array(indices.astype(np.int32), mask=null_mask)
    return pa.DictionaryArray.from_arrays(idx, values)
