"""``airsoc check drift --engine spark``: Parquet files and folders profiled on Spark give the
verdicts of the local engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from airsoc.testing import CliResult
from tests.detection.conftest import SPARK_WARNINGS, spark  # noqa: F401 - the shared session

pytestmark = [pytest.mark.filterwarnings(SPARK_WARNINGS), pytest.mark.slow]

Cli = Callable[..., CliResult]


def _frame(seed: int, shift: float, n: int = 20_000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3 + shift, 1, n),
            "age": rng.integers(18, 90, n).astype("float64"),
            "country": rng.choice(
                ["de", "fr", "it", "es"], n, p=[0.4 - shift, 0.3, 0.2, 0.1 + shift]
            ),
        }
    )


def _write(frame: pd.DataFrame, path: Path) -> None:
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path)


@pytest.fixture
def data(tmp_path: Path) -> dict[str, Path]:
    reference = tmp_path / "reference.parquet"
    _write(_frame(1, 0.0), reference)
    current = _frame(2, 0.15)
    single = tmp_path / "current.parquet"
    _write(current, single)
    folder = tmp_path / "current"  # a dataset: the same rows in three part files
    folder.mkdir()
    for i, start in enumerate(range(0, len(current), 7_000)):
        _write(current.iloc[start : start + 7_000], folder / f"part-{i}.parquet")
    return {"reference": reference, "single": single, "folder": folder}


def _decisions(result: CliResult) -> dict[str, str]:
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    out = {c["subject"]: c["decision"] for c in report["columns"]}
    out["dataset"] = report["dataset"]["decision"]
    return out


def test_spark_engine_reads_files_and_folders_with_the_local_verdicts(
    cli: Cli,
    data: dict[str, Path],
    spark: Any,  # noqa: F811 - the fixture
) -> None:
    local = _decisions(
        cli("check", "drift", str(data["reference"]), str(data["single"]), "--format", "json")
    )
    on_spark = _decisions(
        cli(
            "check",
            "drift",
            str(data["reference"]),
            str(data["folder"]),
            "--engine",
            "spark",
            "--format",
            "json",
        )
    )
    assert on_spark == local
    assert local["dataset"] == "drift"
    assert local["amount"] == "drift"


def test_spark_engine_refuses_what_it_cannot_read(
    cli: Cli,
    data: dict[str, Path],
    tmp_path: Path,
    spark: Any,  # noqa: F811 - the fixture
) -> None:
    csv = tmp_path / "current.csv"
    pd.read_parquet(data["single"]).to_csv(csv, index=False)
    refused = cli("check", "drift", str(data["reference"]), str(csv), "--engine", "spark")
    assert refused.exit_code != 0
    assert "reads Parquet files or folders" in refused.stderr
    calibrated = cli(
        "check",
        "drift",
        str(data["reference"]),
        str(data["folder"]),
        "--engine",
        "spark",
        "--calibrate",
        "chunks",
    )
    assert calibrated.exit_code != 0
    assert "--calibrate needs --engine local" in calibrated.stderr
