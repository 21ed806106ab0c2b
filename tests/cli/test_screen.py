"""``airsoc screen``: a vendor's batch checked against trusted batches, as JSON for scripts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from airsoc.testing import run_cli


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": (x[:, 0] > 0.5) * 1})


def test_screen_prints_a_verdict_per_batch_and_a_score_per_row(tmp_path: Path) -> None:
    trusted = tmp_path / "trusted.parquet"
    _frame(1500, 0).to_parquet(trusted)
    clean = _frame(400, 1)
    poisoned = clean.copy()
    flip = poisoned.index[(poisoned["label"] == 1)][:60]
    poisoned.loc[flip, "label"] = 0
    clean.to_csv(tmp_path / "clean.csv", index=False)
    poisoned.to_csv(tmp_path / "poisoned.csv", index=False)
    verdicts = {}
    for name in ("clean", "poisoned"):
        result = run_cli(
            "screen", str(tmp_path / f"{name}.csv"), "--trusted", str(trusted), "--json"
        )
        assert result.exit_code == 0, result.stderr
        body = json.loads(result.stdout)
        assert len(body["rows"]) == 400
        assert all(0 <= r["score"] <= 1 for r in body["rows"])
        verdicts[name] = body["decision"]
    assert verdicts == {"clean": "ok", "poisoned": "drift"}


def test_screen_names_a_missing_file(tmp_path: Path) -> None:
    result = run_cli("screen", str(tmp_path / "nope.csv"), "--trusted", str(tmp_path / "t.csv"))
    assert result.exit_code == 1
    assert "nope.csv" in result.stderr
