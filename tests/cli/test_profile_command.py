from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from airsoc.detection import load_profile
from airsoc.testing import CliResult

Cli = Callable[..., CliResult]


def test_profile_json_summary(cli: Cli, tmp_path: Path) -> None:
    pd.DataFrame({"x": [1.0, 2.0, None], "c": ["a", "b", "a"]}).to_csv(
        tmp_path / "d.csv", index=False
    )
    result = cli("profile", "d.csv", "-o", "d.profile", "--json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["rows"] == 3
    assert load_profile(tmp_path / "d.profile")["c"].category_counts == {"a": 2, "b": 1}
    assert doc["columns"][0] == {
        "column": "x",
        "kind": "numerical",
        "rows": 3,
        "nulls": 1,
        "mean": 1.5,
        "std": pytest.approx(0.7071, abs=1e-4),
        "categories": None,
    }
