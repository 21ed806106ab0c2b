from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airsoc.testing import CliResult

Cli = Callable[..., CliResult]


@pytest.fixture
def windows(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    n = 5_000
    ref = pd.DataFrame(
        {
            "amount": rng.lognormal(3, 0.5, n),
            "age": rng.normal(40, 10, n),
            "country": rng.choice(["fr", "de", "es"], n),
        }
    )
    cur = ref.copy()
    cur["age"] = rng.normal(43, 10, n)  # 0.3 sd older
    cur["amount"] = rng.lognormal(3, 0.5, n)
    cur["country"] = rng.choice(["fr", "de", "es"], n)
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_csv(tmp_path / "cur.csv", index=False)
    return tmp_path / "ref.parquet", tmp_path / "cur.csv"


def test_check_drift_json_lists_columns_and_fails_on_drift(
    cli: Cli, windows: tuple[Path, Path]
) -> None:
    ref, cur = windows
    result = cli("check", "drift", str(ref), str(cur), "--format", "json", "--fail-on-drift")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    by_name = {c["name"]: c for c in doc["columns"]}
    assert set(by_name) == {"amount", "age", "country"}
    assert by_name["age"]["decision"] == "drift"
    assert by_name["country"]["method"] == "chi2"
    for key in ("statistic", "p_value", "effect_size", "threshold", "reason"):
        assert key in by_name["age"]
    assert doc["dataset"]["decision"] == "drift"
    quiet = cli("check", "drift", str(ref), str(cur), "--columns", "amount,country")
    assert quiet.exit_code == 0
    assert "no drift in 2 columns" in quiet.stdout


def test_check_drift_against_a_saved_profile_and_html(
    cli: Cli, windows: tuple[Path, Path], tmp_path: Path
) -> None:
    ref, cur = windows
    saved = tmp_path / "ref.profile"
    made = cli("profile", str(ref), "-o", str(saved))
    assert made.exit_code == 0, made.stderr
    assert saved.exists()
    text = cli("check", "drift", str(saved), str(cur))
    assert text.exit_code == 0
    assert "age" in text.stdout
    assert "1 of 3 columns drifted" in text.stdout
    html = tmp_path / "report.html"
    out = cli("check", "drift", str(saved), str(cur), "--format", "html", "--output", str(html))
    assert out.exit_code == 0
    page = html.read_text()
    assert page.count("<svg") == 3
    assert "https://" not in page
    assert "<script" not in page


def test_check_drift_bad_input_is_one_line(cli: Cli, windows: tuple[Path, Path]) -> None:
    ref, _ = windows
    result = cli("check", "drift", str(ref), "missing.csv")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: missing.csv: no such file"


def test_check_quality_flags_a_unit_change(cli: Cli, tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"price": rng.lognormal(3, 0.5, 2_000)})
    cur = pd.DataFrame({"price": rng.lognormal(3, 0.5, 2_000) * 100})
    ref.to_csv(tmp_path / "r.csv", index=False)
    cur.to_csv(tmp_path / "c.csv", index=False)
    result = cli("check", "quality", "r.csv", "c.csv", "--format", "json", "--fail-on-fault")
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["diagnosis"]["failure_mode"] == "pipeline_fault"
    assert any(v["method"] == "unit_change" for v in doc["verdicts"])


def test_check_fairness(cli: Cli, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    group = np.repeat(["a", "b"], 3_000)
    pred = np.concatenate([rng.random(3_000) < 0.5, rng.random(3_000) < 0.35]).astype(int)
    pd.DataFrame({"group": group, "approved": pred}).to_csv(tmp_path / "d.csv", index=False)
    result = cli(
        "check",
        "fairness",
        "d.csv",
        "--group",
        "group",
        "--prediction",
        "approved",
        "--fail-on-alert",
    )
    assert result.exit_code == 1
    assert "group=b" in result.stdout
    assert "four-fifths" in result.stdout


def test_check_drift_with_calibrated_thresholds(cli: Cli, windows: tuple[Path, Path]) -> None:
    ref, cur = windows
    result = cli(
        "check", "drift", str(ref), str(cur), "--calibrate", "bootstrap", "--format", "json"
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert {c["threshold_source"] for c in doc["columns"]} == {"bootstrap"}
    saved = cli("profile", str(ref), "-o", "ref.profile")
    assert saved.exit_code == 0
    refused = cli("check", "drift", "ref.profile", str(cur), "--calibrate", "chunks")
    assert refused.exit_code == 1
    assert "--calibrate needs the reference and current data" in refused.stderr
