"""The drift and RAG investigations run as steps of the shipped playbooks: each reads the
incident system's telemetry from the event log and its monitor's reference, and records its
findings on the incident, before containment."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from airsoc.clock import SimulatedClock
from airsoc.fleet.rag.policies import load_policies
from airsoc.incidents.findings import list_findings
from airsoc.incidents.service import declare_incident
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.sources import EventLogTelemetry
from airsoc.response.actions import ResponseServices
from airsoc.response.playbooks import Playbook, default_playbooks
from airsoc.response.runner import PlaybookRunner
from airsoc.response.runs import RunView, get_run, start_run
from airsoc.runtime.registries import build_action_registry
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.telemetry import EventLog, PredictionEvent
from airsoc.telemetry.schemas import LLMTurnEvent
from tests.forensics.drift_generators import event_log
from tests.forensics.rag_generators import START, rag_world

DAY1 = datetime(2026, 11, 2, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(Settings.resolve(data_dir=tmp_path / "data", environ={}))
    yield store
    store.close()


def _playbook(name: str) -> Playbook:
    registry = build_action_registry(plugins=False)
    return next(p for p in default_playbooks(registry=registry) if p.name == name)


def _run(
    store: Store, clock: SimulatedClock, *, system: str, mode: str, playbook: str,
    monitors: list[MonitorConfig], base_dir: Path,
) -> tuple[int, RunView]:  # fmt: skip
    with store.transaction() as s:
        inc = declare_incident(
            s, clock=clock, actor="system:monitor", system=system, failure_mode=mode, summary="x"
        )
        run = start_run(
            s, clock=clock, playbook=_playbook(playbook), incident_id=inc.id, started_by="a"
        )
    runner = PlaybookRunner(
        store=store,
        clock=clock,
        registry=build_action_registry(plugins=False),
        worker_id="w1",
        services=ResponseServices(
            store=store,
            settings=store.settings,
            monitors=monitors,
            telemetry=EventLogTelemetry(store=store, base_dir=base_dir),
        ),
    )
    runner.run_until_idle()
    with store.read() as s:
        return inc.id, get_run(s, run_id=run.id)


def _write_predictions(store: Store, start: datetime, frame: object, prefix: str) -> None:
    import pandas as pd

    assert isinstance(frame, pd.DataFrame)
    log = EventLog(store.settings.telemetry_dir)
    step = timedelta(days=1) / (len(frame) + 1)
    for i, row in enumerate(frame.to_dict("records")):
        log.append(
            PredictionEvent(
                request_id=f"{prefix}-{i}",
                ts=start + step * (i + 1),
                system="shop",
                version="v1",
                inputs={k: row[k] for k in ("event", "region", "price", "dwell", "age")},
                output=int(row["prediction"]),
                score=0.5,
            )
        )
    log.close()


def test_the_drift_playbook_localises_a_segment_shift_from_the_event_log(
    store: Store, tmp_path: Path
) -> None:
    _write_predictions(store, DAY1, event_log(3000, seed=0), "ref")
    _write_predictions(
        store, DAY1 + timedelta(days=1), event_log(3000, seed=1, region_shift=("north", 15.0)),
        "cur",
    )  # fmt: skip
    monitor = MonitorConfig(
        name="shop-drift",
        system="shop",
        detector="data_drift",
        window="1d",
        every="1h",
        reference={
            "range": {"start": DAY1.isoformat(), "end": (DAY1 + timedelta(days=1)).isoformat()}
        },
    )
    clock = SimulatedClock(DAY1 + timedelta(days=2))
    actions = [s.action for s in _playbook("data-drift").steps]
    assert actions.index("forensics.drift") < actions.index("open_task")
    concept = [s.action for s in _playbook("concept-drift").steps]
    assert concept.index("forensics.drift") < concept.index("rollback")
    iid, run = _run(
        store, clock, system="shop", mode="data_drift", playbook="data-drift",
        monitors=[monitor], base_dir=tmp_path,
    )  # fmt: skip
    steps = {st.step_id: st for st in run.steps}
    assert steps["root_cause"].status == "succeeded", steps["root_cause"]
    out = run.outputs["root_cause"]
    assert out["monitor"] == "shop-drift"
    assert out["moved_features"] == ["age"]
    assert "north" in out["segments"][0]
    assert out["classification"].startswith("covariate_shift")
    with store.read() as s:
        findings = list_findings(s, incident_id=iid)
    subjects = [
        (f.kind.value, f.data["subject"]["type"], f.data["subject"]["name"]) for f in findings
    ]
    assert subjects[0][:2] == ("root_cause", "segment")
    assert "north" in subjects[0][2]
    assert ("contributing_factor", "feature", "age") in subjects
    assert all(f.data["method"].startswith("forensics.drift") for f in findings)


def test_without_a_drift_monitor_or_reference_the_step_fails_and_the_playbook_goes_on(
    store: Store, tmp_path: Path
) -> None:
    clock = SimulatedClock(DAY1)
    _iid, run = _run(
        store, clock, system="shop", mode="data_drift", playbook="data-drift", monitors=[],
        base_dir=tmp_path,
    )  # fmt: skip
    steps = {st.step_id: st for st in run.steps}
    assert steps["root_cause"].status == "failed"
    assert "no drift monitor of shop" in (steps["root_cause"].error or "")
    assert steps["investigate"].status == "succeeded"


def test_the_hallucination_playbook_names_the_changed_document_from_logged_turns(
    store: Store, tmp_path: Path
) -> None:
    world = rag_world(sessions=160, seed=1)
    log = EventLog(store.settings.telemetry_dir)
    for i, t in enumerate(world.turns):
        log.append(
            LLMTurnEvent(
                request_id=f"r{i}",
                ts=t.at,
                system="support-bot",
                messages=[{"role": "user", "content": t.user}],
                response={
                    "choices": [{"message": {"role": "assistant", "content": t.answer}}],
                    "retrieved": [c.model_dump() for c in t.retrieved],
                    "session_id": t.session_id,
                },
            )
        )
    log.close()
    docs = tmp_path / "policies.yaml"
    docs.write_text(
        yaml.safe_dump(
            [
                {"id": d.id, "title": d.title, "version": d.version, "sections": d.sections}
                for d in load_policies()
            ]
        )
    )
    monitor = MonitorConfig(
        name="bot-grounding",
        system="support-bot",
        detector="hallucination_cascade",
        window="1h",
        every="15m",
        reference={"documents": "policies.yaml"},
    )
    clock = SimulatedClock(START + timedelta(hours=13))
    actions = [s.action for s in _playbook("hallucination-cascade").steps]
    assert actions.index("forensics.rag") < actions.index("disable_retrieval")
    iid, run = _run(
        store, clock, system="support-bot", mode="hallucination_cascade",
        playbook="hallucination-cascade", monitors=[monitor], base_dir=tmp_path,
    )  # fmt: skip
    steps = {st.step_id: st for st in run.steps}
    assert steps["root_cause"].status == "succeeded", steps["root_cause"]
    out = run.outputs["root_cause"]
    assert out["documents"][0]["document"] == world.corrupted
    assert out["documents"][0]["changed_at"] is not None
    assert set(out["affected_sessions"]) == world.exposed_sessions
    with store.read() as s:
        findings = list_findings(s, incident_id=iid)
    top = findings[0]
    assert (top.kind.value, top.data["subject"]) == (
        "root_cause",
        {"type": "document", "name": world.corrupted},
    )


def test_the_extraction_playbook_names_the_clients_and_a_block_walked_around(
    store: Store, tmp_path: Path
) -> None:
    from airsoc.serving.control import block_client
    from tests.forensics.test_clients import T0, prediction_log

    log_rows, blocked_at = prediction_log()
    log = EventLog(store.settings.telemetry_dir)
    for i, row in enumerate(log_rows.to_dict("records")):
        log.append(
            PredictionEvent(
                request_id=f"q{i}",
                ts=row["at"],
                system="fraud",
                version="v1",
                client_id=row["client_id"],
                inputs={f"f{j}": row[f"f{j}"] for j in range(4)},
                output=int(row["score"] > 0.5),
                score=row["score"],
            )
        )
    log.close()
    with store.transaction() as s:
        block_client(
            s, clock=SimulatedClock(blocked_at), actor="dana", client_id="scraper", reason="sweep"
        )
    actions = [s.action for s in _playbook("model-extraction").steps]
    assert actions.index("forensics.clients") < actions.index("rate_limit_client")
    evasion = [s.action for s in _playbook("adversarial-evasion").steps]
    assert evasion.index("forensics.clients") < evasion.index("rate_limit_client")
    # No extraction monitor is configured: the clients investigation needs only the window.
    iid, run = _run(
        store, SimulatedClock(T0 + timedelta(days=1)), system="fraud", mode="model_extraction",
        playbook="model-extraction", monitors=[], base_dir=tmp_path,
    )  # fmt: skip
    steps = {st.step_id: st for st in run.steps}
    assert steps["root_cause"].status == "succeeded", steps["root_cause"]
    out = run.outputs["root_cause"]
    kinds = {c["client"]: c["kind"] for c in out["suspects"]}
    assert kinds == {"scraper": "extraction", "scraper-2": "extraction", "prober": "evasion"}
    (block,) = out["blocks"]
    assert (block["client"], block["successors"], block["stopped"]) == (
        "scraper",
        ["scraper-2"],
        False,
    )
    with store.read() as s:
        findings = list_findings(s, incident_id=iid)
    assert findings[0].kind.value == "root_cause"
    assert findings[0].data["subject"]["type"] == "client"


def test_the_injection_playbook_names_the_channel_and_the_sessions_reached(
    store: Store, tmp_path: Path
) -> None:
    from tests.forensics.test_injection import T0, turns

    log = EventLog(store.settings.telemetry_dir)
    for i, t in enumerate(turns()):
        messages: list[dict[str, object]] = [
            {
                "role": "user",
                "content": t.user,
                "retrieved": [{"doc_id": d, "text": x} for d, x in t.retrieved.items()],
            },
            *[dict[str, object](role="tool", content=x) for x in t.tools.values()],
        ]
        log.append(
            LLMTurnEvent(
                request_id=f"r{i}",
                ts=t.at,
                system="support-bot",
                client_id=t.user_id,
                messages=messages,
                response={
                    "choices": [{"message": {"role": "assistant", "content": t.output}}],
                    "session_id": t.session_id,
                },
            )
        )
    log.close()
    actions = [s.action for s in _playbook("prompt-injection").steps]
    assert actions.index("forensics.injection") < actions.index("block_client")
    iid, run = _run(
        store, SimulatedClock(T0 + timedelta(hours=6)), system="support-bot",
        mode="prompt_injection", playbook="prompt-injection", monitors=[], base_dir=tmp_path,
    )  # fmt: skip
    steps = {st.step_id: st for st in run.steps}
    assert steps["root_cause"].status == "succeeded", steps["root_cause"]
    out = run.outputs["root_cause"]
    assert out["channels"][0] == {"channel": "retrieved", "origins": ["POL-RET-2"]}
    expected = {f"s{i:03d}" for i in range(60) if i % 4 == 0 or i % 10 == 3}
    assert set(out["sessions"]) == expected
    with store.read() as s:
        findings = list_findings(s, incident_id=iid)
    assert findings[0].kind.value == "root_cause"
    assert all(f.data["method"].startswith("forensics.injection") for f in findings)
