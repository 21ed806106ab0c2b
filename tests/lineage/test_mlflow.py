"""The MLflow adapter against a real SQLite tracking store (skipped without the extra)."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from airsoc import lineage as lin
from airsoc.clock import SimulatedClock
from airsoc.serving.app import create_app
from airsoc.serving.gateway import Gateway
from airsoc.store import Store
from airsoc.testing import run_cli

mlflow = pytest.importorskip("mlflow")
pytestmark = [
    # MLflow's own SQLAlchemy store uses a loader strategy SQLAlchemy 2.1 deprecates.
    pytest.mark.filterwarnings(
        "ignore:The ``noload`` loader strategy is deprecated:DeprecationWarning"
    ),
    # MLflow inspects its own pydantic models while saving and warns about their Any fields.
    pytest.mark.filterwarnings("ignore:.*Any type hint is inferred as AnyType:UserWarning"),
]

from airsoc.lineage.mlflow import BATCHES_TAG, import_registered_models, switch_alias  # noqa: E402


def _log_version(client: object, tmp_path: Path, tag: str, *, flip: bool) -> None:
    from mlflow.models import infer_signature

    rng = np.random.default_rng(len(tag))
    frame = pd.DataFrame({"amount": rng.gamma(2, 50, 200), "age": rng.normal(40, 10, 200)})
    labels = (frame["amount"] > 100).astype(int)
    model = LogisticRegression().fit(frame, 1 - labels if flip else labels)
    path = tmp_path / f"model-{tag}"
    mlflow.sklearn.save_model(
        model,
        path,
        signature=infer_signature(frame, model.predict(frame)),
        serialization_format="cloudpickle",
    )
    exp = client.get_experiment_by_name("fraud") or client.get_experiment(  # type: ignore[attr-defined]
        client.create_experiment("fraud", artifact_location=str(tmp_path / "art"))  # type: ignore[attr-defined]
    )
    run = client.create_run(exp.experiment_id, tags={BATCHES_TAG: "acme-1"})  # type: ignore[attr-defined]
    client.log_metric(run.info.run_id, "auc", 0.9)  # type: ignore[attr-defined]
    client.log_param(run.info.run_id, "C", "1.0")  # type: ignore[attr-defined]
    client.create_model_version("fraud", source=str(path), run_id=run.info.run_id)  # type: ignore[attr-defined]


def test_import_serve_and_switch_the_mlflow_alias_on_rollback(
    sqlite_store: Store, clock: SimulatedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("fraud")
    _log_version(client, tmp_path, "one", flip=False)
    with sqlite_store.transaction() as s:
        lin.register_system(
            s, clock=clock, actor="a", name="fraud", kind="tabular-classifier", owner="risk"
        )
        lin.register_batch(
            s, clock=clock, actor="etl", batch_id="acme-1", source="acme", rows=200, sha256="1" * 64
        )
        first = import_registered_models(s, clock=clock, actor="sync", tracking_uri=uri)
    _log_version(client, tmp_path, "two", flip=True)
    with sqlite_store.transaction() as s:
        second = import_registered_models(s, clock=clock, actor="sync", tracking_uri=uri)
        again = import_registered_models(s, clock=clock, actor="sync", tracking_uri=uri)
        lin.mark_known_good(
            s, clock=clock, actor="a", system="fraud", version="v1", reason="champion last quarter"
        )
    assert [m.version for m in first] == ["v1"]
    assert [m.version for m in second] == ["v2"]
    assert again == []
    v1 = first[0]
    assert (v1.framework, v1.metrics, v1.training_batches) == ("mlflow", {"auc": 0.9}, ["acme-1"])
    assert v1.params["C"] == "1.0"
    with sqlite_store.read() as s:
        assert lin.verify_artifact(s, system="fraud", version="v1").ok

    gateway = Gateway(store=sqlite_store, clock=clock)
    gateway.promote("fraud", "v2", actor="ci", reason="new champion")
    row = {"amount": 400.0, "age": 30.0}

    async def predict(c: httpx.AsyncClient) -> dict[str, object]:
        r = await c.post("/v1/systems/fraud/predict", json={"rows": [row]})
        assert r.status_code == 200, r.text
        return dict(r.json())

    import asyncio

    async def call() -> dict[str, object]:
        transport = httpx.ASGITransport(app=create_app(gateway, manage_gateway=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
            return await predict(c)

    assert asyncio.run(call())["predictions"] == [0]
    with sqlite_store.read() as s:
        v2 = lin.get_model_version(s, system="fraud", version="v2")
    assert switch_alias(tracking_uri=uri, model=v2, alias="production") == "2"
    monkeypatch.setenv("AIRSOC_DATA_DIR", str(sqlite_store.settings.data_dir))
    monkeypatch.delenv("AIRSOC_DATABASE_URL", raising=False)
    rolled = run_cli(
        "gateway",
        "rollback",
        "fraud",
        "--reason",
        "v2 misbehaves",
        "--mlflow-tracking-uri",
        uri,
        "--actor",
        "oncall",
    )
    assert rolled.exit_code == 0, rolled.stderr
    assert "MLflow alias production now points at version 1" in rolled.stdout
    assert str(client.get_model_version_by_alias("fraud", "production").version) == "1"
    gateway.refresh()
    assert asyncio.run(call())["predictions"] == [1]
    # a tampered model folder is refused by the registry's integrity check
    (Path(v1.artifact_uri) / "MLmodel").write_text("tampered")
    with sqlite_store.read() as s:
        assert lin.verify_artifact(s, system="fraud", version="v1").failure_mode == "supply_chain"
    gateway.close()
