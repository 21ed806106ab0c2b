from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airsoc.detection import iter_tables, read_table
from airsoc.errors import DataFileError, InputError


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "amount": [1.5, None, 3.0, 4.0],
            "country": ["fr", "de", None, "fr"],
            "flag": [True, False, True, True],
            "when": pd.to_datetime(["2026-01-01", "2026-01-02", "2026-01-03", "2026-01-04"]),
            "note": ["a long free-text comment that goes on and on " * 2] * 4,
        }
    )


def _summary(source: object) -> list[tuple[str, str, list[float]]]:
    out: list[tuple[str, str, list[float]]] = []
    t = read_table(source)
    for c in t.columns:
        data = c.values if c.values is not None else c.codes
        assert data is not None
        out.append((c.name, c.kind, np.nan_to_num(data.astype(float), nan=-9).tolist()))
    return out


def test_every_reader_gives_the_same_table(tmp_path: Path) -> None:
    df = _frame()
    expected = _summary(df)
    assert [k for _, k, _ in expected] == [
        "numerical",
        "categorical",
        "boolean",
        "datetime",
        "text",
    ]
    assert _summary(pa.Table.from_pandas(df, preserve_index=False)) == expected
    assert _summary(pl.from_pandas(df)) == expected
    df.to_parquet(tmp_path / "d.parquet")
    assert _summary(tmp_path / "d.parquet") == expected
    df.to_csv(tmp_path / "d.csv", index=False)
    csv = _summary(str(tmp_path / "d.csv"))
    assert [(n, k) for n, k, _ in csv] == [(n, k) for n, k, _ in expected]


def test_numpy_arrays_and_kind_overrides() -> None:
    t = read_table(np.array([[1.0, 2.0], [3.0, 4.0]]), kinds={"1": "categorical"})
    assert [(c.name, c.kind) for c in t.columns] == [("0", "numerical"), ("1", "categorical")]
    assert t["1"].categories == ["2", "4"]
    with pytest.raises(InputError, match="kind 'nope' for column 'x'"):
        read_table({"x": [1]}, kinds={"x": "nope"})


def test_non_numeric_value_in_a_numerical_column_names_the_row() -> None:
    with pytest.raises(InputError, match=r"column 'x' is numerical but row 2 holds 'abc'"):
        read_table({"x": ["1", "2.5", "abc"]}, kinds={"x": "numerical"})


def test_unreadable_sources_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="no such file"):
        read_table(tmp_path / "missing.csv")
    (tmp_path / "d.json").write_text("{}")
    with pytest.raises(DataFileError, match="unsupported file type"):
        read_table(tmp_path / "d.json")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3\n")
    with pytest.raises(DataFileError, match="cannot read csv"):
        read_table(bad)
    with pytest.raises(InputError, match="cannot read a set"):
        read_table({1, 2})


def test_files_are_streamed_in_chunks(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=10_000), "c": rng.choice(["a", "b"], 10_000)})
    pq.write_table(pa.Table.from_pandas(df), tmp_path / "d.parquet", row_group_size=1_000)
    chunks = list(iter_tables(tmp_path / "d.parquet", chunk_rows=3_000))
    assert len(chunks) > 1
    assert sum(c.n_rows for c in chunks) == 10_000
    assert {c["c"].kind for c in chunks} == {"categorical"}
