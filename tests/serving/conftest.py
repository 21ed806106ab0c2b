"""Shared pieces of the serving tests: real scikit-learn models, a registry, HTTP servers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from airsoc import lineage as lin
from airsoc.clock import SimulatedClock
from airsoc.serving.adapters import CountingAdapter, ModelAdapter, RulesAdapter
from airsoc.serving.app import create_app
from airsoc.serving.gateway import Gateway
from airsoc.store import Store
from airsoc.telemetry import EventLog

FEATURES = {"amount": "number", "age": "number", "hour": "integer"}
T = TypeVar("T")


def training_data(seed: int, *, poisoned: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Return a fraud-like training set; a poisoned one has its labels flipped."""
    rng = np.random.default_rng(seed)
    x = np.column_stack(
        [rng.gamma(2, 50, 400), rng.integers(18, 80, 400), rng.integers(0, 24, 400)]
    )
    y = (x[:, 0] > 120).astype(int)
    return x.astype(float), (1 - y) if poisoned else y


def train_model(path: Path, seed: int, *, poisoned: bool = False) -> Path:
    """Train a logistic regression, save it with joblib and return the file."""
    x, y = training_data(seed, poisoned=poisoned)
    joblib.dump(LogisticRegression(max_iter=500).fit(x, y), path)
    return path


@dataclass
class Registry:
    """A store with system ``fraud``: v1 (known-good) and v2 (trained on a poisoned batch)."""

    store: Store
    clock: SimulatedClock
    v1: Path
    v2: Path


@pytest.fixture
def registry(sqlite_store: Store, clock: SimulatedClock, tmp_path: Path) -> Registry:
    v1 = train_model(tmp_path / "v1.joblib", seed=1)
    v2 = train_model(tmp_path / "v2.joblib", seed=2, poisoned=True)
    with sqlite_store.transaction() as s:
        lin.register_system(
            s,
            clock=clock,
            actor="alice",
            name="fraud",
            kind="tabular-classifier",
            owner="risk",
            fallback={"type": "scripted", "message": "Your payment is being reviewed."},
        )
        lin.register_batch(
            s, clock=clock, actor="etl", batch_id="b1", source="acme", rows=400, sha256="1" * 64
        )
        lin.register_batch(
            s, clock=clock, actor="etl", batch_id="b2", source="globex", rows=400, sha256="2" * 64
        )
        for version, path, batches in (("v1", v1, ["b1"]), ("v2", v2, ["b1", "b2"])):
            lin.register_model_version(
                s,
                clock=clock,
                actor="ci",
                system="fraud",
                version=version,
                artifact_uri=str(path),
                training_batches=batches,
                input_schema=FEATURES,
            )
        lin.mark_known_good(
            s,
            clock=clock,
            actor="alice",
            system="fraud",
            version="v1",
            reason="holdout review passed",
        )
    return Registry(sqlite_store, clock, v1, v2)


class CountingFactory:
    """An adapter factory handing out counting adapters over cheap rules, one per version."""

    def __init__(self) -> None:
        self.adapters: dict[str, CountingAdapter] = {}

    def __call__(self, model: lin.ModelVersionView) -> ModelAdapter:
        version = model.version
        adapter = CountingAdapter(
            RulesAdapter(lambda row: (version, 0.5), features=model.input_schema)
        )
        self.adapters[version] = adapter
        return adapter

    def calls(self) -> dict[str, int]:
        """Return the number of predict calls per version."""
        return {v: a.calls for v, a in self.adapters.items()}


def make_gateway(registry: Registry, tmp_path: Path, **options: Any) -> Gateway:
    """Return a gateway on the registry with an event log under ``tmp_path/telemetry``."""
    log = EventLog(tmp_path / "telemetry", flush_interval=0.05)
    return Gateway(
        store=registry.store, clock=registry.clock, event_log=log, owns_event_log=True, **options
    )


def run_requests(gateway: Gateway, calls: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    """Run ``calls`` against the gateway's ASGI app in-process and return its result."""

    async def main() -> T:
        transport = httpx.ASGITransport(app=create_app(gateway, manage_gateway=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            return await calls(client)

    return asyncio.run(main())


ROW = {"amount": 250.0, "age": 40, "hour": 3}
