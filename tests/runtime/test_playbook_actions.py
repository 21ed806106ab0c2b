"""The playbook actions of the table of operations, on a recording control plane: parameters,
dry-run description, one effect per idempotency key, and undo."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airsoc.clock import SimulatedClock
from airsoc.errors import ActionError
from airsoc.response.controlplane import RecordingControlPlane
from airsoc.store import Store
from tests.response.support import context

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
            lambda cp: cp.canary["fraud"] == ("v6", 0.1),
            "share=0.1",
        ),
        (
            "set_shadow",
            {"version": "v6"},
            lambda cp: (cp.mode["fraud"], cp.canary["fraud"]) == ("shadow", ("v6", 1.0)),
            "set_shadow(system='fraud', version='v6', share=1.0)",
        ),
        (
            "block_client",
            {"client": "c-9", "duration": "1d"},
            lambda cp: cp.blocked["c-9"] == "86400s",
            "duration='86400s'",
        ),
        (
            "rate_limit_client",
            {"client": "c-9", "per_minute": 6},
            lambda cp: cp.rate_limits["c-9"] == (0.1, 6),
            "rate_per_second=0.1",
        ),
        ("quarantine_batch", {"batch": "b-1"}, lambda cp: cp.quarantined == {"b-1"}, "b-1"),
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
def test_operation_actions(
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


def test_release_needs_a_quarantined_batch(store: Store, clock: SimulatedClock) -> None:
    cp = RecordingControlPlane(**PLANE)  # type: ignore[arg-type]
    act, ctx = context(store, clock, "release_batch", {"batch": "b-1"}, cp=cp)
    with pytest.raises(ActionError, match="not quarantined"):
        act.execute(ctx)
    cp.quarantined.add("b-1")
    act.execute(ctx)
    assert cp.quarantined == set()


def test_undo_of_rollback_fallback_quarantine_and_block(
    store: Store, clock: SimulatedClock
) -> None:
    cp = RecordingControlPlane(**PLANE)  # type: ignore[arg-type]
    for action, params in (
        ("rollback", {}),
        ("fallback", {}),
        ("quarantine_batch", {"batch": "b-9"}),
        ("block_client", {"client": "c"}),
        ("rate_limit_client", {"client": "c", "rate_per_second": 2.0}),
        ("remove_document", {"document": "policy-42.md"}),
    ):
        act, ctx = context(store, clock, action, params, cp=cp, key=f"k-{action}")
        undo = act.compensate(ctx, act.execute(ctx))
        assert undo is not None
        assert undo.summary.startswith(f"undid {action}")
    assert (cp.serving["fraud"], cp.mode["fraud"], cp.quarantined) == ("v7", "normal", set())
    assert (cp.blocked, cp.rate_limits, cp.documents["fraud"]) == ({}, {}, {"policy-42.md"})
    assert [c.idempotency_key for c in cp.calls if c.idempotency_key.endswith("/undo")] == [
        f"k-{a}/undo"
        for a in (
            "rollback",
            "fallback",
            "quarantine_batch",
            "block_client",
            "rate_limit_client",
            "remove_document",
        )
    ]


def test_what_was_so_before_is_left_as_it_was(store: Store, clock: SimulatedClock) -> None:
    cp = RecordingControlPlane(**PLANE)  # type: ignore[arg-type]
    cp.quarantined.add("b-9")
    act, ctx = context(store, clock, "quarantine_batch", {"batch": "b-9"}, cp=cp)
    undo = act.compensate(ctx, act.execute(ctx))
    assert undo is not None
    assert "left as it was" in undo.summary
    assert cp.quarantined == {"b-9"}
    act, ctx = context(store, clock, "restore", {}, cp=cp, key="k2")
    assert act.compensate(ctx, act.execute(ctx)) is None  # restoring has no inverse


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


def test_older_playbook_spellings_still_validate(store: Store, clock: SimulatedClock) -> None:
    reg_params: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
        "fallback": ({"mode": "human_handoff"}, {"type": "human_handoff"}),
        "block_client": ({"client": "c", "duration": "7d"}, {"duration": timedelta(days=7)}),
        "rate_limit_client": ({"client": "c", "per_minute": 120}, {"rate_per_second": 2.0}),
        "quarantine_batch": ({"batch": "b-1"}, {"batch_id": "b-1"}),
    }
    for name, (old, expected) in reg_params.items():
        _, ctx = context(store, clock, name, old)
        for key, value in expected.items():
            assert getattr(ctx.params, key) == value, (name, key)
    with pytest.raises(ValueError, match="per_minute must be at least 1"):
        context(store, clock, "rate_limit_client", {"client": "c", "per_minute": 0})


def test_a_batch_id_may_hold_slashes(store: Store, clock: SimulatedClock) -> None:
    cp = RecordingControlPlane(**PLANE)  # type: ignore[arg-type]
    batch = {"batch": "brightline-data/2026-11-15"}
    act, ctx = context(store, clock, "quarantine_batch", batch, cp=cp)
    act.execute(ctx)
    assert cp.quarantined == {"brightline-data/2026-11-15"}
