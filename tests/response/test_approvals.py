"""Approval decisions: a reason, one decision only, not after the timeout, the right role."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airsoc.clock import SimulatedClock
from airsoc.errors import ConflictError, InputError
from airsoc.response.approvals import decide_approval, list_approvals
from airsoc.store import Store
from tests.response.support import incident, registry, runner, start

PLAYBOOK = """
name: a
steps:
  - id: note
    action: open_task
    with: {title: check}
    approval: {role: scribe, timeout: 10m}
"""


def test_decisions_are_checked(store: Store, clock: SimulatedClock) -> None:
    reg = registry()
    inc = incident(store, clock, roles={"scribe": "carol"})
    start(store, clock, PLAYBOOK, inc.id, reg)
    runner(store, clock, reg).run_until_idle()
    with store.read() as s:
        (approval,) = list_approvals(s)
    assert not approval.destructive
    with store.transaction() as s, pytest.raises(InputError, match="reason"):
        decide_approval(
            s, clock=clock, approval_id=approval.id, actor="carol", approve=True, reason=" "
        )
    with store.transaction() as s:
        # Not destructive: the requester may approve if they hold the role; carol holds it.
        decide_approval(
            s, clock=clock, approval_id=approval.id, actor="carol", approve=True, reason="fine"
        )
    with store.transaction() as s, pytest.raises(ConflictError, match="already approved"):
        decide_approval(
            s,
            clock=clock,
            approval_id=approval.id,
            actor="carol",
            approve=False,
            reason="changed my mind",
        )


def test_no_decision_after_the_timeout(store: Store, clock: SimulatedClock) -> None:
    reg = registry()
    inc = incident(store, clock, roles={"scribe": "carol"})
    start(store, clock, PLAYBOOK, inc.id, reg)
    runner(store, clock, reg).run_until_idle()
    clock.advance(timedelta(minutes=10))
    with store.transaction() as s:
        (approval,) = list_approvals(s)
        with pytest.raises(ConflictError, match="timed out"):
            decide_approval(
                s, clock=clock, approval_id=approval.id, actor="carol", approve=True, reason="late"
            )
