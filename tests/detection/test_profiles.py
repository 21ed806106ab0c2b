from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airsoc.detection import check_drift, is_profile_file, load_profile, merge, profile
from airsoc.errors import DataFileError, InputError


def _df(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"x": rng.lognormal(size=n), "c": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2])}
    )


def test_moments_and_counts_are_exact() -> None:
    df = _df(5_000, 1)
    df.loc[:9, "x"] = np.nan
    p = profile(df)
    x = df["x"].dropna()
    assert p["x"].nulls == 10
    assert p["x"].count == len(x)
    assert p["x"].mean == pytest.approx(x.mean())
    assert p["x"].std == pytest.approx(x.std())
    assert p["c"].category_counts == df["c"].value_counts().sort_index().to_dict()


def test_merged_partitions_equal_the_whole() -> None:
    df = _df(90_000, 2)
    whole = profile(df)
    first = profile(df.iloc[:30_000])
    parts = [first] + [profile(df.iloc[i : i + 30_000], grid_from=first) for i in (30_000, 60_000)]
    merged = merge(*parts)
    assert merged["x"].mean == pytest.approx(whole["x"].mean)
    assert merged["x"].m2 == pytest.approx(whole["x"].m2)
    assert merged["c"].category_counts == whole["c"].category_counts
    assert merged["x"].counts is not None
    assert merged["x"].counts.sum() == 90_000
    # Beyond the exact limit the values give way to a mergeable KLL sketch.
    assert merged["x"].values is None
    assert merged["x"].kll is not None
    assert merged["x"].quantiles([0.5])[0] == pytest.approx(df["x"].median(), rel=0.05)


def test_profiles_on_different_grids_fall_back_to_the_sketch() -> None:
    a, b = profile(_df(60_000, 3)), profile(_df(60_000, 4))
    m = merge(a, b)
    assert m["x"].counts is None
    assert m["x"].kll is not None
    report = check_drift(m, _df(60_000, 5))
    v = report.column("x")
    assert v.method == "ks_sketch"
    assert v.sketch_error is not None
    assert 0 < v.sketch_error < 0.05
    assert v.decision == "ok"


def test_merging_mismatched_profiles_is_an_error() -> None:
    with pytest.raises(InputError, match="different columns"):
        merge(profile({"a": [1.0]}), profile({"b": [1.0]}))
    with pytest.raises(InputError, match="cannot merge column 'a'"):
        merge(profile({"a": [1.0]}), profile({"a": ["x"]}))


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    p = profile(_df(80_000, 6))
    path = p.save(tmp_path / "ref.profile")
    assert is_profile_file(path)
    back = load_profile(path)
    assert back["x"].mean == p["x"].mean
    assert back["x"].kll == p["x"].kll
    assert back["c"].category_counts == p["c"].category_counts
    np.testing.assert_array_equal(back["x"].counts, p["x"].counts)
    (tmp_path / "plain.csv").write_text("a\n1\n")
    assert not is_profile_file(tmp_path / "plain.csv")
    with pytest.raises(DataFileError, match="not an airsoc profile"):
        load_profile(tmp_path / "plain.csv")


def test_a_file_is_profiled_in_chunks_like_it_is_in_memory(tmp_path: Path) -> None:
    df = _df(40_000, 7)
    pq.write_table(pa.Table.from_pandas(df), tmp_path / "big.parquet", row_group_size=5_000)
    streamed = profile(tmp_path / "big.parquet", chunk_rows=5_000)
    whole = profile(df)
    assert streamed.n_rows == 40_000
    assert streamed["x"].mean == pytest.approx(whole["x"].mean)
    assert streamed["c"].category_counts == whole["c"].category_counts
    assert streamed["x"].counts is not None
    assert streamed["x"].counts.sum() == 40_000


def test_many_categories_switch_to_a_frequent_items_sketch() -> None:
    rng = np.random.default_rng(8)
    heavy = rng.choice(["top1", "top2"], 5_000)
    tail = np.array([f"id{i}" for i in range(3_000)])
    p = profile({"c": np.concatenate([heavy, tail])}, max_categories=100)
    c = p["c"]
    assert c.frequent is not None
    assert len(c.category_counts or {}) <= 100
    assert (c.category_counts or {})["top1"] == pytest.approx((heavy == "top1").sum(), rel=0.01)
    assert c.other_count > 0


def test_a_stream_of_chunks_is_profiled_one_chunk_at_a_time() -> None:
    df = _df(30_000, 9)
    chunks = (df.iloc[i : i + 7_000] for i in range(0, 30_000, 7_000))
    streamed = profile(chunks)
    whole = profile(df)
    assert streamed.n_rows == 30_000
    assert streamed["x"].m2 == pytest.approx(whole["x"].m2)
    assert streamed["c"].category_counts == whole["c"].category_counts
