"""Routing controls in the store: each change audited, deployments recorded, bad moves refused."""

from __future__ import annotations

import pytest

from airsoc import lineage as lin
from airsoc.audit import list_entries, verify_chains
from airsoc.clock import SimulatedClock
from airsoc.errors import ConflictError, InputError, NotFoundError
from airsoc.serving import control
from airsoc.store import Store


@pytest.fixture
def fraud(store: Store, clock: SimulatedClock) -> Store:
    with store.transaction() as s:
        lin.register_system(
            s, clock=clock, actor="a", name="fraud", kind="tabular-classifier", owner="risk"
        )
        for v in ("v1", "v2", "v3"):
            lin.register_model_version(
                s,
                clock=clock,
                actor="ci",
                system="fraud",
                version=v,
                artifact_uri=f"s3://m/{v}",
                sha256=v[1] * 64,
            )
        lin.mark_known_good(
            s, clock=clock, actor="a", system="fraud", version="v1", reason="baseline"
        )
    return store


def test_every_change_is_audited_with_who_and_why(fraud: Store, clock: SimulatedClock) -> None:
    with fraud.transaction() as s:
        control.promote(s, clock=clock, actor="ci", system="fraud", version="v2", reason="ship")
        control.set_canary(
            s, clock=clock, actor="ml", system="fraud", version="v3", share=0.1, reason="try v3"
        )
        control.isolate(s, clock=clock, actor="soc", system="fraud", reason="extraction")
        control.restore(s, clock=clock, actor="soc", system="fraud", reason="blocked the client")
        route = control.rollback(s, clock=clock, actor="ic", system="fraud", reason="poisoned")
    assert (route.mode, route.primary_version, route.candidate_version) == ("primary", "v1", None)
    with fraud.read() as s:
        entries = [
            e for e in list_entries(s, chain="system/fraud") if e.action.startswith("routing.")
        ]
        history = lin.deployment_history(s, system="fraud")
        assert all(r.ok for r in verify_chains(s))
    assert [(e.action, e.actor, e.reason, e.data["mode"]) for e in entries] == [
        ("routing.promote", "ci", "ship", "primary"),
        ("routing.canary", "ml", "try v3", "canary"),
        ("routing.isolated", "soc", "extraction", "isolated"),
        ("routing.restore", "soc", "blocked the client", "canary"),
        ("routing.rollback", "ic", "poisoned", "primary"),
    ]
    assert [e.data["revision"] for e in entries] == [1, 2, 3, 4, 5]
    assert [(d.version, d.role, d.ended_at is not None) for d in history] == [
        ("v2", "primary", True),
        ("v3", "canary", True),
        ("v1", "primary", False),
    ]


def test_a_contained_system_stays_contained_when_its_version_changes(
    fraud: Store, clock: SimulatedClock
) -> None:
    with fraud.transaction() as s:
        control.promote(s, clock=clock, actor="ci", system="fraud", version="v2", reason="ship")
        control.set_fallback(s, clock=clock, actor="soc", system="fraud", reason="evasion")
        during = control.rollback(s, clock=clock, actor="ic", system="fraud", reason="poisoned")
        after = control.restore(s, clock=clock, actor="ic", system="fraud", reason="clean now")
    assert (during.mode, during.primary_version) == ("fallback", "v1")
    assert during.fallback == {
        "type": "scripted",
        "message": "This service is temporarily answering with a safe default.",
    }
    assert (after.mode, after.primary_version) == ("primary", "v1")


def test_bad_moves_are_refused(fraud: Store, clock: SimulatedClock) -> None:
    with fraud.transaction() as s:
        with pytest.raises(NotFoundError, match="not routed yet"):
            control.isolate(s, clock=clock, actor="soc", system="fraud", reason="x")
        control.promote(s, clock=clock, actor="ci", system="fraud", version="v1", reason="ship")
        with pytest.raises(InputError, match="needs a reason"):
            control.isolate(s, clock=clock, actor="soc", system="fraud", reason=" ")
        with pytest.raises(ConflictError, match="already the primary"):
            control.set_shadow(s, clock=clock, actor="ml", system="fraud", version="v1", reason="x")
        with pytest.raises(ConflictError, match="already served normally"):
            control.restore(s, clock=clock, actor="ml", system="fraud", reason="x")
        with pytest.raises(NotFoundError, match="no known-good model version"):
            control.rollback(s, clock=clock, actor="ic", system="fraud", reason="x")
        with pytest.raises(InputError, match="fallback type 'magic'"):
            control.set_fallback(
                s, clock=clock, actor="ic", system="fraud", reason="x", fallback={"type": "magic"}
            )
        with pytest.raises(InputError, match="rate limit must be > 0"):
            control.limit_client(
                s, clock=clock, actor="soc", client_id="c", reason="x", rate_per_second=0
            )
        lin.set_model_status(
            s,
            clock=clock,
            actor="ic",
            system="fraud",
            version="v3",
            status="quarantined",
            reason="poisoned",
        )
        with pytest.raises(ConflictError, match="quarantined and cannot serve"):
            control.set_canary(
                s, clock=clock, actor="ml", system="fraud", version="v3", share=0.5, reason="x"
            )


def test_client_rules_bump_the_revision_and_are_audited(
    fraud: Store, clock: SimulatedClock
) -> None:
    with fraud.transaction() as s:
        control.block_client(s, clock=clock, actor="soc", client_id="bot", reason="scraping")
        rule = control.limit_client(
            s,
            clock=clock,
            actor="soc",
            client_id="bot",
            rate_per_second=1.5,
            burst=2,
            reason="probing",
        )
        revision = control.current_revision(s)
    assert (rule.blocked, rule.rate_per_second, rule.burst) == (True, 1.5, 2)
    assert revision == 2
    with fraud.read() as s:
        assert [e.action for e in list_entries(s, chain="client/bot")] == [
            "client.blocked",
            "client.rate_limited",
        ]
