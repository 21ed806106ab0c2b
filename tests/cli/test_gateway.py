"""End to end: train two real versions, serve v2, roll back to v1 from the CLI while serving."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import joblib
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from airsoc.clock import SystemClock
from airsoc.serving.app import create_app
from airsoc.serving.gateway import Gateway
from airsoc.serving.testing import serve_in_thread
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.telemetry import read_events
from airsoc.testing import CliResult, free_port

FEATURES = ["amount", "age", "hour"]


def _write_batch(path: Path, seed: int, *, poisoned: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "amount": rng.gamma(2, 50, 300),
            "age": rng.integers(18, 80, 300).astype(float),
            "hour": rng.integers(0, 24, 300).astype(float),
        }
    )
    fraud = (frame["amount"] > 120).astype(int)
    frame["label"] = 1 - fraud if poisoned else fraud
    frame.to_parquet(path)
    return frame


def _train(frames: list[pd.DataFrame], path: Path) -> Path:
    data = pd.concat(frames)
    model = LogisticRegression(max_iter=500).fit(data[FEATURES], data["label"])
    joblib.dump(model, path)
    return path


def test_rollback_from_the_cli_reaches_a_running_gateway(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    clean = _write_batch(tmp_path / "acme-1.parquet", 1, poisoned=False)
    poisoned = _write_batch(tmp_path / "globex-7.parquet", 2, poisoned=True)
    v1 = _train([clean], tmp_path / "v1.joblib")
    v2 = _train([clean, poisoned, poisoned], tmp_path / "v2.joblib")
    steps = [
        ["registry", "register-system", "fraud", "--kind", "tabular-classifier", "--owner", "risk"],
        [
            "registry",
            "register-batch",
            "acme-1",
            "--source",
            "acme",
            "--file",
            str(tmp_path / "acme-1.parquet"),
        ],
        [
            "registry",
            "register-batch",
            "globex-7",
            "--source",
            "globex",
            "--file",
            str(tmp_path / "globex-7.parquet"),
        ],
        [
            "registry",
            "register-model",
            "fraud",
            "v1",
            "--artifact",
            str(v1),
            "--batch",
            "acme-1",
            "--metric",
            "auc=0.97",
        ],
        [
            "registry",
            "register-model",
            "fraud",
            "v2",
            "--artifact",
            str(v2),
            "--batch",
            "acme-1",
            "--batch",
            "globex-7",
        ],
        ["registry", "mark-known-good", "fraud", "v1", "--reason", "passed holdout review"],
        ["gateway", "promote", "fraud", "v2", "--reason", "weekly retrain"],
    ]
    for args in steps:
        result = cli(*args)
        assert result.exit_code == 0, (args, result.stderr)
    radius = json.loads(cli("registry", "lineage", "--batch", "globex-7", "--json").stdout)
    assert radius["systems"][0]["rollback_to"] == "v1"
    assert radius["systems"][0]["serving"] == {"primary": "v2"}

    store = Store.open(Settings.resolve(data_dir=tmp_path / "airsoc-data", environ={}))
    gateway = Gateway.open(store=store, clock=SystemClock(), poll_interval=0.01)
    probe = {"rows": [{"amount": 300.0, "age": 35.0, "hour": 2.0}]}
    try:
        with serve_in_thread(create_app(gateway)) as url, httpx.Client(base_url=url) as client:
            before = client.post("/v1/systems/fraud/predict", json=probe).json()
            assert (before["version"], before["predictions"]) == ("v2", [0])

            rolled = cli(
                "gateway",
                "rollback",
                "fraud",
                "--reason",
                "globex-7 is poisoned",
                "--actor",
                "oncall-ana",
                "--json",
            )
            assert rolled.exit_code == 0, rolled.stderr
            revision = json.loads(rolled.stdout)["revision"]
            deadline = time.monotonic() + 5
            while client.get("/v1/status").json()["revision"] < revision:
                assert time.monotonic() < deadline, "the gateway never saw the rollback"
                time.sleep(0.005)
            after = client.post("/v1/systems/fraud/predict", json=probe).json()
    finally:
        store.close()
    assert (after["version"], after["predictions"]) == ("v1", [1])
    expected = joblib.load(v1).predict_proba(pd.DataFrame(probe["rows"]))[0, 1]
    assert after["scores"][0] == expected

    timeline = json.loads(cli("registry", "timeline", "fraud", "--json").stdout)
    rollback = [e for e in timeline if e["action"] == "routing.rollback"]
    assert [(e["actor"], e["reason"], e["data"]["primary"]) for e in rollback] == [
        ("oncall-ana", "globex-7 is poisoned", "v1")
    ]
    shown = cli("registry", "timeline", "fraud")
    assert "oncall-ana" in shown.stdout
    assert "routing.rollback" in shown.stdout
    status = json.loads(cli("gateway", "status", "--json").stdout)
    assert status["routes"][0]["primary_version"] == "v1"
    models = {
        m["version"]: m["status"] for m in json.loads(cli("registry", "models", "--json").stdout)
    }
    assert models == {"v1": "production", "v2": "retired"}


def test_cli_errors_are_one_line_and_non_zero(cli: Callable[..., CliResult]) -> None:
    result = cli("gateway", "rollback", "ghost", "--reason", "x")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: system 'ghost' is not registered (airsoc registry systems)"
    )
    canary = cli("gateway", "canary", "ghost", "v2", "--share", "1.5", "--reason", "x")
    assert canary.exit_code == 1
    assert "canary share must be between 0 and 1" in canary.stderr


def test_containment_commands_round_trip(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    v1 = _train([_write_batch(tmp_path / "b.parquet", 3, poisoned=False)], tmp_path / "m.joblib")
    for args in (
        ["registry", "register-system", "fraud", "--kind", "tabular-classifier", "--owner", "r"],
        ["registry", "register-model", "fraud", "v1", "--artifact", str(v1)],
        ["registry", "register-model", "fraud", "v2", "--artifact", str(v1)],
        ["gateway", "promote", "fraud", "v1", "--reason", "ship"],
    ):
        assert cli(*args).exit_code == 0
    modes = []
    for args in (
        ["gateway", "canary", "fraud", "v2", "--share", "0.1", "--reason", "try"],
        ["gateway", "restore", "fraud", "--reason", "enough"],
        ["gateway", "shadow", "fraud", "v2", "--reason", "mirror"],
        [
            "gateway",
            "fallback",
            "fraud",
            "--type",
            "scripted",
            "--message",
            "later",
            "--reason",
            "attack",
        ],
        ["gateway", "isolate", "fraud", "--reason", "worse"],
        ["gateway", "restore", "fraud", "--reason", "over"],
        ["gateway", "restore", "fraud", "--reason", "end shadow"],
    ):
        result = cli(*args, "--json")
        assert result.exit_code == 0, (args, result.stderr)
        modes.append(json.loads(result.stdout)["mode"])
    assert modes == ["canary", "primary", "shadow", "fallback", "isolated", "shadow", "primary"]
    assert cli("gateway", "block", "bot-7", "--reason", "scraping").exit_code == 0
    assert cli("gateway", "limit", "bot-8", "--rate", "5", "--reason", "probing").exit_code == 0
    status = cli("gateway", "status")
    assert "bot-7" in status.stdout
    assert "fraud" in status.stdout
    verify = cli("registry", "verify", "--system", "fraud", "--version", "v1")
    assert verify.exit_code == 0
    assert "ok" in verify.stdout
    v1.write_bytes(b"tampered")
    tampered = cli("registry", "verify", "--system", "fraud", "--version", "v1")
    assert tampered.exit_code == 1
    assert "supply_chain" in tampered.stderr


def test_a_served_gateway_process_follows_the_cli_and_shuts_down_cleanly(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    model = _train([_write_batch(tmp_path / "b.parquet", 4, poisoned=False)], tmp_path / "m.joblib")
    for args in (
        ["registry", "register-system", "fraud", "--kind", "tabular-classifier", "--owner", "r"],
        ["registry", "register-model", "fraud", "v1", "--artifact", str(model)],
        ["gateway", "promote", "fraud", "v1", "--reason", "ship"],
    ):
        assert cli(*args).exit_code == 0
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from airsoc.cli.main import run; run()",
            "gateway",
            "serve",
            "--port",
            str(port),
        ],
        env={**os.environ, "AIRSOC_DATA_DIR": str(tmp_path / "airsoc-data")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    row = {"rows": [{"amount": 10.0, "age": 30.0, "hour": 1.0}]}
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, server.stderr
                    time.sleep(0.1)
            assert client.post("/v1/systems/fraud/predict", json=row).status_code == 200
            assert cli("gateway", "isolate", "fraud", "--reason", "drill").exit_code == 0
            deadline = time.monotonic() + 5
            while client.post("/v1/systems/fraud/predict", json=row).status_code != 503:
                assert time.monotonic() < deadline, "the served gateway never isolated"
                time.sleep(0.01)
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert b"airsoc gateway on" in out
    statuses = (
        read_events(tmp_path / "airsoc-data" / "telemetry", "prediction")
        .column("status")
        .to_pylist()
    )
    assert statuses[0] == "ok"
    assert statuses[-1] == "refused"
