"""Spark profiles equal single-process profiles, so drift verdicts are the same on both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasketches as ds
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airsoc.detection import check_drift
from airsoc.detection.profiles import DatasetProfile, profile
from airsoc.detection.spark import profile as spark_profile
from airsoc.detection.spark import spark_kinds
from airsoc.errors import InputError
from tests.detection.conftest import SPARK_WARNINGS

pytestmark = [pytest.mark.filterwarnings(SPARK_WARNINGS), pytest.mark.slow]

N = 120_000  # past the exact limit (50,000): merged KLL sketches are exercised


def _frame(seed: int, shift: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.lognormal(3 + shift, 1, N)
    amount[rng.random(N) < 0.05] = np.nan
    age = rng.integers(18, 90, N).astype("float64")
    country = rng.choice(["de", "fr", "it", "es"], N, p=[0.4 - shift, 0.3, 0.2, 0.1 + shift])
    country = np.where(rng.random(N) < 0.03, np.array(None, dtype=object), country)
    start = np.datetime64("2026-01-01T00:00:00", "us")
    seconds = rng.integers(0, 30 * 86_400, N).astype("timedelta64[s]")
    return pd.DataFrame(
        {
            "amount": amount,
            "age": age,
            "score": rng.normal(3 * shift, 1, N),
            "country": pd.Series(country, dtype=object),
            "is_new": rng.random(N) < 0.2 + shift,
            "seen_at": pd.Series(start + seconds).dt.tz_localize("UTC"),
            "comment": [("x" * int(k)) for k in rng.integers(30, 70, N)],
            "constant": np.ones(N),
        }
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("spark-data")
    out = {}
    for name, seed, shift in (("reference", 1, 0.0), ("current", 2, 0.1)):
        path = root / f"{name}.parquet"
        pq.write_table(pa.Table.from_pandas(_frame(seed, shift), preserve_index=False), path)
        out[name] = path
    return out


@pytest.fixture(scope="module")
def reference(files: dict[str, Path]) -> DatasetProfile:
    return profile(files["reference"])


def _spark_df(spark: Any, path: Path, partitions: int = 4) -> Any:
    return spark.read.parquet(str(path)).repartition(partitions)


def _decisions(ref: DatasetProfile, cur: DatasetProfile) -> dict[str, str]:
    report = check_drift(ref, cur)
    out: dict[str, str] = {f"drift:{v.subject}": v.decision for v in report.columns}
    out.update({f"quality:{v.subject}:{v.method}": v.decision for v in report.quality})
    out["dataset"] = report.dataset.decision
    return out


def _assert_within_bounds(spark_p: DatasetProfile, local_p: DatasetProfile) -> None:
    assert spark_p.names == local_p.names
    assert spark_p.n_rows == local_p.n_rows
    for name in local_p.names:
        s, c = spark_p[name], local_p[name]
        assert (s.kind, s.n_rows, s.nulls, s.n_infinite) == (
            c.kind,
            c.n_rows,
            c.nulls,
            c.n_infinite,
        )
        assert s.category_counts == c.category_counts, name
        if not c.is_numeric:
            continue
        assert (s.min, s.max, s.grid) == (c.min, c.max, c.grid), name
        assert s.counts is not None
        assert c.counts is not None
        np.testing.assert_array_equal(s.counts, c.counts)
        assert s.mean == pytest.approx(c.mean, rel=1e-9, abs=1e-9)
        assert s.std == pytest.approx(c.std, rel=1e-9, abs=1e-9)
        probs = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]
        if c.values is not None:
            np.testing.assert_array_equal(s.values, c.values)
        elif c.count:
            # Spark's quantiles come from merged KLL sketches: their true ranks (read on the
            # exact histogram) may be off by the sketch's rank error plus one grid cell.
            assert s.kll is not None
            bound = ds.kll_doubles_sketch.deserialize(s.kll).normalized_rank_error(False)
            ranks = c.cdf_at(s.quantiles(probs))
            assert np.all(np.abs(ranks - np.array(probs)) <= bound + c.rank_error()), name


def test_spark_profile_of_every_column_matches_the_single_process_profile(
    spark: Any, files: dict[str, Path], reference: DatasetProfile
) -> None:
    local = profile(files["current"], grid_from=reference)
    on_spark = spark_profile(_spark_df(spark, files["current"]), grid_from=reference)
    _assert_within_bounds(on_spark, local)
    decisions = _decisions(reference, local)
    assert _decisions(reference, on_spark) == decisions
    # The data was built so both outcomes occur: a test that only sees "ok" proves little.
    assert {"ok", "drift"} <= set(decisions.values())
    assert decisions["drift:score"] == "drift"
    assert decisions["drift:age"] == "ok"


def test_reference_profiled_on_spark_gives_the_same_verdicts(
    spark: Any, files: dict[str, Path], reference: DatasetProfile
) -> None:
    spark_ref = spark_profile(_spark_df(spark, files["reference"]))
    for name in reference.names:
        assert spark_ref[name].count == reference[name].count
        assert spark_ref[name].category_counts == reference[name].category_counts
    local_cur = profile(files["current"], grid_from=reference)
    spark_cur = spark_profile(_spark_df(spark, files["current"]), grid_from=spark_ref)
    assert _decisions(spark_ref, spark_cur) == _decisions(reference, local_cur)


def test_exact_columns_below_the_limit_are_identical(spark: Any) -> None:
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"x": rng.normal(size=5_000), "k": rng.choice(["a", "b"], 5_000)})
    ref = profile(df)
    on_spark = spark_profile(spark.createDataFrame(df).repartition(3), grid_from=ref)
    _assert_within_bounds(on_spark, profile(df, grid_from=ref))


def test_column_batches_give_the_same_profile(
    spark: Any, files: dict[str, Path], reference: DatasetProfile
) -> None:
    df = _spark_df(spark, files["current"], partitions=2)
    wide = spark_profile(df, grid_from=reference)
    narrow = spark_profile(df, grid_from=reference, column_batch=3, chunk_cells=50_000)
    _assert_within_bounds(narrow, wide)


def test_selected_columns_and_kind_overrides(spark: Any, files: dict[str, Path]) -> None:
    df = _spark_df(spark, files["current"], partitions=2)
    p = spark_profile(df, columns=["age", "country"], kinds={"age": "categorical"})
    assert p.names == ["age", "country"]
    assert p["age"].kind == "categorical"
    local = profile(files["current"], columns=["age", "country"], kinds={"age": "categorical"})
    assert p["age"].category_counts == local["age"].category_counts
    assert len(p["age"].category_counts or {}) == 72


def test_empty_dataframe_gives_an_empty_profile(spark: Any, files: dict[str, Path]) -> None:
    df = spark.read.parquet(str(files["current"])).limit(0)
    p = spark_profile(df)
    assert p.n_rows == 0
    assert p["amount"].count == 0
    assert p["country"].kind == "categorical"


def test_unknown_column_is_an_input_error(spark: Any, files: dict[str, Path]) -> None:
    with pytest.raises(InputError, match="no column 'nope'"):
        spark_profile(spark.read.parquet(str(files["current"])), columns=["nope"])


def test_kinds_follow_the_reference_and_the_local_rules() -> None:
    ref = profile({"zip": ["75001", "10115"], "x": [1.0, 2.0]})
    kinds = spark_kinds(
        {"zip": "bigint", "x": "double", "when": "timestamp", "d": "decimal(10,2)"},
        reference=ref,
    )
    assert kinds == {"zip": "categorical", "x": "numerical", "when": "datetime", "d": "numerical"}


def test_a_bad_kind_is_refused_on_the_driver(spark: Any, files: dict[str, Path]) -> None:
    df = spark.read.parquet(str(files["current"]))
    with pytest.raises(InputError, match="kind 'number' for column 'age'"):
        spark_profile(df, kinds={"age": "number"})


def test_odd_column_names_are_taken_literally(spark: Any) -> None:
    df = pd.DataFrame({"a.b": [1.0, 2.0, None], "c`d": ["x", "y", "x"]})
    on_spark = spark_profile(spark.createDataFrame(df).repartition(2))
    local = profile(df)
    assert on_spark.names == ["a.b", "c`d"]
    assert on_spark["a.b"].nulls == local["a.b"].nulls == 1
    assert on_spark["c`d"].category_counts == local["c`d"].category_counts


def test_a_column_named_twice_is_refused(spark: Any) -> None:
    df = spark.createDataFrame(pd.DataFrame({"a": [1.0], "b": [2.0]})).toDF("x", "x")
    with pytest.raises(InputError, match="column 'x' appears twice"):
        spark_profile(df)
