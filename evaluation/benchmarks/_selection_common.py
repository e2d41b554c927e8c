"""Helpers shared by the speech and vision selection benchmark types (no Django, no sklearn)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from ..base import DataError, SubmissionError
from ..data_io import arrow_to_numpy
from ..submission_io import format_items, parse_json, read_bytes  # noqa: F401  (parse_json: re-exported)

# Upper bound for a submission file read into memory (a 60-id speech JSON is a few kB; a
# 3 x 1,000-row vision submission is well under 1 MB).
MAX_SUBMISSION_BYTES = 50 * 1024 * 1024


def single_threaded_blas():
    """Context manager limiting BLAS/OpenMP pools to one thread while scoring.

    The models are tiny (<= 1,000 rows): threaded BLAS only adds wake-up overhead, which on a busy
    2-core worker made the lbfgs fits 5-15x slower. Results do not depend on the thread count
    (asserted against the reference oracle, which runs with the default pools, in the tests).
    """
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def load_yaml(path: Path) -> Any:
    """``yaml.safe_load`` semantics with the C loader when available (same result, ~20x faster)."""
    if not path.is_file():
        raise DataError(f"missing file {path.name} in the data directory ({path.parent})")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with open(path, "rb") as handle:
            return yaml.load(handle, Loader=loader)
    except yaml.YAMLError as error:
        raise DataError(f"{path.name}: not valid YAML ({error})") from None


def read_parquet(path: Path, columns: list[str]) -> pa.Table:
    """``pq.read_table(path, columns=...)``; a single file is read with ``ParquetFile``, which (unlike
    ``read_table``'s dataset layer) does not import pandas: ~0.3-0.5 s of a cold command."""
    if Path(path).is_file():
        return pq.ParquetFile(path).read(columns=columns)
    return pq.read_table(path, columns=columns)


def read_embedding_table(
    path: Path, id_column: str, vector_column: str, extra_columns: Iterable[str] = ()
) -> tuple[list[str], np.ndarray, dict[str, list]]:
    """Read a parquet file (or a directory of part files) of ids and fixed-length vectors.

    Returns ``(ids, matrix, extras)``; ``matrix`` keeps the dtype stored in the file (float32
    lists stay float32), one row per parquet row in file order.
    """
    columns = [id_column, vector_column, *extra_columns]
    try:
        table = read_parquet(path, columns)
    except (pa.ArrowInvalid, pa.ArrowException, OSError, KeyError) as error:
        raise DataError(f"{_rel(path)}: cannot read parquet with columns {columns} ({error})") from None
    ids = table.column(id_column).to_pylist()
    if any(not isinstance(i, str) for i in ids):
        raise DataError(f"{_rel(path)}: column {id_column!r} must hold non-null strings")
    column = table.column(vector_column).combine_chunks()
    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)
            or pa.types.is_fixed_size_list(column.type)):
        raise DataError(f"{_rel(path)}: column {vector_column!r} must be a list of floats, not {column.type}")
    if column.null_count:
        raise DataError(f"{_rel(path)}: column {vector_column!r} has {column.null_count} null vectors")
    n = len(ids)
    if pa.types.is_fixed_size_list(column.type):
        dim = column.type.list_size
    else:
        offsets = arrow_to_numpy(column.offsets)
        lengths = np.diff(offsets)
        dim = int(lengths[0]) if n else 0
        if n and (lengths != dim).any():
            bad = int(np.flatnonzero(lengths != dim)[0])
            raise DataError(f"{_rel(path)}: vector of {ids[bad]!r} has {int(lengths[bad])} values, expected {dim}")
    values = column.flatten()
    if values.null_count:
        raise DataError(f"{_rel(path)}: column {vector_column!r} contains null values")
    if not pa.types.is_floating(values.type):
        raise DataError(f"{_rel(path)}: column {vector_column!r} must hold floats, not {values.type}")
    matrix = arrow_to_numpy(values).reshape(n, dim)
    extras = {name: table.column(name).to_pylist() for name in extra_columns}
    return ids, matrix, extras


def _rel(path: Path) -> str:
    parts = Path(path).parts
    return "/".join(parts[-2:]) if len(parts) >= 2 else str(path)


def read_submission_bytes(path: Path, what: str = "submission") -> bytes:
    if not path.is_file():
        raise SubmissionError(f"{what} {path.name}: expected a file")
    size = path.stat().st_size
    if size == 0:
        raise SubmissionError(f"{what} {path.name} is empty")
    if size > MAX_SUBMISSION_BYTES:
        raise SubmissionError(f"{what} {path.name} is {size} bytes; the limit is {MAX_SUBMISSION_BYTES} bytes")
    return read_bytes(path)


def preview(items: Iterable[Any], limit: int = 3) -> str:
    """``'a', 'b', 'c' and 4 more`` for error messages (each item cut to a readable length)."""
    return format_items(items, limit)


def type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)
