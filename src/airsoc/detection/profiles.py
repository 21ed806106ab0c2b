"""Return mergeable dataset profiles: the summaries every drift and quality check compares.

A :class:`DatasetProfile` holds one :class:`ColumnProfile` per column. A numeric column keeps

* count, nulls, non-finite values, min/max, and mean with the sum of squared deviations (``m2``),
  which merge exactly (Chan et al.);
* a histogram on a fine *reference grid* of equal-width cells (``grid`` + ``counts``). The grid is
  fixed by the reference (its 0.05%-99.95% range, padded) and reused when profiling any later
  window, so histograms on the same grid add up exactly and the two empirical CDFs can be
  compared at every cell boundary without sorting a single column;
* the sorted values themselves while there are at most ``exact_limit`` of them (exact tests);
* past that, an Apache DataSketches KLL quantile sketch, which merges across partitions whose
  grids differ (rank error about 1.3% at ``k=200``; tests on it account for that error).

A categorical or boolean column keeps exact counts per category while there are at most
``max_categories`` of them, and a DataSketches frequent-items sketch beyond.

Profiles are computed once (``airsoc profile DATA -o FILE``), saved with :meth:`DatasetProfile.save`
and reused by every later check. Files larger than memory are profiled chunk by chunk.

Example:
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=1000), "c": rng.choice(["a", "b"], 1000)})
    >>> p = profile(df)
    >>> p.n_rows, p["x"].count, round(p["x"].mean, 2), p["c"].category_counts
    (1000, 1000, -0.05, {'a': 477, 'b': 523})
    >>> first = profile(df.iloc[:500])
    >>> both = merge(first, profile(df.iloc[500:], grid_from=first))
    >>> both["x"].count, round(both["x"].mean, 2)
    (1000, -0.05)
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeAlias, cast

import datasketches as ds
import numpy as np
import numpy.typing as npt

from airsoc.detection.inputs import Column, ColumnKind, Table, TableLike, iter_tables
from airsoc.errors import DataFileError, InputError

__all__ = [
    "ColumnProfile",
    "DatasetProfile",
    "Grid",
    "is_profile_file",
    "load_profile",
    "merge",
    "profile",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
IntArray: TypeAlias = npt.NDArray[np.int64]

FORMAT = "airsoc-profile/1"
GRID_CELLS = 16_384
EXACT_LIMIT = 50_000
MAX_CATEGORIES = 1_000
KLL_K = 200
_SAMPLE = 32_768
_PARALLEL_ROWS = 200_000
_THREADS = min(4, os.cpu_count() or 1)
_FREQ_LG_K = 12


@dataclass(frozen=True)
class Grid:
    """Return-type of grid building: ``size`` equal cells from ``lo``; the end cells take the tails.

    >>> g = Grid(lo=0.0, width=1.0, size=4)
    >>> g.cells(np.array([-5.0, 0.5, 2.0, 99.0])).tolist()
    [0, 0, 2, 3]
    """

    lo: float
    width: float
    size: int

    def cells(self, values: FloatArray) -> npt.NDArray[np.intp]:
        """Return the cell index of each (non-NaN) value."""
        pos = values - self.lo
        pos *= 1.0 / self.width
        np.clip(pos, 0, self.size - 1, out=pos)
        return pos.astype(np.intp)

    @property
    def upper_edges(self) -> FloatArray:
        """Return the upper boundary of every cell but the last (which is open)."""
        return self.lo + self.width * np.arange(1, self.size, dtype=np.float64)

    @classmethod
    def for_values(cls, values: FloatArray, size: int = GRID_CELLS) -> Grid:
        """Return a grid spanning the 0.05%-99.95% range of ``values`` (a sample), padded 5%."""
        finite = values[np.isfinite(values)]
        if len(finite) == 0:
            return cls(lo=-1.0, width=2.0 / size, size=size)
        if len(finite) > _SAMPLE:
            idx = np.random.default_rng(0).integers(0, len(finite), _SAMPLE)
            finite = finite[idx]
        sample = np.sort(finite)
        lo = float(sample[int(0.0005 * (len(sample) - 1))])
        hi = float(sample[math.ceil(0.9995 * (len(sample) - 1))])
        span = hi - lo
        if not span > 0:
            span = max(abs(lo), 1.0) * 1e-6
            return cls(lo=lo - span / 2, width=span / size, size=size)
        lo -= 0.05 * span
        return cls(lo=lo, width=1.1 * span / size, size=size)


@dataclass(frozen=True)
class ColumnProfile:
    """Return-type of profiling one column: mergeable counts, moments, histogram and sketches."""

    name: str
    kind: ColumnKind
    n_rows: int
    nulls: int
    # numeric kinds (numerical, datetime, text lengths)
    n_infinite: int = 0
    min: float | None = None
    max: float | None = None
    mean: float | None = None
    m2: float | None = None
    grid: Grid | None = None
    counts: IntArray | None = None
    values: FloatArray | None = None
    kll: bytes | None = None
    out_of_range: int | None = None
    # categorical kinds
    category_counts: dict[str, int] | None = None
    other_count: int = 0
    frequent: bytes | None = None

    @property
    def is_numeric(self) -> bool:
        """Return whether this column is summarised as numbers."""
        return self.category_counts is None

    @property
    def count(self) -> int:
        """Return the number of non-null values."""
        return self.n_rows - self.nulls

    @property
    def null_rate(self) -> float:
        """Return the share of nulls (0 for an empty column)."""
        return self.nulls / self.n_rows if self.n_rows else 0.0

    @property
    def std(self) -> float | None:
        """Return the sample standard deviation of the finite values, or None below two."""
        n = self.count - self.n_infinite
        if self.m2 is None or n < 2:
            return None
        return math.sqrt(self.m2 / (n - 1))

    @property
    def is_constant(self) -> bool:
        """Return whether every non-null value is the same."""
        if self.is_numeric:
            return self.count > 0 and self.min == self.max
        return len([c for c in (self.category_counts or {}).values() if c]) <= 1 and not (
            self.other_count
        )

    @property
    def distinct_categories(self) -> int:
        """Return how many categories were seen (a lower bound when sketched)."""
        return len([c for c in (self.category_counts or {}).values() if c])

    def rank_error(self) -> float:
        """Return the bound on the error of :meth:`cdf_at` (0 when exact)."""
        if self.values is not None:
            return 0.0
        if self.grid is not None and self.counts is not None:
            return float(self.counts.max()) / max(self.count, 1)
        if self.kll is not None:
            return float(ds.kll_doubles_sketch.deserialize(self.kll).normalized_rank_error(False))
        return 1.0

    def cdf_at(self, points: FloatArray) -> FloatArray:
        """Return the empirical CDF at ``points`` (exact values, else grid, else sketch).

        >>> p = profile({"x": [1.0, 2.0, 3.0, 4.0]})["x"]
        >>> p.cdf_at(np.array([0.0, 2.0, 10.0])).tolist()
        [0.0, 0.5, 1.0]
        """
        n = max(self.count, 1)
        if self.values is not None:
            return np.searchsorted(self.values, points, side="right") / n
        if self.grid is not None and self.counts is not None:
            cum = np.concatenate([[0], np.cumsum(self.counts)]) / n
            pos = np.clip((points - self.grid.lo) / self.grid.width, 0, self.grid.size)
            return cast(FloatArray, np.interp(pos, np.arange(self.grid.size + 1), cum))
        if self.kll is not None:
            sketch = ds.kll_doubles_sketch.deserialize(self.kll)
            return np.asarray(sketch.get_cdf(points.tolist())[:-1], dtype=np.float64)
        return np.zeros_like(points)

    def quantiles(self, probs: Sequence[float]) -> FloatArray:
        """Return quantiles (exact from values, else from the sketch, else from the grid).

        >>> profile({"x": [1.0, 2.0, 3.0, 4.0, 5.0]})["x"].quantiles([0.5]).tolist()
        [3.0]
        """
        qs = np.asarray(probs, dtype=np.float64)
        if self.count == 0 or not self.is_numeric:
            return np.full(len(qs), np.nan)
        if self.values is not None:
            return cast(FloatArray, np.quantile(self.values, qs))
        if self.kll is not None:
            sketch = ds.kll_doubles_sketch.deserialize(self.kll)
            return np.asarray(sketch.get_quantiles(qs.tolist()), dtype=np.float64)
        assert self.grid is not None
        assert self.counts is not None
        cum = np.cumsum(self.counts) / self.count
        idx = np.searchsorted(cum, qs, side="left")
        return cast(FloatArray, self.grid.lo + self.grid.width * (idx + 0.5))

    def category_frequencies(self) -> dict[str, float]:
        """Return each category's share of the non-null values."""
        total = max(self.count, 1)
        return {k: v / total for k, v in (self.category_counts or {}).items()}


@dataclass(frozen=True)
class DatasetProfile:
    """Return-type of :func:`profile`: the column profiles of one dataset, in source order."""

    columns: dict[str, ColumnProfile]
    n_rows: int
    source: str = "<data>"
    meta: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> ColumnProfile:
        try:
            return self.columns[name]
        except KeyError:
            raise InputError(f"{self.source}: no column {name!r}") from None

    @property
    def names(self) -> list[str]:
        """Return the column names in order."""
        return list(self.columns)

    def save(self, path: str | Path) -> Path:
        """Write the profile to ``path`` (a compressed archive) and return the path.

        >>> import tempfile
        >>> p = profile({"x": [1.0, 2.0], "c": ["a", "b"]})
        >>> with tempfile.TemporaryDirectory() as d:
        ...     back = load_profile(p.save(Path(d) / "ref.profile"))
        >>> back["c"].category_counts, back["x"].max
        ({'a': 1, 'b': 1}, 2.0)
        """
        out = Path(path)
        arrays: dict[str, npt.NDArray[Any]] = {}
        cols = []
        for i, col in enumerate(self.columns.values()):
            meta = {
                "name": col.name,
                "kind": col.kind,
                "n_rows": col.n_rows,
                "nulls": col.nulls,
                "n_infinite": col.n_infinite,
                "min": col.min,
                "max": col.max,
                "mean": col.mean,
                "m2": col.m2,
                "grid": None if col.grid is None else [col.grid.lo, col.grid.width, col.grid.size],
                "category_counts": col.category_counts,
                "other_count": col.other_count,
                "out_of_range": col.out_of_range,
            }
            cols.append(meta)
            if col.counts is not None:
                arrays[f"{i}.counts"] = col.counts
            if col.values is not None:
                arrays[f"{i}.values"] = col.values
            if col.kll is not None:
                arrays[f"{i}.kll"] = np.frombuffer(col.kll, dtype=np.uint8)
            if col.frequent is not None:
                arrays[f"{i}.frequent"] = np.frombuffer(col.frequent, dtype=np.uint8)
        header = {
            "format": FORMAT,
            "n_rows": self.n_rows,
            "source": self.source,
            "meta": self.meta,
            "columns": cols,
        }
        arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        with tmp.open("wb") as fh:
            np.savez_compressed(cast(Any, fh), **cast(dict[str, Any], arrays))
        tmp.replace(out)
        return out


def is_profile_file(path: str | Path) -> bool:
    """Return whether ``path`` is a saved profile (rather than a data file).

    >>> is_profile_file("no-such-file.csv")
    False
    """
    p = Path(path)
    if not p.is_file() or not zipfile.is_zipfile(p):
        return False
    with zipfile.ZipFile(p) as zf:
        return "header.npy" in zf.namelist()


def load_profile(path: str | Path) -> DatasetProfile:
    """Return the profile saved at ``path``; a clear error if it is not one.

    >>> load_profile("missing.profile")
    Traceback (most recent call last):
    ...
    airsoc.errors.DataFileError: missing.profile: no such profile file
    """
    p = Path(path)
    if not p.is_file():
        raise DataFileError(f"{p}: no such profile file")
    if not is_profile_file(p):
        raise DataFileError(f"{p}: not an airsoc profile")
    with np.load(io.BytesIO(p.read_bytes()), allow_pickle=False) as data:
        header = json.loads(bytes(data["header"]).decode())
        if header.get("format") != FORMAT:
            raise DataFileError(f"{p}: unknown profile format {header.get('format')!r}")
        cols: dict[str, ColumnProfile] = {}
        for i, meta in enumerate(header["columns"]):
            grid = meta.pop("grid")
            cols[meta["name"]] = ColumnProfile(
                **meta,
                grid=None if grid is None else Grid(float(grid[0]), float(grid[1]), int(grid[2])),
                counts=data.get(f"{i}.counts", None),
                values=data.get(f"{i}.values", None),
                kll=bytes(data[f"{i}.kll"]) if f"{i}.kll" in data else None,
                frequent=bytes(data[f"{i}.frequent"]) if f"{i}.frequent" in data else None,
            )
    return DatasetProfile(cols, int(header["n_rows"]), str(header["source"]), header["meta"])


def _profile_numeric(
    col: Column, ref: ColumnProfile | None, *, sketches: bool, exact_limit: int
) -> ColumnProfile:
    x = col.values
    assert x is not None
    finite_mask = np.isfinite(x)
    n_finite = int(np.count_nonzero(finite_mask))
    if n_finite == len(x):  # the common case: one pass decides there is nothing to drop
        nulls, v, f = 0, x, x
    else:
        nan = np.isnan(x)
        nulls = int(np.count_nonzero(nan))
        v = x[~nan]
        f = x[finite_mask]
    n_inf = len(v) - n_finite
    grid = ref.grid if ref is not None and ref.grid is not None else Grid.for_values(f)
    base = ColumnProfile(name=col.name, kind=col.kind, n_rows=len(x), nulls=nulls, grid=grid)
    has_range = ref is not None and ref.min is not None and ref.max is not None
    if len(v) == 0:
        return replace(
            base,
            counts=np.zeros(grid.size, dtype=np.int64),
            m2=0.0,
            out_of_range=0 if has_range else None,
        )
    lo, hi = float(v.min()), float(v.max())
    out_of_range = None
    if has_range:
        assert ref is not None and ref.min is not None and ref.max is not None  # noqa: PT018
        out_of_range = 0
        if lo < ref.min or hi > ref.max:
            out_of_range = int(np.count_nonzero(v < ref.min) + np.count_nonzero(v > ref.max))
    mean: float | None = None
    m2 = 0.0
    if len(f):
        mean = float(f.mean())
        dev = f - mean
        # Not np.dot: BLAS threads cost more than they save on a busy machine.
        m2 = float(np.einsum("i,i->", dev, dev))
    if n_inf == 0 and mean is not None:
        # Reuse the deviations as the cell positions: one temporary array instead of three.
        dev += mean - grid.lo
        dev *= 1.0 / grid.width
        np.clip(dev, 0, grid.size - 1, out=dev)
        cells = dev.astype(np.intp)
    else:
        cells = grid.cells(v)
    counts = np.bincount(cells, minlength=grid.size).astype(np.int64, copy=False)
    values = np.sort(v) if len(v) <= exact_limit else None
    kll = None
    if sketches and values is None:
        sketch = ds.kll_doubles_sketch(KLL_K)
        # The binding wants a writable float64 buffer; Arrow hands out read-only views.
        sketch.update(f if f.flags.writeable else f.copy())
        kll = bytes(sketch.serialize())
    return replace(
        base,
        n_infinite=n_inf,
        min=lo,
        max=hi,
        mean=mean,
        m2=m2,
        counts=counts,
        values=values,
        kll=kll,
        out_of_range=out_of_range,
    )


def _profile_categorical(col: Column, *, max_categories: int) -> ColumnProfile:
    codes = col.codes
    assert codes is not None
    tally = np.bincount(codes + 1, minlength=len(col.categories) + 1)
    counts = {label: int(c) for label, c in zip(col.categories, tally[1:], strict=True) if c}
    base = ColumnProfile(
        name=col.name, kind=col.kind, n_rows=len(codes), nulls=int(tally[0]), category_counts={}
    )
    return _with_counts(base, counts, None, max_categories)


def _with_counts(
    base: ColumnProfile, counts: dict[str, int], frequent: bytes | None, max_categories: int
) -> ColumnProfile:
    if len(counts) <= max_categories and frequent is None:
        return replace(base, category_counts=dict(sorted(counts.items())), other_count=0)
    sketch = (
        ds.frequent_strings_sketch.deserialize(frequent)
        if frequent
        else ds.frequent_strings_sketch(_FREQ_LG_K)
    )
    for label, c in counts.items():
        sketch.update(label, c)
    top = sketch.get_frequent_items(ds.frequent_items_error_type.NO_FALSE_NEGATIVES)
    kept = {str(item): int(est) for item, est, _lo, _hi in top[:max_categories]}
    other = max(base.count - sum(kept.values()), 0)
    return replace(
        base,
        category_counts=dict(sorted(kept.items())),
        other_count=other,
        frequent=bytes(sketch.serialize()),
    )


def _profile_table(
    table: Table,
    *,
    grid_from: DatasetProfile | None,
    sketches: bool,
    exact_limit: int,
    max_categories: int,
) -> DatasetProfile:
    def one(col: Column) -> ColumnProfile:
        if not col.is_numeric:
            return _profile_categorical(col, max_categories=max_categories)
        ref = grid_from.columns.get(col.name) if grid_from else None
        return _profile_numeric(
            col,
            ref if ref is not None and ref.is_numeric else None,
            sketches=sketches,
            exact_limit=exact_limit,
        )

    if table.n_rows >= _PARALLEL_ROWS and len(table.columns) > 1 and _THREADS > 1:
        # numpy releases the GIL on large arrays: columns profile side by side.
        with ThreadPoolExecutor(max_workers=_THREADS) as pool:
            results = list(pool.map(one, table.columns))
    else:
        results = [one(col) for col in table.columns]
    return DatasetProfile({p.name: p for p in results}, table.n_rows, table.source)


def profile(
    data: TableLike,
    *,
    kinds: Mapping[str, str] | None = None,
    columns: Sequence[str] | None = None,
    grid_from: DatasetProfile | None = None,
    sketches: bool = True,
    exact_limit: int = EXACT_LIMIT,
    max_categories: int = MAX_CATEGORIES,
    chunk_rows: int | None = None,
) -> DatasetProfile:
    """Return the profile of ``data`` (any table, array or CSV/Parquet path), chunk by chunk.

    ``grid_from`` puts numeric histograms on another profile's grid (a reference), which makes
    the two comparable cell by cell and mergeable. ``sketches=False`` skips the KLL sketch (the
    histogram and moments are enough for a one-off comparison). Kinds given in ``kinds`` win over
    inference.

    >>> p = profile({"n": [1, 2, None], "flag": [True, False, True]})
    >>> p["n"].nulls, p["n"].kind, p["flag"].kind, p["flag"].category_counts
    (1, 'numerical', 'boolean', {'False': 1, 'True': 2})
    """
    if isinstance(data, DatasetProfile):
        return data
    merged: DatasetProfile | None = None
    extra = {} if chunk_rows is None else {"chunk_rows": chunk_rows}
    for table in iter_tables(data, kinds=kinds, columns=columns, **extra):
        part = _profile_table(
            table,
            grid_from=grid_from or merged,
            sketches=sketches,
            exact_limit=exact_limit,
            max_categories=max_categories,
        )
        merged = part if merged is None else merge(merged, part, exact_limit=exact_limit)
    assert merged is not None
    return merged


def _merge_numeric(a: ColumnProfile, b: ColumnProfile, exact_limit: int) -> ColumnProfile:
    na, nb = a.count - a.n_infinite, b.count - b.n_infinite
    if a.mean is None or na == 0:
        mean, m2 = b.mean, b.m2
    elif b.mean is None or nb == 0:
        mean, m2 = a.mean, a.m2
    else:
        delta = b.mean - a.mean
        n = na + nb
        mean = a.mean + delta * nb / n
        m2 = (a.m2 or 0.0) + (b.m2 or 0.0) + delta * delta * na * nb / n
    same_grid = a.grid == b.grid and a.counts is not None and b.counts is not None
    values = None
    if a.values is not None and b.values is not None and a.count + b.count <= exact_limit:
        values = np.sort(np.concatenate([a.values, b.values]))
    kll = None
    if values is None:
        kll = _merge_kll([a, b])
    mins = [m for m in (a.min, b.min) if m is not None]
    maxs = [m for m in (a.max, b.max) if m is not None]
    return replace(
        a,
        n_rows=a.n_rows + b.n_rows,
        nulls=a.nulls + b.nulls,
        n_infinite=a.n_infinite + b.n_infinite,
        min=min(mins) if mins else None,
        max=max(maxs) if maxs else None,
        mean=mean,
        m2=m2,
        grid=a.grid if same_grid else None,
        counts=(a.counts + b.counts) if same_grid and a.counts is not None else None,  # type: ignore[operator]
        values=values,
        kll=kll,
        out_of_range=None
        if a.out_of_range is None or b.out_of_range is None
        else a.out_of_range + b.out_of_range,
    )


def _merge_kll(parts: Sequence[ColumnProfile]) -> bytes | None:
    sketch = ds.kll_doubles_sketch(KLL_K)
    for part in parts:
        if part.kll is not None:
            sketch.merge(ds.kll_doubles_sketch.deserialize(part.kll))
        elif part.values is not None:
            finite = part.values[np.isfinite(part.values)]
            if len(finite):
                sketch.update(finite)
        elif part.count:
            return None  # a histogram alone cannot be turned back into a sketch
    return bytes(sketch.serialize())


def _merge_categorical(a: ColumnProfile, b: ColumnProfile, max_categories: int) -> ColumnProfile:
    counts = dict(a.category_counts or {})
    for k, v in (b.category_counts or {}).items():
        counts[k] = counts.get(k, 0) + v
    base = replace(a, n_rows=a.n_rows + b.n_rows, nulls=a.nulls + b.nulls)
    if a.frequent is None and b.frequent is None and len(counts) <= max_categories:
        return replace(base, category_counts=dict(sorted(counts.items())))
    sketch = ds.frequent_strings_sketch(_FREQ_LG_K)
    for part in (a, b):
        if part.frequent is not None:
            sketch.merge(ds.frequent_strings_sketch.deserialize(part.frequent))
        else:
            for k, v in (part.category_counts or {}).items():
                sketch.update(k, v)
    return _with_counts(base, {}, bytes(sketch.serialize()), max_categories)


def merge(
    first: DatasetProfile,
    *others: DatasetProfile,
    exact_limit: int = EXACT_LIMIT,
    max_categories: int = MAX_CATEGORIES,
) -> DatasetProfile:
    """Return the profile of the union of the datasets behind ``first`` and ``others``.

    Counts, moments, category counts and sketches merge exactly; histograms merge when the
    profiles share a grid (profile later partitions with ``grid_from=``), otherwise the merged
    column falls back to its KLL sketch.

    >>> a, b = profile({"x": [1.0, 2.0]}), profile({"x": [3.0, 5.0]})
    >>> m = merge(a, b)
    >>> m["x"].count, m["x"].mean, m["x"].max
    (4, 2.75, 5.0)
    """
    out = first
    for other in others:
        if set(other.columns) != set(out.columns):
            missing = sorted(set(out.columns) ^ set(other.columns))
            raise InputError(f"cannot merge profiles with different columns: {missing}")
        cols: dict[str, ColumnProfile] = {}
        for name, a in out.columns.items():
            b = other.columns[name]
            if a.is_numeric != b.is_numeric:
                raise InputError(
                    f"cannot merge column {name!r}: {a.kind} in one profile, {b.kind} in the other"
                )
            cols[name] = (
                _merge_numeric(a, b, exact_limit)
                if a.is_numeric
                else _merge_categorical(a, b, max_categories)
            )
        out = DatasetProfile(cols, out.n_rows + other.n_rows, out.source, out.meta)
    return out
