"""The evasion monitor judges the model the system serves, a surrogate only as a fallback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from airsoc import lineage
from airsoc.clock import SimulatedClock
from airsoc.lineage.integrity import sha256_file
from airsoc.monitoring.alerts import Alert
from airsoc.monitoring.builtin import BUILTIN_EVALUATORS
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.monitors import (
    InMemoryTelemetry,
    MonitorRun,
    MonitorScheduler,
    ServedModel,
    WindowData,
)
from airsoc.monitoring.security import adversarial_evasion
from airsoc.monitoring.sources import EventLogTelemetry
from airsoc.serving import control
from airsoc.serving.adapters import SklearnAdapter
from airsoc.store import Store

FEATURES = ["f0", "f1", "f2", "f3"]


class Served(InMemoryTelemetry):
    """Records in memory; the served model from the registry, as a deployment reads it."""

    def __init__(self, store: Store) -> None:
        super().__init__()
        self.registry = EventLogTelemetry(store=store)
        self.asked = 0

    def served_model(self, monitor: MonitorConfig) -> Any:
        self.asked += 1
        return self.registry.served_model(monitor)


def clean(seed: int, n: int, client: str = "shop") -> pd.DataFrame:
    """Two pairs of related features (f1 follows f0, f3 follows f2), as real inputs have."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 4))
    x = np.column_stack(
        [z[:, 0], 0.95 * z[:, 0] + 0.3 * z[:, 1], z[:, 2], 0.95 * z[:, 2] + 0.3 * z[:, 3]]
    )
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["client_id"] = client
    return frame


def served_rule(frame: pd.DataFrame) -> Any:
    # The served model's boundary differs from the reference's labels (what a surrogate learns).
    return (frame["f0"] - frame["f2"] > 0).astype(int)


def register(store: Store, clock: SimulatedClock, folder: Path, framework: str) -> Any:
    train = clean(0, 2000)[FEATURES]
    model = LogisticRegression(max_iter=1000).fit(train, served_rule(train))
    path = folder / "v7.joblib"
    joblib.dump(model, path)
    with store.transaction() as s:
        lineage.register_system(
            s, clock=clock, actor="alice", name="bot", kind="tabular-classifier", owner="risk"
        )
        lineage.register_model_version(
            s,
            clock=clock,
            actor="ci",
            system="bot",
            version="v7",
            artifact_uri=str(path) if framework == "sklearn" else "http://127.0.0.1:9/predict",
            sha256=sha256_file(path),
            framework=framework,
            input_schema=dict.fromkeys(FEATURES, "number"),
        )
        control.promote(s, clock=clock, actor="ci", system="bot", version="v7", reason="release")
    return model


def across_the_boundary(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Move each input just across the served model's boundary (a minimal evasion)."""
    w, b = model.coef_[0], model.intercept_[0]
    x = frame[FEATURES].to_numpy()
    distance = (x @ w + b) / (w @ w)
    moved = x - np.outer(distance * 1.02, w)
    out = pd.DataFrame(moved, columns=FEATURES)
    out["client_id"] = frame["client_id"].to_numpy()
    return out


def run(
    store: Store, clock: SimulatedClock, name: str, traffic: pd.DataFrame
) -> tuple[MonitorRun, list[Alert], Served]:
    m = MonitorConfig.model_validate(
        {
            "name": name,
            "system": "bot",
            "detector": "adversarial_evasion",
            "window": "12h",
            "window_kind": "sliding",
            "every": "15m",
            "severity": "sev2",
        }
    )
    source = Served(store)
    now = clock.now()
    for i, r in enumerate(traffic.to_dict("records")):
        row = {str(k): v for k, v in r.items()}
        source.append({"system": "bot", "ts": now - timedelta(hours=11, seconds=-i), **row})
    reference = clean(1, 800)
    reference["label"] = (reference["f0"] + 0.5 * reference["f1"] > 0).astype(int)
    source.references["bot"] = [
        {str(k): v for k, v in r.items()}
        for r in reference.drop(columns="client_id").to_dict("records")
    ]
    fired: list[Alert] = []
    sched = MonitorScheduler(
        evaluators=BUILTIN_EVALUATORS,
        monitors=[m],
        store=store,
        clock=clock,
        source=source,
        sink=fired.append,
    )
    (result,) = sched.run_all()
    assert result.error is None, result.error
    return result, fired, source


def test_the_evasion_monitor_judges_the_served_model(
    sqlite_store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    model = register(sqlite_store, clock, tmp_path, "sklearn")
    start = clean(3, 400, client="mallory")
    start = start[start["f0"] - start["f2"] < -1.5].head(40)  # deep in the other class
    attack = across_the_boundary(model, start)
    assert (model.predict(attack[FEATURES]) != model.predict(start[FEATURES])).all()
    traffic = pd.concat([clean(2, 300, client="alice"), attack], ignore_index=True)
    result, fired, source = run(sqlite_store, clock, "evasion", traffic)
    verdicts = {v.subject: v for v in result.verdicts}
    assert {s: v.decision for s, v in verdicts.items()} == {
        "client:alice": "ok",
        "client:mallory": "drift",
    }
    assert [a.labels["failure_mode"] for a in fired] == ["adversarial_evasion"]
    assert verdicts["client:mallory"].evidence["model"] == "served v7"
    assert "model: served v7" in verdicts["client:mallory"].reason
    # Just across the served boundary: the served model's decisions flip around these inputs
    # (a surrogate with another boundary sees few of them).
    assert verdicts["client:mallory"].evidence["drivers"]["boundary"] >= 20
    assert source.asked == 1
    # The version is loaded once per (system, version), not on every run.
    asked = MonitorConfig(
        name="again", system="bot", detector="adversarial_evasion", window="1h", every="1h"
    )
    assert source.registry.served_model(asked) is source.registry.served_model(asked)

    quiet, none, _ = run(sqlite_store, clock, "evasion-clean", clean(4, 300))
    assert not quiet.breached, [v.reason for v in quiet.verdicts]
    assert none == []
    assert all(v.evidence["model"] == "served v7" for v in quiet.verdicts)


def test_an_http_model_falls_back_to_the_surrogate_and_says_why(
    sqlite_store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    register(sqlite_store, clock, tmp_path, "http")
    result, _, _ = run(sqlite_store, clock, "evasion-http", clean(5, 200))
    (verdict,) = result.verdicts
    assert verdict.evidence["model"] == "surrogate (v7 is a 'http' model, no local one to call)"
    assert "model: surrogate (v7 is a 'http' model" in verdict.reason


def test_a_tampered_artifact_is_not_loaded_and_the_surrogate_judges(
    sqlite_store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    register(sqlite_store, clock, tmp_path, "sklearn")
    (tmp_path / "v7.joblib").write_bytes(b"not the registered model")
    result, _, _ = run(sqlite_store, clock, "evasion-tampered", clean(6, 200))
    (verdict,) = result.verdicts
    assert verdict.evidence["model"].startswith("surrogate (cannot load: ")
    assert "supply_chain" in verdict.evidence["model"]


def test_a_served_feature_the_window_lacks_means_the_surrogate() -> None:
    train = clean(0, 400)
    train["f9"] = 1.0
    served = LogisticRegression().fit(train[[*FEATURES, "f9"]], served_rule(train))
    model = ServedModel(system="bot", version="v8", adapter=SklearnAdapter(served))
    reference = clean(1, 300).drop(columns="client_id")
    reference["label"] = (reference["f0"] > 0).astype(int)
    m = MonitorConfig(
        name="ev", system="bot", detector="adversarial_evasion", window="1h", every="1h"
    )
    at = datetime(2026, 1, 1, tzinfo=UTC)
    window = WindowData(start=at, end=at, current=clean(2, 100), reference=reference, model=model)
    (verdict,) = adversarial_evasion(m, window)
    assert verdict.evidence["model"] == "surrogate (served v8 feature 'f9' is not in the window)"


def test_a_categorical_feature_of_the_served_model_is_probed_as_a_category() -> None:
    """A served model that takes a category (a merchant's kind) is judged itself: the category
    travels as its index and comes back to the model as the category."""
    train = clean(0, 600)
    train["shop"] = np.where(train["f2"] > 0, "toys", "books")
    pipeline = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["shop"]), remainder="passthrough"
        ),
        LogisticRegression(),
    )
    served = pipeline.fit(train[[*FEATURES, "shop"]], served_rule(train))
    adapter = SklearnAdapter(
        served, features={**dict.fromkeys(FEATURES, "number"), "shop": "string"}
    )
    model = ServedModel(system="bot", version="v9", adapter=adapter)
    reference = train.drop(columns="client_id")
    reference["label"] = served_rule(train)
    m = MonitorConfig(
        name="ev",
        system="bot",
        detector="adversarial_evasion",
        window="1h",
        every="1h",
        params={"columns": FEATURES},
    )
    at = datetime(2026, 1, 1, tzinfo=UTC)
    current = clean(2, 300)
    current["shop"] = np.where(current["f2"] > 0, "toys", "books")
    window = WindowData(start=at, end=at, current=current, reference=reference, model=model)
    (verdict,) = adversarial_evasion(m, window)
    assert verdict.evidence["model"] == "served v9"
    assert verdict.decision == "ok"
    # A category never seen by the model is judged too (as its own index), not an error.
    current.loc[:5, "shop"] = "garden"
    window = WindowData(start=at, end=at, current=current, reference=reference, model=model)
    (verdict,) = adversarial_evasion(m, window)
    assert verdict.evidence["model"] == "served v9"
