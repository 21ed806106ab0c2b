"""Every built-in action: params, dry-run description, effect, and undo where there is one.

The actions of the control operations are tested with the table (tests/runtime).
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from airsoc.alerting.receivers import RecordingReceiver
from airsoc.clock import SimulatedClock
from airsoc.errors import ActionError
from airsoc.incidents.service import get_incident
from airsoc.runtime.registries import build_action_registry
from airsoc.store import Store
from airsoc.testing.receivers import http_sink
from tests.response.support import context, incident


def test_incident_actions_change_the_incident_once(store: Store, clock: SimulatedClock) -> None:
    inc_id = incident(store, clock).id
    act, ctx = context(
        store,
        clock,
        "set_severity",
        {"severity": "sev1", "reason": "spreading"},
        incident_id=inc_id,
    )
    assert act.describe(ctx) == "set severity sev2 -> sev1"
    act.execute(ctx)
    for name, params in (
        ("transition", {"to": "triaged", "reason": "confirmed"}),
        ("assign_role", {"role": "scribe", "person": "carol"}),
        ("open_task", {"title": "Retrain on clean batches", "owner": "risk-ml"}),
        ("capture_evidence", {"window": "1d"}),
    ):
        act, ctx = context(store, clock, name, params, key=f"k-{name}", incident_id=inc_id)
        act.execute(ctx)
    with store.read() as s:
        inc = get_incident(s, incident_id=inc_id)
    assert inc.severity == "sev1"
    assert inc.phase == "triaged"
    assert [(r.role, r.person) for r in inc.roles] == [("scribe", "carol")]
    assert inc.next_steps == ["Retrain on clean batches (owner: risk-ml)"]
    (evidence,) = inc.evidence
    assert evidence.media_type == "application/json"
    assert evidence.custody[0].actor == "playbook:1"


def test_notify_and_page_use_the_receivers(store: Store, clock: SimulatedClock) -> None:
    ops = RecordingReceiver("ops")
    act, ctx = context(store, clock, "notify", {"receiver": "ops"}, receivers={"ops": [ops]})
    assert "status update" in act.describe(ctx)
    act.execute(ctx)
    assert ops.notifications[0].alerts[0].annotations["summary"].startswith("**INC-1 status")
    act, ctx = context(store, clock, "page", {"receiver": "ops"}, receivers={"ops": [ops]})
    act.execute(ctx)
    assert ops.notifications[1].alerts[0].annotations["summary"].startswith("PAGE INC-2 (SEV2)")
    act, ctx = context(store, clock, "notify", {"receiver": "nobody"})
    with pytest.raises(ActionError, match="no receiver named 'nobody'"):
        act.execute(ctx)
    broken = RecordingReceiver("ops", fail=True)
    act, ctx = context(store, clock, "notify", {"receiver": "ops"}, receivers={"ops": [broken]})
    with pytest.raises(ActionError, match="configured to fail"):
        act.execute(ctx)


def test_pipeline_actions_call_the_webhook_with_the_clean_batches(
    store: Store, clock: SimulatedClock
) -> None:
    with http_sink() as sink:
        act, ctx = context(
            store,
            clock,
            "trigger_retrain",
            {"webhook": sink.url + "/retrain", "batches": ["b-2", "b-3"]},
        )
        result = act.execute(ctx)
        sink.statuses = [500]
        with pytest.raises(ActionError, match="HTTP 500"):
            act.execute(ctx)
    request = sink.requests[0]
    assert request.headers["Idempotency-Key"] == "k1"
    assert request.json()["batches"] == ["b-2", "b-3"]
    assert result.output["batches"] == ["b-2", "b-3"]


def test_pipeline_actions_run_the_command_with_json_on_stdin(
    store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    out = tmp_path / "got.json"
    script = f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"
    act, ctx = context(store, clock, "pause_pipeline", {"command": [sys.executable, "-c", script]})
    act.execute(ctx)
    assert json.loads(out.read_text())["action"] == "pause_pipeline"
    act, ctx = context(
        store,
        clock,
        "pause_pipeline",
        {"command": [sys.executable, "-c", "import sys; sys.exit(3)"]},
    )
    with pytest.raises(ActionError, match="exited 3"):
        act.execute(ctx)


def test_pipeline_params_need_one_target() -> None:
    registry = build_action_registry(plugins=False)
    model = registry.get("trigger_retrain").params_model
    with pytest.raises(ValueError, match="exactly one of webhook or command"):
        model.model_validate({})
    pause = registry.get("pause_pipeline").params_model
    assert pause.model_validate({}).model_dump()["webhook"] is None  # the platform's own pause
    with pytest.raises(ValueError, match="at most one of webhook or command"):
        pause.model_validate({"webhook": "http://hook", "command": ["true"]})
    assert timedelta(0) == timedelta(0)
