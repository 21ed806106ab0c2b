"""Benchmark: profiling a large Parquet table on Spark (``local[2]``) against one process.

One command, one table::

    python bench/bench_spark.py                 # 10M rows x 25 columns
    python bench/bench_spark.py --rows 1000000  # smaller

Data (fixed seeds, written to a temporary directory and deleted afterwards): a reference of
``--reference-rows`` rows, profiled once in one process (not timed), and a current table of
``--rows`` rows in one Parquet file of 1M-row row groups: 20 numerical columns (normal, lognormal
and exponential shapes; the first 10 shifted by 0.2 standard deviations, 2% nulls in every
fifth) and 5 categorical columns of 10 levels (the first with 8% of its mass moved).

The current table is profiled twice against the reference grid: by
:func:`airsoc.detection.profile` in this process, and by :func:`airsoc.detection.spark.profile`
on a local Spark with two cores. Drift verdicts from both profiles are compared column by
column. Spark's wall time is split into start-up (creating the session, which starts the JVM,
plus a first small job on 10,000 rows, which starts the Python workers and imports airsoc in
them) and work (the profiling job, from the ``profile()`` call to the merged result).
The ratio is Spark's wall time over the single process's, measured in the same run on the
same machine; on one machine Spark pays for the JVM, Arrow transfers and Python
workers, and only wins once the data is spread over many machines.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from airsoc.detection import check_drift
from airsoc.detection.profiles import DatasetProfile, profile
from airsoc.detection.spark import profile as spark_profile

N_NUM, N_SHIFTED, N_CAT, LEVELS = 20, 10, 5, 10
ROW_GROUP = 1_000_000


def _chunk(rng: np.random.Generator, rows: int, shifted: bool) -> pa.Table:
    cols: dict[str, Any] = {}
    for i in range(N_NUM):
        shift = 0.2 if shifted and i < N_SHIFTED else 0.0
        if i % 3 == 0:
            x = rng.normal(shift, 1.0, rows)
        elif i % 3 == 1:
            x = rng.lognormal(shift * 0.5, 0.5, rows)
        else:
            x = rng.exponential(1.0, rows) + shift
        if i % 5 == 0:
            x[rng.random(rows) < 0.02] = np.nan
        cols[f"num{i}"] = x
    levels = np.array([f"level{k}" for k in range(LEVELS)])
    base = np.full(LEVELS, 1.0 / LEVELS)
    for j in range(N_CAT):
        p = base.copy()
        if shifted and j == 0:
            p[0] -= 0.08
            p[-1] += 0.08
        cols[f"cat{j}"] = pa.array(levels[rng.choice(LEVELS, rows, p=p)])
    return pa.table(cols)


def write_table(path: Path, rows: int, *, seed: int, shifted: bool) -> None:
    """Write ``rows`` rows to one Parquet file, one row group per million rows."""
    rng = np.random.default_rng(seed)
    writer: pq.ParquetWriter | None = None
    done = 0
    while done < rows:
        n = min(ROW_GROUP, rows - done)
        table = _chunk(rng, n, shifted)
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table, row_group_size=ROW_GROUP)
        done += n
    assert writer is not None
    writer.close()


def _decisions(ref: DatasetProfile, cur: DatasetProfile) -> dict[str, str]:
    return {v.subject: v.decision for v in check_drift(ref, cur, quality=False).columns}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows of the current table")
    parser.add_argument("--reference-rows", type=int, default=1_000_000)
    parser.add_argument("--cores", type=int, default=2, help="Spark local[N]")
    args = parser.parse_args(argv)
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")

    with tempfile.TemporaryDirectory(prefix="airsoc-bench-spark-") as tmp:
        ref_path, cur_path = Path(tmp) / "reference.parquet", Path(tmp) / "current.parquet"
        t = time.perf_counter()
        write_table(ref_path, min(args.reference_rows, args.rows), seed=1, shifted=False)
        write_table(cur_path, args.rows, seed=2, shifted=True)
        size_mb = cur_path.stat().st_size / 1e6
        print(
            f"data: {args.rows:,} rows x 25 columns, {size_mb:,.0f} MB Parquet, "
            f"written in {time.perf_counter() - t:.1f} s",
            file=sys.stderr,
        )
        reference = profile(ref_path)

        t = time.perf_counter()
        local = profile(cur_path, grid_from=reference)
        local_s = time.perf_counter() - t

        t = time.perf_counter()
        from pyspark.sql import SparkSession

        spark = (
            SparkSession.builder.master(f"local[{args.cores}]")
            .appName("airsoc-bench-spark")
            .config("spark.sql.shuffle.partitions", "1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", "4g")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        session_s = time.perf_counter() - t
        # The first job starts the Python workers and imports airsoc in them: start-up too.
        t = time.perf_counter()
        warm = spark.read.parquet(str(cur_path)).limit(10_000).repartition(args.cores)
        spark_profile(warm, grid_from=reference)
        workers_s = time.perf_counter() - t
        startup_s = session_s + workers_s
        t = time.perf_counter()
        on_spark = spark_profile(spark.read.parquet(str(cur_path)), grid_from=reference)
        work_s = time.perf_counter() - t
        partitions = spark.read.parquet(str(cur_path)).rdd.getNumPartitions()
        spark.stop()

    ref_local, ref_spark = _decisions(reference, local), _decisions(reference, on_spark)
    same = sum(ref_local[c] == ref_spark.get(c) for c in ref_local)
    drifted = sum(d == "drift" for d in ref_local.values())
    spark_s = startup_s + work_s
    rows = [
        ("rows x columns", f"{args.rows:,} x {len(ref_local)}"),
        (
            "identical verdicts",
            f"{'yes' if same == len(ref_local) else 'no'} "
            f"({same}/{len(ref_local)} columns; {drifted} drift)",
        ),
        ("one process, wall s", f"{local_s:.1f}"),
        (f"Spark local[{args.cores}], wall s", f"{spark_s:.1f}"),
        (
            "  start-up s (session + first job)",
            f"{startup_s:.1f} ({session_s:.1f} + {workers_s:.1f})",
        ),
        (f"  work s ({partitions} partitions)", f"{work_s:.1f}"),
        ("ratio Spark / one process (wall)", f"{spark_s / local_s:.2f}"),
        ("ratio Spark / one process (work)", f"{work_s / local_s:.2f}"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for key, value in rows:
        print(f"| {key.ljust(width)} | {value} |")
    return 0 if same == len(ref_local) else 1


if __name__ == "__main__":
    raise SystemExit(main())
