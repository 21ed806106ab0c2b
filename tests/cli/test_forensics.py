"""``airsoc forensics poisoning``: the investigation as a script drives it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.testing import CliResult
from tests.forensics.generators import fraud_world
from tests.forensics.registry import register_world

Cli = Callable[..., CliResult]


@pytest.mark.slow
def test_poisoning_names_the_vendor_and_the_weeks(cli: Cli, tmp_path: Path) -> None:
    world = fraud_world(weeks=12, rows_per_week=900, span=(5, 9), seed=7)
    store = Store.open(Settings.resolve(data_dir=tmp_path / "airsoc-data"))
    try:
        register_world(store, world, tmp_path / "batches", known_good_weeks=4)
    finally:
        store.close()
    result = cli(
        "forensics",
        "poisoning",
        "--system",
        "fraud",
        "--model-version",
        "v3",
        "--label-column",
        "label",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["suspect_sources"][0]["source"] == "bolt"
    assert {
        "suspect_batches",
        "window",
        "suspect_samples",
        "clean_training_set",
        "options",
        "recommendation",
    } <= set(body)
    assert all(0 <= b["score"] <= 1 for b in body["suspect_batches"])
    assert body["window"]["first_batch"].startswith("bolt-w0")


def test_poisoning_needs_an_incident_or_a_version(cli: Cli) -> None:
    result = cli("forensics", "poisoning", "--system", "fraud")
    assert result.exit_code == 1
    assert "model version" in result.stderr
