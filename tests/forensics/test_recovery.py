"""Recovery on the fraud system: retrain on the proposed clean set, shadow, canary, promote.

Everything runs on the real gateway (its ASGI app over HTTP, in-process), its event log and the
live control plane: the retrain, shadow comparison and canary analysis are operations of the
table, applied as a playbook applies them, and every step lands on the audit timeline. Labels
arrive after the predictions, through the gateway's labels endpoint.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import textwrap
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import joblib
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from airsoc import lineage
from airsoc.audit import list_entries, verify_chains
from airsoc.clock import SimulatedClock
from airsoc.errors import ConflictError, InputError
from airsoc.fleet.setup import FRAUD_SCHEMA, fraud_rows
from airsoc.fleet.systems import flip_labels, fraud_transactions, train_fraud_detector
from airsoc.forensics.poisoning import investigate_poisoning
from airsoc.forensics.recovery import retrain
from airsoc.lineage.config import LineageSection
from airsoc.runtime.control import LiveControlPlane, live_control_plane
from airsoc.runtime.operations import get_operation
from airsoc.serving.app import create_app
from airsoc.serving.canary import CanaryTest
from airsoc.serving.control import get_route
from airsoc.serving.gateway import Gateway
from airsoc.store import Store
from airsoc.testing import run_cli

SYSTEM = "fraud-detector"
CLEAN = ("acme/2026-02-01", "acme/2026-02-08")
POISONED = "brightline/2026-02-08"
HOOK = "airsoc.fleet.retrain:train_fraud_version"

#: A command hook that trains on the clean set with every label flipped: a worse candidate.
FLIPPED_HOOK = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import pandas as pd
    from airsoc.fleet.retrain import train_fraud_version
    from airsoc.forensics.recovery import RetrainRequest

    request = RetrainRequest.model_validate_json(sys.stdin.read())
    out = Path(request.output_dir)
    batches = []
    for batch in request.batches:
        frame = pd.read_parquet(batch.uri)
        frame["is_fraud"] = 1 - frame["is_fraud"]
        path = out / (batch.batch_id.replace("/", "_") + "-flipped.parquet")
        frame.to_parquet(path, index=False)
        batches.append(batch.model_copy(update={"uri": str(path)}))
    trained = train_fraud_version(request.model_copy(update={"batches": batches}))
    print(trained.model_dump_json())
    """
)


@dataclass
class Fraud:
    """The fraud system with a poisoned primary (v2), served by a real gateway."""

    store: Store
    clock: SimulatedClock
    gateway: Gateway
    control: LiveControlPlane
    folder: Path
    ids: itertools.count[int]


def _save(folder: Path, batch: str, frame: pd.DataFrame) -> Path:
    path = folder / (batch.replace("/", "_") + ".parquet")
    frame.to_parquet(path, index=False)
    return path


@pytest.fixture(autouse=True)
def one_thread() -> Any:
    # Gradient-boosted trees predicting one row at a time spin up OpenMP threads on every
    # call: on a loaded machine that costs a hundred times the prediction.
    with threadpool_limits(1):
        yield


@pytest.fixture
def fraud(sqlite_store: Store, clock: SimulatedClock, tmp_path: Path) -> Any:
    folder = tmp_path / "batches"
    folder.mkdir()
    frames = {
        CLEAN[0]: fraud_transactions(3000, seed=1),
        CLEAN[1]: fraud_transactions(3000, seed=2),
        POISONED: flip_labels(
            fraud_transactions(3000, seed=3, fraud_rate=0.05),
            "is_fraud",
            share=1.0,
            seed=3,
            only_positive=True,
        )[0],
    }
    config = LineageSection.model_validate(
        {
            "systems": {
                SYSTEM: {"kind": "tabular-classifier", "owner": "risk", "retrain": {"hook": HOOK}}
            }
        }
    )
    models = tmp_path / "models"
    models.mkdir()
    with sqlite_store.transaction() as s:
        lineage.sync_systems_from_config(s, clock=clock, actor="ops", config=config)
        for week, (batch, frame) in enumerate(frames.items()):
            path = _save(folder, batch, frame)
            lineage.register_batch(
                s,
                clock=clock,
                actor="etl",
                batch_id=batch,
                source=batch.split("/")[0],
                rows=len(frame),
                sha256=lineage.sha256_file(path),
                uri=str(path),
                time_start=clock.now() - timedelta(weeks=3 - week),
                time_end=clock.now() - timedelta(weeks=2 - week),
            )
        for version, batches in (("v1", CLEAN[:1]), ("v2", (*CLEAN, POISONED))):
            model = train_fraud_detector(pd.concat([frames[b] for b in batches]))
            path = models / f"{version}.joblib"
            joblib.dump(model, path)
            lineage.register_model_version(
                s,
                clock=clock,
                actor="ci",
                system=SYSTEM,
                version=version,
                artifact_uri=str(path),
                training_batches=list(batches),
                input_schema=FRAUD_SCHEMA,
            )
        lineage.mark_known_good(
            s, clock=clock, actor="risk", system=SYSTEM, version="v1", reason="reviewed"
        )
    gateway = Gateway.open(store=sqlite_store, clock=clock, log_options={"flush_interval": 0.02})
    gateway.promote(SYSTEM, "v2", actor="ci", reason="weekly release")
    yield Fraud(
        store=sqlite_store,
        clock=clock,
        gateway=gateway,
        control=live_control_plane(store=sqlite_store, clock=clock, gateway=gateway),
        folder=tmp_path,
        ids=itertools.count(),
    )
    gateway.close()


def serve(fraud: Fraud, n: int, *, seed: int) -> dict[str, int]:
    """Send ``n`` live transactions (one per request), then their labels; return the versions
    that answered."""
    data = fraud_transactions(n, seed=seed, fraud_rate=0.25)
    rows = fraud_rows(data)
    labels = [int(v) for v in data["is_fraud"]]

    async def main() -> dict[str, int]:
        transport = httpx.ASGITransport(app=create_app(fraud.gateway, manage_gateway=False))
        served: dict[str, int] = {}
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            sent = []
            for row in rows:
                request_id = f"tx-{next(fraud.ids)}"
                r = await client.post(
                    f"/v1/systems/{SYSTEM}/predict",
                    json={"rows": [row]},
                    headers={"x-request-id": request_id, "x-client-id": "shop"},
                )
                assert r.status_code == 200, r.text
                served[r.json()["version"]] = served.get(r.json()["version"], 0) + 1
                sent.append(request_id)
            fraud.clock.advance(timedelta(hours=1))  # the chargebacks come in later
            r = await client.post(
                f"/v1/systems/{SYSTEM}/labels",
                json={
                    "labels": [
                        {"request_id": rid, "label": y} for rid, y in zip(sent, labels, strict=True)
                    ]
                },
            )
            assert r.status_code == 202, r.text
        return served

    served = asyncio.run(main())
    assert fraud.gateway.event_log is not None
    fraud.gateway.event_log.flush()
    return served


def run_canary(fraud: Fraud, key: str, *, batch: int = 100, rounds: int = 30) -> dict[str, Any]:
    """Serve batches of traffic and analyse after each until the canary is decided."""
    for i in range(rounds):
        serve(fraud, batch, seed=1000 + i)
        report = fraud.control.apply(
            "canary_analysis", {"system": SYSTEM}, idempotency_key=f"{key}/{i}"
        )
        if report["verdict"] != "continue":
            return report
    raise AssertionError(f"the canary was not decided in {rounds} rounds")


def actions(fraud: Fraud) -> list[str]:
    with fraud.store.read() as s:
        return [e.action for e in list_entries(s, chain=lineage.system_chain(SYSTEM))]


def test_retrain_shadow_canary_promote_on_the_real_gateway(fraud: Fraud) -> None:
    with fraud.store.read() as s:
        found = investigate_poisoning(
            s,
            system=SYSTEM,
            model_version="v2",
            trusted_batches=[CLEAN[0]],
            label_column="is_fraud",
            batch_gain=False,
        )
    clean = [c.model_dump() for c in found.clean_training_set]
    excluded = {c["batch"]: len(c["excluded_rows"]) for c in clean}
    assert excluded.get(POISONED, 0) > 50  # the flipped fraud rows are left out

    trained = fraud.control.apply(
        "retrain",
        {"system": SYSTEM, "version": "v3", "clean_training_set": clean},
        idempotency_key="run-1/retrain",
        reason="poisoned vendor batch",
    )
    assert trained["version"] == "v3"
    assert trained["base_version"] == "v2"
    assert trained["excluded_rows"] == {b: n for b, n in excluded.items() if n}
    with fraud.store.read() as s:
        v3 = lineage.get_model_version(s, system=SYSTEM, version="v3")
    assert v3.status == "candidate"
    assert sorted(v3.training_batches) == sorted([*CLEAN, POISONED])
    assert v3.params["retrained_from"] == "v2"
    assert len(v3.params["excluded_rows"][POISONED]) == excluded[POISONED]
    assert v3.metrics["validation"]["metrics"]["recall"] > 0.5
    assert v3.input_schema == FRAUD_SCHEMA

    fraud.clock.advance(timedelta(minutes=5))
    fraud.control.apply("set_shadow", {"system": SYSTEM, "version": "v3"}, idempotency_key="k1")
    served = serve(fraud, 300, seed=500)
    assert served == {"v2": 300}  # a shadow answers nobody
    shadow = fraud.control.apply(
        "shadow_compare", {"system": SYSTEM}, idempotency_key="run-1/shadow"
    )
    assert shadow["pairs"] == 300
    assert shadow["labelled_pairs"] == 300
    assert shadow["candidate"]["error_rate"] < shadow["primary"]["error_rate"]
    assert 0.5 < shadow["agreement"] < 1.0
    assert shadow["ready"], shadow["reasons"]

    fraud.clock.advance(timedelta(minutes=5))
    fraud.control.apply(
        "set_canary", {"system": SYSTEM, "version": "v3", "share": 0.5}, idempotency_key="k2"
    )
    report = run_canary(fraud, "run-1/canary")
    assert report["verdict"] == "promote", report["reasons"]
    assert report["candidate"]["error_rate"] < report["primary"]["error_rate"]
    assert report["applied"]
    assert report["previous_primary"] == "v2"
    with fraud.store.read() as s:
        route = get_route(s, system=SYSTEM)
        assert (route.mode, route.primary_version) == ("primary", "v3")
        assert all(r.ok for r in verify_chains(s))
    assert serve(fraud, 20, seed=9) == {"v3": 20}  # the gateway serves the promoted version

    timeline = actions(fraud)
    for step in (
        "model.registered",
        "model.retrained",
        "canary.shadow_compared",
        "canary.analysed",
        "routing.promote",
    ):
        assert step in timeline
    assert timeline.index("model.retrained") < timeline.index("canary.shadow_compared")
    last_promotion = len(timeline) - 1 - timeline[::-1].index("routing.promote")
    assert timeline.index("canary.shadow_compared") < last_promotion
    assert "canary.analysed" in timeline[last_promotion - 4 : last_promotion]


def test_a_worse_candidate_is_aborted_by_the_canary_analysis(fraud: Fraud, tmp_path: Path) -> None:
    script = tmp_path / "flipped_hook.py"
    script.write_text(FLIPPED_HOOK)
    fraud.gateway.promote(SYSTEM, "v1", actor="ops", reason="back to known-good")
    trained = fraud.control.apply(
        "retrain",
        {
            "system": SYSTEM,
            "version": "v9",
            "clean_training_set": [{"batch": CLEAN[0]}],
            "hook": None,
        },
        idempotency_key="run-2/retrain",
    )
    assert trained["hook"] == HOOK
    # The command hook path: the operation as a CLI or playbook gives it.
    with fraud.store.transaction() as s:
        lineage.register_system(
            s,
            clock=fraud.clock,
            actor="ops",
            name=SYSTEM,
            kind="tabular-classifier",
            owner="risk",
            retrain={"command": [sys.executable, str(script)]},
        )
    flipped = fraud.control.apply(
        "retrain",
        {"system": SYSTEM, "version": "v9-flipped", "clean_training_set": [{"batch": CLEAN[0]}]},
        idempotency_key="run-2/retrain-flipped",
    )
    assert flipped["hook"].endswith("flipped_hook.py")

    fraud.clock.advance(timedelta(minutes=5))
    fraud.control.apply(
        "set_canary",
        {"system": SYSTEM, "version": "v9-flipped", "share": 0.2},
        idempotency_key="k3",
    )
    report = run_canary(fraud, "run-2/canary", batch=50)
    assert report["verdict"] == "abort"
    assert not report["checks"]["errors_no_worse"]
    assert report["candidate"]["labelled"] < 100  # the sequential test needed little traffic
    with fraud.store.read() as s:
        route = get_route(s, system=SYSTEM)
        assert (route.mode, route.primary_version) == ("primary", "v1")
        held = lineage.get_model_version(s, system=SYSTEM, version="v9-flipped")
        assert held.status == "held"
    assert serve(fraud, 20, seed=8) == {"v1": 20}
    timeline = actions(fraud)
    assert timeline.index("canary.analysed") < timeline.index("routing.restore")
    with pytest.raises(ConflictError, match="held"):
        fraud.control.apply(
            "set_canary",
            {"system": SYSTEM, "version": "v9-flipped", "share": 0.2},
            idempotency_key="k4",
        )


def test_canary_analysis_continues_until_the_evidence_decides(fraud: Fraud) -> None:
    fraud.control.apply(
        "set_canary", {"system": SYSTEM, "version": "v1", "share": 0.5}, idempotency_key="k5"
    )
    serve(fraud, 10, seed=77)
    report = fraud.control.apply(
        "canary_analysis", {"system": SYSTEM}, idempotency_key="run-3/canary"
    )
    assert report["verdict"] == "continue"
    assert not report["applied"]
    with fraud.store.read() as s:
        assert get_route(s, system=SYSTEM).mode == "canary"


def test_recovery_refuses_what_it_cannot_do(fraud: Fraud) -> None:
    op = get_operation("canary_analysis")
    with fraud.store.transaction() as s, pytest.raises(ConflictError, match="runs no canary"):
        op.call(s, clock=fraud.clock, actor="ana", reason="check", system=SYSTEM)
    with fraud.store.transaction() as s, pytest.raises(InputError, match="is empty"):
        retrain(
            s,
            clock=fraud.clock,
            actor="ana",
            reason="r",
            system=SYSTEM,
            clean_training_set=[],
        )
    with fraud.store.transaction() as s, pytest.raises(InputError, match="module:function"):
        retrain(s, clock=fraud.clock, actor="ana", reason="r", system=SYSTEM, hook="nowhere")


def test_the_sequential_test_holds_its_error_rate_under_equal_versions() -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    wrong = 0
    for _ in range(300):
        test = CanaryTest(share=0.5, margin=0.5, alpha=0.05)
        x = y = 0
        for _ in range(400):  # up to 400 errors, looked at after each
            if rng.random() < 0.5:
                x += 1
            else:
                y += 1
            if test.update(candidate_errors=x, primary_errors=y).decision != "continue":
                break
        wrong += test.decision == "abort"
    assert wrong / 300 <= 0.05


def test_the_recovery_steps_are_commands(fraud: Fraud, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRSOC_DATA_DIR", str(fraud.store.settings.data_dir))
    done = run_cli("registry", "retrain", SYSTEM, "--version", "v5", "--reason", "drill")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.strip() == f"{SYSTEM}: trained v5 on 3 batches"
    refused = run_cli("gateway", "canary-analysis", SYSTEM, "--reason", "check", "--json")
    assert refused.exit_code != 0
    assert "runs no canary" in refused.stdout + refused.stderr
    fraud.control.apply("set_shadow", {"system": SYSTEM, "version": "v5"}, idempotency_key="k6")
    serve(fraud, 40, seed=3)
    compared = run_cli(
        "gateway",
        "shadow-compare",
        SYSTEM,
        "--window",
        "2h",
        "--min-pairs",
        "40",
        "--reason",
        "before the canary",
    )
    assert compared.exit_code == 0, compared.stderr
    assert compared.stdout.startswith(f"{SYSTEM}: ")
    assert "canary.shadow_compared" in actions(fraud)
