"""Return profiles of Spark DataFrames, computed per partition by the single-process profiler.

:func:`profile` runs :func:`airsoc.detection.profiles.profile` itself inside ``mapInPandas`` on
every partition, ships each partition's profile to the driver as bytes
(:mod:`airsoc.detection.serialize`, never pickle) and merges them there with
:func:`airsoc.detection.profiles.merge`. Profiles are mergeable sketches, so the result is the
profile one process would have computed: counts, nulls, category counts, min/max and the
histogram on the reference grid are exact; mean and variance agree to rounding; quantiles past
``exact_limit`` values come from merged KLL sketches, within the sketch's rank error. Drift
verdicts computed from it are the same.

Everything that could make partitions disagree is decided once, on the driver:

* column kinds: from the Spark schema, the reference (a column categorical in the reference
  stays categorical) and ``kinds=`` overrides; a string column is ``text`` when its mean length
  (over the whole DataFrame, one aggregation) reaches the threshold
  :func:`airsoc.detection.inputs.infer_kind` uses;
* the histogram grid of each numeric column: the reference's (``grid_from=``), or else one
  built from a sample of the DataFrame;
* datetimes become seconds since the epoch in Spark (no session time zone involved).

Very wide tables are profiled in batches of ``column_batch`` columns: each batch is its own
``select`` (Parquet reads only those columns) and all batches run as one Spark job. Inside a
partition, Arrow batches are regrouped into chunks of at most ``chunk_cells`` values, so an
executor's memory stays bounded whatever the width.

Requires the optional extra ``spark`` (``pyspark``) and a Java runtime.

Example (the planning functions run without Spark):
    >>> column_batches(["a", "b", "c", "d", "e"], 2)
    [['a', 'b'], ['c', 'd'], ['e']]
    >>> chunk_rows_for(25, chunk_cells=25_000_000)
    1000000
"""

from __future__ import annotations

import itertools
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from airsoc.detection.inputs import KINDS, TEXT_MEAN_LENGTH, ColumnKind, read_table
from airsoc.detection.profiles import (
    EXACT_LIMIT,
    MAX_CATEGORIES,
    ColumnProfile,
    DatasetProfile,
    Grid,
    merge,
)
from airsoc.detection.profiles import profile as profile_local
from airsoc.detection.serialize import profile_from_bytes, profile_to_bytes
from airsoc.errors import DataFileError, InputError

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

__all__ = [
    "COLUMN_BATCH",
    "chunk_rows_for",
    "column_batches",
    "grid_profile",
    "profile",
    "read_parquet",
    "spark_kinds",
    "spark_session",
]

#: Columns profiled together in one ``select``; wider tables are split into batches.
COLUMN_BATCH = 64
#: Values (rows x columns) an executor holds at once while profiling one chunk.
CHUNK_CELLS = 25_000_000
_MAX_CHUNK_ROWS = 1_000_000
_GRID_SAMPLE = 131_072
_RESULT_SCHEMA = "batch INT, part INT, seq INT, payload BINARY"


def column_batches(names: Sequence[str], size: int = COLUMN_BATCH) -> list[list[str]]:
    """Return ``names`` split into consecutive batches of at most ``size`` columns.

    >>> column_batches(["x"], 64)
    [['x']]
    """
    if size < 1:
        raise InputError(f"column_batch must be at least 1, got {size}")
    return [list(names[i : i + size]) for i in range(0, len(names), size)]


def chunk_rows_for(n_columns: int, *, chunk_cells: int = CHUNK_CELLS) -> int:
    """Return how many rows of ``n_columns`` columns one chunk holds (at least 10,000).

    >>> chunk_rows_for(5_000)
    10000
    """
    return max(10_000, min(_MAX_CHUNK_ROWS, chunk_cells // max(n_columns, 1)))


def grid_profile(reference: DatasetProfile) -> DatasetProfile:
    """Return ``reference`` reduced to what partitions need: kinds, grids and the value range.

    Much smaller than the reference (no histograms, values or sketches), so it is cheap to
    ship to every executor.

    >>> from airsoc.detection.profiles import profile as p
    >>> g = grid_profile(p({"x": [1.0, 2.0, 3.0]}))["x"]
    >>> g.grid is not None, g.counts, g.min, g.max
    (True, None, 1.0, 3.0)
    """
    cols = {
        name: ColumnProfile(
            name=name,
            kind=col.kind,
            n_rows=0,
            nulls=0,
            min=col.min,
            max=col.max,
            grid=col.grid,
            category_counts=None if col.is_numeric else {},
        )
        for name, col in reference.columns.items()
    }
    return DatasetProfile(cols, 0, reference.source)


def _kind_of_type(type_name: str) -> ColumnKind | None:
    """Return the kind of a Spark type name (``None``: a string, decided by its length)."""
    if type_name == "boolean":
        return "boolean"
    if type_name in ("byte", "short", "integer", "long", "float", "double", "void"):
        return "numerical"
    if type_name.startswith("decimal"):
        return "numerical"
    if type_name in ("timestamp", "timestamp_ntz", "date"):
        return "datetime"
    if type_name in ("string", "varchar", "char") or type_name.startswith(("varchar", "char")):
        return None
    return "categorical"


def spark_kinds(
    types: Mapping[str, str],
    *,
    kinds: Mapping[str, str] | None = None,
    reference: DatasetProfile | None = None,
    string_lengths: Mapping[str, float | None] | None = None,
) -> dict[str, ColumnKind]:
    """Return the kind of every column from Spark type names, as the local reader would infer.

    ``kinds`` overrides win; then a column that is categorical or boolean in ``reference``
    keeps that kind (as :func:`airsoc.detection.check_drift` does); then the type decides,
    and a string column is ``text`` when its mean length in ``string_lengths`` reaches the
    text threshold.

    >>> spark_kinds({"a": "double", "b": "string", "c": "string", "d": "boolean"},
    ...             string_lengths={"b": 3.0, "c": 80.0})
    {'a': 'numerical', 'b': 'categorical', 'c': 'text', 'd': 'boolean'}
    """
    out: dict[str, ColumnKind] = {}
    for name, type_name in types.items():
        given = (kinds or {}).get(name)
        ref = reference.columns.get(name) if reference is not None else None
        if given is not None:
            out[name] = given  # type: ignore[assignment]  # validated by the reader
        elif ref is not None and not ref.is_numeric:
            out[name] = ref.kind
        else:
            kind = _kind_of_type(type_name)
            if kind is None:
                mean_len = (string_lengths or {}).get(name) or 0.0
                kind = "text" if mean_len >= TEXT_MEAN_LENGTH else "categorical"
            out[name] = kind
    return out


def _renamed(frames: Iterable[pd.DataFrame], names: list[str]) -> Iterator[pd.DataFrame]:
    """Return the frames with their real column names (Spark carried positional ones)."""
    for frame in frames:
        frame.columns = names
        yield frame


def _rechunk(frames: Iterable[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    """Return the frames regrouped into chunks of about ``rows`` rows (Arrow batches are small)."""
    import pandas as pd

    pending: list[pd.DataFrame] = []
    count = 0
    for frame in frames:
        if len(frame) == 0:
            continue
        pending.append(frame)
        count += len(frame)
        if count >= rows:
            yield pending[0] if len(pending) == 1 else pd.concat(pending, ignore_index=True)
            pending, count = [], 0
    if pending:
        yield pending[0] if len(pending) == 1 else pd.concat(pending, ignore_index=True)


def _partition_profiler(
    batch: int,
    names: list[str],
    kinds: dict[str, ColumnKind],
    grid: bytes | None,
    options: dict[str, Any],
    rows: int,
) -> Any:
    """Return the function ``mapInPandas`` runs on each partition of one column batch."""

    def run(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        import pandas as pd
        from pyspark import TaskContext

        ctx = TaskContext.get()
        part = ctx.partitionId() if ctx is not None else 0
        chunks = _rechunk(_renamed(frames, names), rows)
        first = next(chunks, None)
        if first is None:
            return
        reference = profile_from_bytes(grid) if grid is not None else None
        result = profile_local(
            itertools.chain([first], chunks), kinds=kinds, grid_from=reference, **options
        )
        yield pd.DataFrame(
            {"batch": [batch], "part": [part], "seq": [0], "payload": [profile_to_bytes(result)]}
        )

    return run


def _col(name: str) -> Any:
    from pyspark.sql import functions as F  # noqa: N812 - the usual Spark spelling

    return F.col(name)


def _select_expr(name: str, type_name: str, kind: ColumnKind) -> Any:
    """Return the Spark expression for column ``name`` (a positional ``_airsoc_cN`` name)."""
    from pyspark.sql import functions as F  # noqa: N812 - the usual Spark spelling

    col = _col(name)
    if kind == "datetime" and type_name == "date":
        return (F.unix_date(col).cast("double") * 86_400.0).alias(name)
    if kind == "datetime" and type_name.startswith("timestamp"):
        # Seconds since the epoch, as the local reader computes them; no session time zone.
        return (F.unix_micros(col).cast("double") / 1e6).alias(name)
    if kind in ("numerical", "datetime") and type_name.startswith("decimal"):
        return col.cast("double").alias(name)
    return col.alias(name)


def _sample_grid(
    dataframe: DataFrame,
    numeric: Sequence[str],
    exprs: Mapping[str, Any],
    kinds: Mapping[str, ColumnKind],
) -> DatasetProfile:
    """Return a grid-only profile for ``numeric`` columns, built from a sample."""
    n = dataframe.count()
    fraction = min(1.0, 2.0 * _GRID_SAMPLE / max(n, 1))
    sample = dataframe.select(*(exprs[c] for c in numeric))
    if fraction < 1.0:
        sample = sample.sample(withReplacement=False, fraction=fraction, seed=0)
    # toArrow, not toPandas: no pandas round trip on the driver (Spark 4).
    arrow = sample.limit(_GRID_SAMPLE).toArrow().rename_columns(list(numeric))
    table = read_table(arrow, kinds={c: kinds[c] for c in numeric})
    cols = {}
    for col in table.columns:
        assert col.values is not None
        cols[col.name] = ColumnProfile(
            name=col.name, kind=col.kind, n_rows=0, nulls=0, grid=Grid.for_values(col.values)
        )
    return DatasetProfile(cols, 0, "grid sample")


def profile(
    dataframe: DataFrame,
    *,
    grid_from: DatasetProfile | None = None,
    kinds: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None,
    sketches: bool = True,
    exact_limit: int = EXACT_LIMIT,
    max_categories: int = MAX_CATEGORIES,
    column_batch: int = COLUMN_BATCH,
    chunk_cells: int = CHUNK_CELLS,
    source: str = "<spark>",
) -> DatasetProfile:
    """Return the profile of a Spark DataFrame, profiled per partition and merged on the driver.

    The arguments mean what they mean for :func:`airsoc.detection.profiles.profile`; give the
    reference profile as ``grid_from`` when profiling a window to compare with it. Without it,
    numeric grids come from a sample of ``dataframe`` (one extra pass).

    Example (needs Spark, so not run here)::

        >>> ref = airsoc.detection.profile("reference.parquet")  # doctest: +SKIP
        >>> cur = profile(spark.read.parquet("day/"), grid_from=ref)  # doctest: +SKIP
        >>> airsoc.detection.check_drift(ref, cur).drifted  # doctest: +SKIP
        ['amount']
    """
    try:
        from pyspark.sql import functions as F  # noqa: N812 - the usual Spark spelling
    except ImportError:
        raise ImportError(
            "airsoc.detection.spark needs pyspark: pip install 'airsoc[spark]' (and a Java 17+ "
            "runtime)"
        ) from None

    every = list(dataframe.columns)
    if len(set(every)) != len(every):
        dup = next(n for n in every if every.count(n) > 1)
        raise InputError(f"{source}: column {dup!r} appears twice")
    types = dict(dataframe.dtypes)
    # Positional names on the Spark side: no column name is ever parsed (dots, backticks).
    safe = {name: f"_airsoc_c{i}" for i, name in enumerate(every)}
    dataframe = dataframe.toDF(*safe.values())
    names = list(columns) if columns else every
    missing = [c for c in names if c not in types]
    if missing:
        raise InputError(f"{source}: no column {missing[0]!r} (columns: {', '.join(types)})")
    if len(set(names)) != len(names):
        raise InputError(f"{source}: a column is named twice in {names}")
    for col, kind in (kinds or {}).items():
        if kind not in KINDS:
            raise InputError(f"kind {kind!r} for column {col!r} is not one of {', '.join(KINDS)}")
    # Only strings whose kind is still open need their mean length (one pass over them).
    fixed_by_reference = {
        n for n, c in (grid_from.columns.items() if grid_from else ()) if not c.is_numeric
    }
    strings = [
        c
        for c in names
        if _kind_of_type(types[c]) is None
        and c not in (kinds or {})
        and c not in fixed_by_reference
    ]
    lengths: dict[str, float | None] = {}
    if strings:
        means = dataframe.agg(*(F.avg(F.length(_col(safe[c]))).alias(safe[c]) for c in strings))
        first = means.first()
        lengths = {c: (first[safe[c]] if first is not None else None) for c in strings}
    kind_of = spark_kinds(
        {c: types[c] for c in names}, kinds=kinds, reference=grid_from, string_lengths=lengths
    )
    exprs = {c: _select_expr(safe[c], types[c], kind_of[c]) for c in names}
    reference = grid_from
    numeric = [c for c in names if kind_of[c] in ("numerical", "datetime", "text")]
    lacking = [
        c
        for c in numeric
        if reference is None or c not in reference.columns or reference[c].grid is None
    ]
    if lacking:
        sampled = _sample_grid(dataframe, lacking, exprs, kind_of)
        base = grid_profile(reference) if reference is not None else None
        merged_cols = dict(base.columns) if base is not None else {}
        merged_cols.update(sampled.columns)
        reference = DatasetProfile(merged_cols, 0, "grid")
    shipped = profile_to_bytes(grid_profile(reference)) if reference is not None else None
    options: dict[str, Any] = {
        "sketches": sketches,
        "exact_limit": exact_limit,
        "max_categories": max_categories,
    }
    batches = column_batches(names, column_batch)
    jobs = []
    for i, batch in enumerate(batches):
        fn = _partition_profiler(
            i,
            batch,
            {c: kind_of[c] for c in batch},
            shipped,
            options,
            chunk_rows_for(len(batch), chunk_cells=chunk_cells),
        )
        jobs.append(dataframe.select(*(exprs[c] for c in batch)).mapInPandas(fn, _RESULT_SCHEMA))
    job = jobs[0]
    for other in jobs[1:]:
        job = job.unionAll(other)
    rows = sorted(job.collect(), key=lambda r: (r["batch"], r["part"], r["seq"]))
    parts: dict[int, list[DatasetProfile]] = {i: [] for i in range(len(batches))}
    for row in rows:
        parts[row["batch"]].append(profile_from_bytes(bytes(row["payload"]), source=source))
    columns_out: dict[str, ColumnProfile] = {}
    n_rows = 0
    for i, batch in enumerate(batches):
        found = parts[i]
        if not found:  # an empty DataFrame: profile its (empty) schema the same way
            empty = dataframe.select(*(exprs[c] for c in batch)).limit(0).toArrow()
            empty = empty.rename_columns(batch)
            found = [
                profile_local(
                    empty,
                    kinds={c: kind_of[c] for c in batch},
                    grid_from=grid_profile(reference) if reference is not None else None,
                    **options,
                )
            ]
        total = merge(found[0], *found[1:], exact_limit=exact_limit, max_categories=max_categories)
        columns_out.update(total.columns)
        n_rows = total.n_rows
    return DatasetProfile({c: columns_out[c] for c in names}, n_rows, source)


def _pyspark() -> Any:
    try:
        import pyspark.sql
    except ImportError:
        raise InputError(
            "the Spark engine needs pyspark: pip install 'airsoc[spark]' (and a Java 17+ runtime)"
        ) from None
    return pyspark.sql


def spark_session(*, master: str | None = None) -> SparkSession:
    """Return the active Spark session, or start one (``local[*]`` unless ``master`` or
    ``spark-submit`` says otherwise) with its Python workers on this interpreter.

    A session already running in the process (a notebook's, a test suite's) is reused as it is.
    """
    sql = _pyspark()
    active = sql.SparkSession.getActiveSession()
    if active is not None:
        return active  # type: ignore[no-any-return]
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = sql.SparkSession.builder.appName("airsoc")
    if master is not None or not os.environ.get("SPARK_HOME"):
        builder = builder.master(master or "local[*]")
    try:
        session = (
            builder.config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate()
        )
    except Exception as exc:  # the JVM did not start: Java missing or broken
        raise InputError(
            f"Spark did not start ({type(exc).__name__}: {str(exc)[:200]}); "
            "is a Java 17+ runtime installed (JAVA_HOME or java on the PATH)?"
        ) from None
    return session  # type: ignore[no-any-return]


def read_parquet(spark: SparkSession, path: str | os.PathLike[str]) -> DataFrame:
    """Return a DataFrame over a Parquet file or a Parquet dataset (a folder, partitioned or
    not); anything else is refused naming the path.

    >>> read_parquet(None, "data.csv")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    airsoc.errors.DataFileError: data.csv: the Spark engine reads Parquet files or folders ...
    """
    text = os.fspath(path)
    local = "://" not in text
    if local and not text.endswith(".parquet") and not os.path.isdir(text):
        raise DataFileError(
            f"{text}: the Spark engine reads Parquet files or folders of Parquet files "
            "(a profile or CSV needs --engine local)"
        )
    if local and not os.path.exists(text):
        raise DataFileError(f"{text}: no such file or folder")
    try:
        return spark.read.parquet(text)
    except Exception as exc:  # AnalysisException and friends, from the JVM
        raise DataFileError(f"{text}: Spark cannot read it as Parquet: {str(exc)[:300]}") from None
