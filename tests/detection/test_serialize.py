"""Profiles survive the trip to bytes and back, and damaged or newer bytes are refused."""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd
import pytest

from airsoc.detection.profiles import DatasetProfile, merge, profile
from airsoc.detection.serialize import FORMAT_VERSION, profile_from_bytes, profile_to_bytes
from airsoc.errors import DataFileError


def _assert_same(a: DatasetProfile, b: DatasetProfile) -> None:
    assert a.n_rows == b.n_rows
    assert a.source == b.source
    assert a.meta == b.meta
    assert a.names == b.names
    for name in a.names:
        x, y = a[name], b[name]
        for field in (
            "kind",
            "n_rows",
            "nulls",
            "n_infinite",
            "min",
            "max",
            "mean",
            "m2",
            "grid",
            "out_of_range",
            "category_counts",
            "other_count",
            "kll",
            "frequent",
        ):
            assert getattr(x, field) == getattr(y, field), (name, field)
        for field in ("counts", "values"):
            left, right = getattr(x, field), getattr(y, field)
            assert (left is None) == (right is None), (name, field)
            if left is not None:
                assert left.dtype == right.dtype
                np.testing.assert_array_equal(left, right)


@pytest.fixture(scope="module")
def mixed() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 2_000
    x = rng.normal(size=n)
    x[::10] = np.nan
    x[5] = np.inf
    return pd.DataFrame(
        {
            "x": x,
            "n": rng.integers(0, 5, n),
            "c": np.array(["a", "b", "c", None], dtype=object)[rng.integers(0, 4, n)],
            "flag": rng.random(n) < 0.5,
            "empty": np.full(n, np.nan),
        }
    )


def test_round_trip_keeps_every_field(mixed: pd.DataFrame) -> None:
    p = profile(mixed)
    back = profile_from_bytes(profile_to_bytes(p))
    _assert_same(p, back)
    assert back["x"].max == np.inf


def test_round_trip_of_sketched_columns_keeps_the_sketches() -> None:
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"x": rng.normal(size=3_000), "c": rng.integers(0, 50, 3_000).astype(str)})
    p = profile(df, exact_limit=1_000, max_categories=10)
    assert p["x"].kll is not None
    assert p["x"].values is None
    assert p["c"].frequent is not None
    back = profile_from_bytes(profile_to_bytes(p))
    _assert_same(p, back)
    np.testing.assert_allclose(back["x"].quantiles([0.1, 0.5]), p["x"].quantiles([0.1, 0.5]))


def test_a_round_tripped_profile_still_merges(mixed: pd.DataFrame) -> None:
    first = profile(mixed.iloc[:1000])
    second = profile(mixed.iloc[1000:], grid_from=first)
    direct = merge(first, second)
    via_bytes = merge(
        profile_from_bytes(profile_to_bytes(first)), profile_from_bytes(profile_to_bytes(second))
    )
    _assert_same(direct, via_bytes)


def test_equal_profiles_give_equal_bytes(mixed: pd.DataFrame) -> None:
    assert profile_to_bytes(profile(mixed)) == profile_to_bytes(profile(mixed))


def test_meta_survives() -> None:
    p = profile({"x": [1.0, 2.0]})
    tagged = DatasetProfile(p.columns, p.n_rows, "ref.parquet", {"system": "fraud"})
    back = profile_from_bytes(profile_to_bytes(tagged))
    assert back.source == "ref.parquet"
    assert back.meta == {"system": "fraud"}


def test_not_a_profile_is_refused() -> None:
    with pytest.raises(DataFileError, match="bad magic"):
        profile_from_bytes(b"\x80\x04\x95 a pickle")


def test_newer_format_is_refused_with_the_versions() -> None:
    data = bytearray(profile_to_bytes(profile({"x": [1.0]})))
    struct.pack_into(">H", data, 6, FORMAT_VERSION + 1)
    with pytest.raises(DataFileError, match=f"version {FORMAT_VERSION + 1} is not supported"):
        profile_from_bytes(bytes(data))


def test_truncated_bytes_are_refused() -> None:
    data = profile_to_bytes(profile({"x": [1.0, 2.0, 3.0]}))
    with pytest.raises(DataFileError, match="truncated"):
        profile_from_bytes(data[:-5])
    with pytest.raises(DataFileError, match="truncated"):
        profile_from_bytes(data[:20])
