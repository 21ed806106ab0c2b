"""Return tables read from pandas, polars, pyarrow, numpy, CSV or Parquet as typed columns.

Every reader ends in the same shape, a :class:`Table` of :class:`Column` objects, so the profiler
never cares where data came from. Numerical, datetime and text columns become ``float64``
arrays (``NaN`` marks a null; a datetime is seconds since the epoch, a text column is summarised
by its string lengths); categorical and boolean columns become integer codes (``-1`` is a null)
plus the list of category labels. Column kinds are inferred and can be overridden with
``kinds={"zip": "categorical"}``.

Files are read in record batches (:func:`iter_tables`), so a file larger than memory is profiled
chunk by chunk and never loaded whole.

Example:
    >>> import pandas as pd
    >>> t = read_table(pd.DataFrame({"amount": [1.5, None, 3.0], "country": ["fr", "de", None]}))
    >>> [(c.name, c.kind) for c in t.columns]
    [('amount', 'numerical'), ('country', 'categorical')]
    >>> t["country"].categories, t["country"].codes.tolist()
    (['de', 'fr'], [1, 0, -1])
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias, cast, get_args

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from airsoc.errors import DataFileError, InputError

__all__ = [
    "KINDS",
    "Column",
    "ColumnKind",
    "Table",
    "TableLike",
    "infer_kind",
    "iter_tables",
    "read_table",
]

ColumnKind: TypeAlias = Literal["numerical", "categorical", "boolean", "datetime", "text"]
KINDS: tuple[ColumnKind, ...] = get_args(ColumnKind)

TableLike: TypeAlias = Any
"""A pandas/polars DataFrame, a pyarrow Table, a numpy array, a dict of columns, or a path."""

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]

#: Strings at least this long on average make a column ``text`` rather than ``categorical``.
TEXT_MEAN_LENGTH = 40
#: Rows per record batch when a file is read in chunks.
CHUNK_ROWS = 1_000_000


@dataclass(frozen=True)
class Column:
    """One column, typed: ``values`` for numerical kinds, ``codes`` + ``categories`` otherwise."""

    name: str
    kind: ColumnKind
    values: FloatArray | None = None
    codes: IntArray | None = None
    categories: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        data = self.values if self.values is not None else self.codes
        return 0 if data is None else len(data)

    @property
    def is_numeric(self) -> bool:
        """Return whether the column is summarised as numbers (numerical, datetime, text length)."""
        return self.values is not None


@dataclass(frozen=True)
class Table:
    """Return-type of the readers: typed columns of equal length, in source order."""

    columns: list[Column]
    n_rows: int
    source: str = "<data>"

    def __getitem__(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise InputError(f"{self.source}: no column {name!r}")

    @property
    def names(self) -> list[str]:
        """Return the column names in order."""
        return [c.name for c in self.columns]


def infer_kind(array: pa.ChunkedArray | pa.Array) -> ColumnKind:
    """Return the kind of an Arrow column: by type, and for strings by length and cardinality.

    >>> import pyarrow as pa
    >>> infer_kind(pa.array([1, 2])), infer_kind(pa.array([True])), infer_kind(pa.array(["a"]))
    ('numerical', 'boolean', 'categorical')
    """
    typ = array.type
    if pa.types.is_dictionary(typ):
        typ = typ.value_type
    if pa.types.is_boolean(typ):
        return "boolean"
    if pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ):
        return "numerical"
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        return "datetime"
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        if pa.types.is_dictionary(array.type) or len(array) == 0:
            return "categorical"
        lengths = pc.utf8_length(array)
        mean_len = pc.mean(lengths).as_py() or 0.0
        return "text" if mean_len >= TEXT_MEAN_LENGTH else "categorical"
    if pa.types.is_null(typ):
        return "numerical"
    return "categorical"


def _to_arrow(data: Any, source: str) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    module = type(data).__module__.split(".")[0]
    if module == "pandas":
        return _pandas_to_arrow(data, source)
    if module == "polars":
        return cast(pa.Table, data.to_arrow())
    if isinstance(data, np.ndarray):
        return _numpy_to_arrow(data)
    if isinstance(data, Mapping):
        return _pandas_to_arrow(_pandas().DataFrame(dict(data)), source)
    raise InputError(
        f"{source}: cannot read a {type(data).__name__}; give a pandas, polars or pyarrow table, "
        "a numpy array, or a CSV/Parquet path"
    )


def _pandas() -> Any:
    import pandas as pd

    return pd


def _pandas_to_arrow(df: Any, source: str) -> pa.Table:
    pd = _pandas()
    if isinstance(df, pd.Series):
        df = df.to_frame()
    arrays, names = [], []
    for name in df.columns:
        series = df[name]
        try:
            arr = pa.array(series, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Mixed objects (numbers and strings): keep them as strings; a numerical kind
            # override then names the first bad value.
            arr = pa.array(series.map(lambda v: None if pd.isna(v) else str(v)), pa.string())
        arrays.append(arr)
        names.append(str(name))
    return pa.Table.from_arrays(arrays, names=names)


def _numpy_to_arrow(array: npt.NDArray[Any]) -> pa.Table:
    if array.dtype.names:
        return pa.Table.from_arrays(
            [pa.array(array[n]) for n in array.dtype.names], names=list(array.dtype.names)
        )
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise InputError(f"a numpy array must be 1-D or 2-D, got {array.ndim} dimensions")
    return pa.Table.from_arrays(
        [pa.array(array[:, i]) for i in range(array.shape[1])],
        names=[str(i) for i in range(array.shape[1])],
    )


def _as_float(arr: pa.ChunkedArray, name: str, source: str) -> FloatArray:
    typ = arr.type
    if pa.types.is_dictionary(typ):
        arr = arr.cast(typ.value_type)
        typ = arr.type
    if pa.types.is_timestamp(typ) or pa.types.is_date(typ):
        seconds = arr.cast(pa.timestamp("ns")).cast(pa.int64())
        return _float_array(seconds) / 1e9
    if pa.types.is_string(typ) or pa.types.is_large_string(typ):
        try:
            parsed = arr.cast(pa.float64())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            bad = _first_non_numeric(arr)
            raise InputError(
                f"{source}: column {name!r} is numerical but row {bad[0]} holds {bad[1]!r}"
            ) from None
        return _float_array(parsed)
    if pa.types.is_boolean(typ) or pa.types.is_null(typ):
        return _float_array(arr.cast(pa.float64()))
    if not (pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_decimal(typ)):
        raise InputError(f"{source}: column {name!r} of type {typ} is not numerical")
    return _float_array(arr)


def _float_array(arr: pa.ChunkedArray) -> FloatArray:
    if arr.num_chunks == 1 and arr.null_count == 0 and arr.type == pa.float64():
        return cast(FloatArray, arr.chunk(0).to_numpy(zero_copy_only=False))
    out = np.empty(len(arr), dtype=np.float64)
    pos = 0
    for chunk in arr.chunks:
        n = len(chunk)
        out[pos : pos + n] = chunk.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
        pos += n
    return out


def _first_non_numeric(arr: pa.ChunkedArray) -> tuple[int, str]:
    for i, value in enumerate(arr.to_pylist()):
        if value is None:
            continue
        try:
            float(value)
        except ValueError:
            return i, str(value)
    return -1, ""  # pragma: no cover - only called after a failed cast


def _as_codes(arr: pa.ChunkedArray) -> tuple[IntArray, list[str]]:
    if not pa.types.is_dictionary(arr.type):
        if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
            arr = arr.cast(pa.string())
        arr = arr.dictionary_encode()
    combined = arr.unify_dictionaries() if arr.num_chunks > 1 else arr
    dictionary = combined.chunk(0).dictionary if combined.num_chunks else pa.array([], pa.string())
    labels = [str(v) for v in dictionary.to_pylist()]
    codes = np.empty(len(combined), dtype=np.int64)
    pos = 0
    for chunk in combined.chunks:
        idx = chunk.indices.fill_null(-1)
        n = len(idx)
        codes[pos : pos + n] = idx.to_numpy(zero_copy_only=False)
        pos += n
    return _sorted_codes(codes, labels)


def _sorted_codes(codes: IntArray, labels: list[str]) -> tuple[IntArray, list[str]]:
    """Return codes renumbered so labels are sorted: equal data always gives equal profiles."""
    if all(a < b for a, b in itertools.pairwise(labels)):
        return codes, labels  # already in order (the usual case): no pass over the rows
    order = np.argsort(np.array(labels, dtype=object)) if labels else np.array([], dtype=np.int64)
    remap = np.empty(len(labels) + 1, dtype=np.int64)
    remap[order] = np.arange(len(labels))
    remap[-1] = -1
    return remap[codes], [labels[i] for i in order]


def _column(arr: pa.ChunkedArray, name: str, kind: ColumnKind, source: str) -> Column:
    if kind in ("numerical", "datetime"):
        return Column(name, kind, values=_as_float(arr, name, source))
    if kind == "text":
        text = arr.cast(pa.string()) if not pa.types.is_string(arr.type) else arr
        lengths = _float_array(pc.utf8_length(text).cast(pa.float64()))
        return Column(name, kind, values=lengths)
    if kind == "boolean" and pa.types.is_boolean(arr.type):
        codes = _float_array(arr.cast(pa.float64()))
        out = np.where(np.isnan(codes), -1, codes).astype(np.int64)
        return Column(name, kind, codes=out, categories=["False", "True"])
    codes_, labels = _as_codes(arr)
    return Column(name, kind, codes=codes_, categories=labels)


def _from_arrow(
    table: pa.Table,
    *,
    kinds: Mapping[str, str] | None,
    columns: Sequence[str] | None,
    source: str,
) -> Table:
    names = [str(n) for n in table.column_names]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InputError(f"{source}: column {dup!r} appears twice")
    wanted = list(columns) if columns else names
    missing = [c for c in wanted if c not in names]
    if missing:
        raise InputError(f"{source}: no column {missing[0]!r} (columns: {', '.join(names)})")
    overrides = dict(kinds or {})
    for col, kind in overrides.items():
        if kind not in KINDS:
            raise InputError(f"kind {kind!r} for column {col!r} is not one of {', '.join(KINDS)}")
    cols = []
    for name in wanted:
        arr = table.column(names.index(name))
        kind = cast(ColumnKind, overrides.get(name) or infer_kind(arr))
        cols.append(_column(arr, name, kind, source))
    return Table(cols, table.num_rows, source)


def _file_format(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if ".parquet" in suffixes or ".pq" in suffixes:
        return "parquet"
    if ".csv" in suffixes or ".tsv" in suffixes:
        return "csv"
    raise DataFileError(f"{path}: unsupported file type; use .csv or .parquet")


def _iter_file_batches(path: Path, chunk_rows: int) -> Iterator[pa.Table]:
    if not path.exists():
        raise DataFileError(f"{path}: no such file")
    fmt = _file_format(path)
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pf = pq.ParquetFile(path)
            for batch in pf.iter_batches(batch_size=chunk_rows):
                yield pa.Table.from_batches([batch])
            if pf.metadata.num_rows == 0:
                yield pf.schema_arrow.empty_table()
            return
        import pyarrow.csv as pcsv

        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
        reader = pcsv.open_csv(
            path,
            read_options=pcsv.ReadOptions(block_size=64 << 20),
            parse_options=pcsv.ParseOptions(delimiter=delimiter),
        )
        pending: list[pa.RecordBatch] = []
        rows = 0
        yielded = False
        for batch in reader:
            pending.append(batch)
            rows += batch.num_rows
            if rows >= chunk_rows:
                yield pa.Table.from_batches(pending)
                yielded = True
                pending, rows = [], 0
        if pending or not yielded:
            yield pa.Table.from_batches(pending, schema=reader.schema)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataFileError(f"{path}: cannot read {fmt}: {exc}") from None


def iter_tables(
    source: TableLike,
    *,
    kinds: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[Table]:
    """Return an iterator of :class:`Table` chunks: files and iterators of tables are streamed.

    In-memory data is one chunk. Kinds are inferred on the first chunk and kept for the rest,
    so chunks always agree.

    >>> import numpy as np
    >>> [t.n_rows for t in iter_tables(np.zeros((5, 2)))]
    [5]
    """
    if isinstance(source, str | Path):
        path = Path(source)
        fixed: dict[str, str] | None = dict(kinds) if kinds else None
        for batch in _iter_file_batches(path, chunk_rows):
            table = _from_arrow(batch, kinds=fixed, columns=columns, source=str(path))
            if fixed is None or len(fixed) < len(table.columns):
                fixed = {c.name: c.kind for c in table.columns}
            yield table
        return
    if isinstance(source, Iterator):
        # A stream of chunks (a generator of DataFrames or Arrow tables): profiled one at a time.
        fixed = dict(kinds) if kinds else None
        for chunk in source:
            table = read_table(chunk, kinds=fixed, columns=columns)
            fixed = {c.name: c.kind for c in table.columns}
            yield table
        return
    yield read_table(source, kinds=kinds, columns=columns)


def read_table(
    source: TableLike,
    *,
    kinds: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None,
) -> Table:
    """Return ``source`` read whole as a :class:`Table` (files: all chunks joined).

    >>> import numpy as np
    >>> read_table(np.arange(6.0).reshape(3, 2)).names
    ['0', '1']
    """
    if isinstance(source, Table):
        return source
    if isinstance(source, str | Path):
        path = Path(source)
        fixed_kinds = kinds
        tables = []
        for batch in _iter_file_batches(path, CHUNK_ROWS):
            tables.append(batch)
        return _from_arrow(
            pa.concat_tables(tables), kinds=fixed_kinds, columns=columns, source=str(path)
        )
    name = "<data>"
    if type(source).__module__.split(".")[0] == "pandas" and hasattr(source, "columns"):
        return _from_pandas(source, kinds=kinds, columns=columns, source=name)
    return _from_arrow(_to_arrow(source, name), kinds=kinds, columns=columns, source=name)


def _from_pandas(
    df: Any, *, kinds: Mapping[str, str] | None, columns: Sequence[str] | None, source: str
) -> Table:
    """Return a Table from a DataFrame, without copies for float and categorical columns."""
    pd = _pandas()
    names = [str(n) for n in df.columns]
    if len(set(names)) != len(names) or columns:
        return _from_arrow(
            _pandas_to_arrow(df, source), kinds=kinds, columns=columns, source=source
        )
    cols: list[Column] = []
    slow: list[str] = []
    for name, key in zip(names, df.columns, strict=True):
        series = df[key]
        kind = (kinds or {}).get(name)
        dtype = series.dtype
        if kind in (None, "numerical") and isinstance(dtype, np.dtype) and dtype.kind in "fiu":
            values = series.to_numpy(dtype=np.float64, copy=False)
            cols.append(Column(name, "numerical", values=values))
        elif kind in (None, "categorical") and isinstance(dtype, pd.CategoricalDtype):
            codes = series.cat.codes.to_numpy().astype(np.int64)
            labels = [str(c) for c in dtype.categories]
            sorted_codes, sorted_labels = _sorted_codes(codes, labels)
            cols.append(Column(name, "categorical", codes=sorted_codes, categories=sorted_labels))
        else:
            slow.append(name)
            cols.append(Column(name, "numerical"))  # placeholder, replaced below
    if slow:
        rest = _from_arrow(
            _pandas_to_arrow(df[[df.columns[names.index(n)] for n in slow]], source),
            kinds=kinds and {k: v for k, v in kinds.items() if k in slow},
            columns=None,
            source=source,
        )
        cols = [rest[c.name] if c.name in slow else c for c in cols]
    return Table(cols, len(df), source)
