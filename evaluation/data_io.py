"""Reading and writing the parquet tables of benchmark data directories.

Embeddings are stored like the DataPerf downloads: a list-of-float32 column (``encoding``) next to
``id``/``label``/... columns. Problems with the organizer's data raise ``DataError``.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .base import DataError

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")


def arrow_to_numpy(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """``array.to_numpy(zero_copy_only=False)`` without importing pandas (pyarrow's ``to_numpy`` does,
    ~0.5 s of a cold command): fixed-width numeric arrays without nulls are viewed from their buffer."""
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    kind = array.type
    if array.null_count == 0 and (pa.types.is_integer(kind) or pa.types.is_floating(kind)) \
            and not pa.types.is_float16(kind):
        dtype = np.dtype(kind.to_pandas_dtype())
        data = array.buffers()[1]
        if data is None:
            return np.zeros(0, dtype=dtype)
        return np.frombuffer(data, dtype=dtype, count=array.offset + len(array))[array.offset:]
    return array.to_numpy(zero_copy_only=False)


def read_table(path: Path, columns: Sequence[str], optional: Sequence[str] = ()) -> pa.Table:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"missing data file {path.name} ({path})")
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{path.name}: not a readable parquet file ({error})") from None
    missing = [column for column in columns if column not in schema.names]
    if missing:
        raise DataError(f"{path.name}: missing column(s) {', '.join(missing)} (has {', '.join(schema.names)})")
    # ParquetFile rather than pq.read_table: the latter's dataset layer imports pandas (~0.5 s cold)
    return pq.ParquetFile(path).read(columns=[*columns, *(c for c in optional if c in schema.names)])


def embeddings(table: pa.Table, column: str = "encoding", name: str = "table") -> np.ndarray:
    """An (n, d) float32 matrix from a list column; every row must have the same length."""
    array = table.column(column).combine_chunks()
    if array.null_count:
        raise DataError(f"{name}: column {column} has missing values")
    if len(array) == 0:
        return np.zeros((0, 0), dtype=np.float32)
    if pa.types.is_fixed_size_list(array.type):
        width = array.type.list_size
    elif pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        lengths = np.diff(arrow_to_numpy(array.offsets))
        width = int(lengths[0])
        if (lengths != width).any():
            raise DataError(f"{name}: rows of {column} have different lengths")
    else:
        raise DataError(f"{name}: column {column} must be a list of floats, not {array.type}")
    values = arrow_to_numpy(array.flatten())
    if not np.issubdtype(values.dtype, np.number):
        raise DataError(f"{name}: column {column} must hold numbers")
    matrix = values.astype(np.float32, copy=False).reshape(len(array), width)
    if not np.isfinite(matrix).all():
        raise DataError(f"{name}: column {column} has NaN or infinite values")
    return matrix


def int_column(table: pa.Table, column: str, name: str = "table") -> np.ndarray:
    values = arrow_to_numpy(table.column(column))
    if table.column(column).null_count:
        raise DataError(f"{name}: column {column} has missing values")
    if values.dtype.kind == "f" and np.all(values == np.round(values)):
        values = values.astype(np.int64)
    if values.dtype.kind not in "iub":
        raise DataError(f"{name}: column {column} must hold integers, not {values.dtype}")
    return values.astype(np.int64)


def str_column(table: pa.Table, column: str, name: str = "table") -> list[str]:
    if table.column(column).null_count:
        raise DataError(f"{name}: column {column} has missing values")
    return [str(value) for value in table.column(column).to_pylist()]


def unique_ids(ids: Sequence[str], name: str) -> dict[str, int]:
    """id -> row index; duplicate ids are a data error (submissions reference rows by id)."""
    index: dict[str, int] = {}
    for row, item in enumerate(ids):
        if item in index:
            raise DataError(f"{name}: id {item!r} appears twice (rows {index[item]} and {row})")
        index[item] = row
    return index


def check_name(value: str, what: str) -> str:
    """Ids that become file names must be plain (no '_' either: DataPerf splits file names on it)."""
    if not SAFE_NAME.match(value):
        raise ValueError(f"{what} {value!r} must be letters, digits, '-' or '.' (no '_' or '/')")
    return value


def encoding_array(matrix: np.ndarray) -> pa.Array:
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    n, width = matrix.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32) if n else np.zeros(1, np.int32)
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(matrix.ravel()))


def write_table(path: Path, columns: dict[str, Any]) -> Path:
    """Write columns (numpy 2-d arrays become list<float32> embeddings) to a parquet file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for key, value in columns.items():
        value = np.asarray(value)
        arrays[key] = encoding_array(value) if value.ndim == 2 else pa.array(value.tolist())
    pq.write_table(pa.table(arrays), path)
    return path
