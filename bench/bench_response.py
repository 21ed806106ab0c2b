"""Benchmark of alerting and response.

1. Alert routing: alerts per second through a routing tree of 60 routes (regex matchers,
   ``continue``), then into aggregation groups, against a baseline measured in the same run: a
   naive tree walk that parses its matchers for every alert.
2. Breach to rollback: from a breaching monitor evaluation to the last known-good version being
   served (auto-approved rollback playbook, SQLite store), p50/p99 over N runs. Measured on the
   real gateway (uvicorn on 127.0.0.1, scikit-learn versions, the live control plane; the clock
   stops when an HTTP request is answered by the known-good version), against a baseline in the
   same run: the in-memory recording control plane, which skips the gateway and the registry.

Run: ``python bench/bench_response.py`` (``--quick`` for a short run).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression

from airsoc import lineage
from airsoc.alerting.config import RouteConfig
from airsoc.alerting.dispatcher import Dispatcher
from airsoc.alerting.matchers import parse_matcher
from airsoc.alerting.receivers import RecordingReceiver
from airsoc.alerting.routing import build_route_tree
from airsoc.clock import SimulatedClock
from airsoc.monitoring.alerts import Alert
from airsoc.monitoring.monitors import InMemoryTelemetry
from airsoc.response.controlplane import RecordingControlPlane
from airsoc.response.playbooks import parse_playbook
from airsoc.runtime.config import parse_config
from airsoc.runtime.loop import ResponseLoop
from airsoc.serving import Gateway, control, create_app
from airsoc.serving.testing import serve_in_thread
from airsoc.settings import Settings
from airsoc.store import Store

SYSTEMS = [f"system-{i}" for i in range(20)]
MODES = ["data_drift", "concept_drift", "pipeline_fault", "prompt_injection", "data_poisoning"]


def tree_config() -> dict[str, Any]:
    routes = []
    for i, system in enumerate(SYSTEMS):
        routes.append(
            {
                "matchers": [f"system={system}"],
                "receiver": f"team-{i % 5}",
                "routes": [
                    {"matchers": ['severity=~"sev1|sev2"'], "receiver": "pager", "continue": True},
                    {"matchers": ["failure_mode!~.*drift"], "receiver": f"sec-{i % 3}"},
                ],
            }
        )
    return {"receiver": "default", "group_by": ["system", "failure_mode"], "routes": routes}


def alerts(n: int, seed: int = 7) -> list[Alert]:
    rng = random.Random(seed)
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        Alert(
            labels={
                "system": rng.choice(SYSTEMS),
                "failure_mode": rng.choice(MODES),
                "severity": f"sev{rng.randint(1, 5)}",
                "monitor": f"m{rng.randint(0, 200)}",
            },
            starts_at=t0,
        )
        for _ in range(n)
    ]


def naive_match(node: Mapping[str, Any], labels: Mapping[str, str], parent: str) -> list[str]:
    """The baseline: walk the raw config, parsing every matcher for every alert."""
    receiver = node.get("receiver") or parent
    if not all(parse_matcher(m).matches(labels) for m in node.get("matchers", [])):
        return []
    found: list[str] = []
    for child in node.get("routes", []):
        got = naive_match(child, labels, receiver)
        if got:
            found.extend(got)
            if not child.get("continue"):
                break
    return found or [receiver]


def rate(fn: Any, items: list[Alert]) -> float:
    start = time.perf_counter()
    fn(items)
    return len(items) / (time.perf_counter() - start)


def routing_table(n: int) -> list[tuple[str, float]]:
    config = tree_config()
    tree = build_route_tree(RouteConfig.model_validate(config))
    batch = alerts(n)

    def baseline(items: list[Alert]) -> None:
        for a in items:
            naive_match(config, a.labels, "default")

    def tree_walk(items: list[Alert]) -> None:
        for a in items:
            tree.match(a.labels)

    def dispatch(items: list[Alert]) -> None:
        names = {
            "default",
            "pager",
            *(f"team-{i}" for i in range(5)),
            *(f"sec-{i}" for i in range(3)),
        }
        d = Dispatcher(
            route=tree, receivers={r: [RecordingReceiver(r)] for r in names}, clock=SimulatedClock()
        )
        d.put_many(items)
        d.flush_all()

    return [
        ("baseline: naive walk, matchers parsed per alert", rate(baseline, batch)),
        ("routing tree (compiled matchers)", rate(tree_walk, batch)),
        ("dispatcher: route + group + flush + notify", rate(dispatch, batch)),
    ]


CONFIG = """
systems: {fraud: {kind: tabular-classifier, owner: risk}}
monitors:
  - {name: fraud-latency, system: fraud, detector: threshold, metric: x, thresholds: {max: 1},
     window: 1h, window_kind: sliding, every: 1m, failure_mode: data_poisoning, severity: sev2}
routes: {receiver: ops, group_by: [system], group_wait: 0s}
receivers: {ops: {}}
incident_rules: [{when: "true"}]
"""

PLAYBOOK = """
name: contain
on: {failure_mode: data_poisoning}
steps:
  - id: rollback
    action: rollback
    approval: {role: incident_commander, timeout: 0s, on_timeout: proceed}
"""


def _loop(store: Store, clock: SimulatedClock, system: str, **options: Any) -> ResponseLoop:
    tel = InMemoryTelemetry()
    tel.append({"system": system, "ts": clock.now() - timedelta(minutes=1), "x": 5})
    return ResponseLoop(
        config=parse_config(CONFIG.replace("fraud", system)),
        playbooks=[parse_playbook(PLAYBOOK)],
        store=store,
        clock=clock,
        source=tel,
        receivers={"ops": [RecordingReceiver("ops")]},
        **options,
    )


def _breach(loop: ResponseLoop) -> None:
    """The path of a breach: evaluate, route and declare, run the playbook."""
    assert loop.scheduler is not None
    loop.scheduler.run_due()
    loop.engine.tick()
    loop.runner.run_until_idle()


def _clock(i: int) -> SimulatedClock:
    return SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=i))


def breach_to_rollback_recording(runs: int) -> list[float]:
    """Baseline: seconds from a breaching evaluation to the in-memory control plane's rollback."""
    timings = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Settings.resolve(data_dir=tmp, environ={}))
        for i in range(runs):
            system = f"fraud{i}"  # a new system each run, so each run declares its own incident
            cp = RecordingControlPlane(versions={system: ["v6", "v7"]})
            loop = _loop(store, _clock(i), system, control_plane=cp)
            start = time.perf_counter()
            _breach(loop)
            timings.append(time.perf_counter() - start)
            if cp.serving[system] != "v6":
                raise RuntimeError(f"run {i}: the rollback did not happen")
        store.close()
    return timings


def _register(store: Store, clock: SimulatedClock, system: str, artifact: Path) -> None:
    digest = hashlib.sha256(artifact.read_bytes()).hexdigest()
    with store.transaction() as s:
        lineage.register_system(
            s, clock=clock, actor="bench", name=system, kind="tabular-classifier", owner="risk"
        )
        for version in ("v6", "v7"):
            lineage.register_model_version(
                s,
                clock=clock,
                actor="ci",
                system=system,
                version=version,
                artifact_uri=str(artifact),
                sha256=digest,
                input_schema={"x": "number"},
            )
        lineage.mark_known_good(
            s, clock=clock, actor="bench", system=system, version="v6", reason="baseline"
        )
        control.promote(s, clock=clock, actor="ci", system=system, version="v7", reason="release")


def _served(client: httpx.Client, system: str) -> str:
    answer = client.post(f"/v1/systems/{system}/predict", json={"rows": [{"x": 1.0}]})
    if answer.status_code != 200:
        return ""
    version: str = answer.json()["version"]
    return version


def breach_to_rollback_gateway(runs: int) -> list[float]:
    """Seconds from a breaching evaluation to the real gateway answering with the known-good
    version (the live control plane; the gateway sees the change through its routing poll)."""
    timings = []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Settings.resolve(data_dir=tmp, environ={}))
        artifact = Path(tmp) / "model.joblib"
        x = np.linspace(-3, 3, 200).reshape(-1, 1)
        joblib.dump(LogisticRegression().fit(x, (x[:, 0] > 0).astype(int)), artifact)
        gateway = Gateway.open(store=store, clock=_clock(0))
        with serve_in_thread(create_app(gateway)) as url, httpx.Client(base_url=url) as client:
            for i in range(runs):
                system = f"fraud{i}"
                clock = _clock(i)
                _register(store, clock, system, artifact)
                loop = _loop(store, clock, system)
                deadline = time.perf_counter() + 10
                while _served(client, system) != "v7":  # the new system is being served
                    if time.perf_counter() > deadline:
                        raise RuntimeError(f"run {i}: the gateway never served {system}")
                start = time.perf_counter()
                _breach(loop)
                while _served(client, system) != "v6":
                    if time.perf_counter() - start > 10:
                        raise RuntimeError(f"run {i}: the gateway did not roll back")
                timings.append(time.perf_counter() - start)
        store.close()
    return timings


def _quantiles(timings: list[float]) -> tuple[float, float, float]:
    q = (
        statistics.quantiles(timings, n=100, method="inclusive")
        if len(timings) > 1
        else timings * 99
    )
    return statistics.median(timings), q[98], max(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer alerts and runs")
    args = parser.parse_args()
    n = 5_000 if args.quick else 50_000
    runs = 10 if args.quick else 100
    rows = routing_table(n)
    base = rows[0][1]
    print(f"Alert routing, {n} alerts, 60-route tree (target: 10,000 alerts/s)")
    print(f"{'variant':52} {'alerts/s':>12} {'vs baseline':>12}")
    for name, value in rows:
        print(f"{name:52} {value:12,.0f} {value / base:11.1f}x")
    base_p50, base_p99, base_max = _quantiles(breach_to_rollback_recording(runs))
    p50, p99, worst = _quantiles(breach_to_rollback_gateway(runs))
    print()
    print(f"Breach to rollback served, {runs} runs, SQLite store (target: p99 <= 1 s)")
    print(f"{'variant':52} {'p50 (s)':>9} {'p99 (s)':>9} {'max (s)':>9} {'p99 vs base':>12}")
    for name, a, b, c in (
        ("baseline: in-memory recording control plane", base_p50, base_p99, base_max),
        ("real gateway over HTTP, live control plane", p50, p99, worst),
    ):
        print(f"{name:52} {a:9.3f} {b:9.3f} {c:9.3f} {b / base_p99:11.1f}x")


if __name__ == "__main__":
    main()
