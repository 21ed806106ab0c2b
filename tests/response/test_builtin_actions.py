"""Every built-in action: params, dry-run description, effect, and undo where there is one."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airsoc.alerting.receivers import RecordingReceiver
from airsoc.clock import SimulatedClock
from airsoc.errors import ActionError
from airsoc.incidents.service import get_incident
from airsoc.response.actions import ActionContext, ResponseServices
from airsoc.response.controlplane import RecordingControlPlane
from airsoc.response.registry import default_registry
from airsoc.store import Store
from airsoc.testing.receivers import http_sink
from tests.response.support import incident


def context(
    store: Store,
    clock: SimulatedClock,
    action: str,
    params: dict[str, Any],
    *,
    cp: RecordingControlPlane | None = None,
    key: str = "k1",
    incident_id: int | None = None,
    **services: Any,
) -> tuple[Any, ActionContext]:
    registry = default_registry(plugins=False)
    act = registry.get(action)
    if incident_id is None:
        incident_id = incident(store, clock, batches=("b-1",)).id
    with store.read() as s:
        data = get_incident(s, incident_id=incident_id).model_dump(mode="json")
    if "system" in act.params_model.model_fields:
        params = {"system": "fraud", **params}
    ctx = ActionContext(
        action=action,
        params=act.params_model.model_validate(params),
        incident=data,
        run_id=1,
        step_id="s",
        idempotency_key=key,
        actor="playbook:1",
        clock=clock,
        services=ResponseServices(
            store=store,
            settings=store.settings,
            control_plane=cp,
            **services,
        ),
    )
    return act, ctx


PLANE = {
    "versions": {"fraud": ["v5", "v6", "v7"]},
    "documents": {"fraud": ["policy-42.md"]},
}


@pytest.mark.parametrize(
    ("action", "params", "check", "description"),
    [
        ("rollback", {}, lambda cp: cp.serving["fraud"] == "v6", "rollback(system='fraud'"),
        ("rollback", {"to": "v5"}, lambda cp: cp.serving["fraud"] == "v5", "to='v5'"),
        ("fallback", {"mode": "rules"}, lambda cp: cp.mode["fraud"] == "fallback:rules", "rules"),
        ("isolate", {}, lambda cp: cp.mode["fraud"] == "isolated", "isolate(system='fraud')"),
        ("restore", {}, lambda cp: cp.mode["fraud"] == "normal", "restore"),
        (
            "set_canary",
            {"version": "v6", "percent": 10},
            lambda cp: cp.canary["fraud"] == ("v6", 10),
            "percent=10",
        ),
        (
            "block_client",
            {"client": "c-9", "duration": "1d"},
            lambda cp: cp.blocked[("fraud", "c-9")] == 86400,
            "seconds=86400",
        ),
        (
            "rate_limit_client",
            {"client": "c-9", "per_minute": 5},
            lambda cp: cp.rate_limits[("fraud", "c-9")] == 5,
            "per_minute=5",
        ),
        ("quarantine_batch", {"batch": "b-1"}, lambda cp: cp.quarantined == {"b-1"}, "b-1"),
        ("release_batch", {"batch": "b-1"}, lambda cp: cp.quarantined == set(), "release"),
        (
            "revoke_source",
            {"source": "vendor-x"},
            lambda cp: cp.untrusted_sources == {"vendor-x"},
            "vendor-x",
        ),
        ("disable_retrieval", {}, lambda cp: cp.retrieval_enabled["fraud"] is False, "fraud"),
        (
            "remove_document",
            {"document": "policy-42.md"},
            lambda cp: cp.documents["fraud"] == set(),
            "policy-42.md",
        ),
    ],
)
def test_control_plane_actions(
    sqlite_store: Store,
    clock: SimulatedClock,
    action: str,
    params: dict[str, Any],
    check: Any,
    description: str,
) -> None:
    cp = RecordingControlPlane(**PLANE)  # type: ignore[arg-type]
    act, ctx = context(sqlite_store, clock, action, params, cp=cp)
    assert description in act.describe(ctx)
    assert cp.calls == []  # describing is a dry run
    result = act.execute(ctx)
    assert check(cp)
    assert [c.idempotency_key for c in cp.calls] == ["k1"]
    act.execute(ctx)  # the same key again: no second change
    assert len(cp.calls) == 1
    assert result.summary.startswith(action)


def test_undo_of_rollback_fallback_and_quarantine(store: Store, clock: SimulatedClock) -> None:
    cp = RecordingControlPlane(**PLANE)  # type: ignore[arg-type]
    for action, params in (
        ("rollback", {}),
        ("fallback", {}),
        ("quarantine_batch", {"batch": "b-9"}),
    ):
        act, ctx = context(store, clock, action, params, cp=cp, key=f"k-{action}")
        undo = act.compensate(ctx, act.execute(ctx))
        assert undo is not None
    assert (cp.serving["fraud"], cp.mode["fraud"], cp.quarantined) == ("v7", "normal", set())
    act, ctx = context(store, clock, "block_client", {"client": "c"}, cp=cp)
    assert act.compensate(ctx, act.execute(ctx)) is None


def test_control_plane_failure_and_absence_are_action_errors(
    store: Store, clock: SimulatedClock
) -> None:
    act, ctx = context(store, clock, "rollback", {}, cp=None)
    with pytest.raises(ActionError, match="control plane"):
        act.execute(ctx)
    cp = RecordingControlPlane(versions={"fraud": ["v7"]})
    act, ctx = context(store, clock, "rollback", {}, cp=cp)
    with pytest.raises(ActionError, match="no version before v7"):
        act.execute(ctx)


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
    registry = default_registry(plugins=False)
    model = registry.get("pause_pipeline").params_model
    with pytest.raises(ValueError, match="exactly one of webhook or command"):
        model.model_validate({})
    assert timedelta(0) == timedelta(0)
