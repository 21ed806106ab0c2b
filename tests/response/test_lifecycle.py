"""The run lifecycle table: the only moves a run makes, and a clear refusal of any other."""

from __future__ import annotations

import pytest

from airsoc.clock import SimulatedClock
from airsoc.errors import IllegalTransitionError
from airsoc.response.lifecycle import (
    FINAL_RUN_STATUSES,
    TRANSITIONS,
    RunStatus,
    legal_targets,
    move_run,
)
from airsoc.response.models import PlaybookRunRow


def test_final_statuses_have_no_way_out_and_every_status_is_reachable() -> None:
    assert not [src for (src, _) in TRANSITIONS if src in FINAL_RUN_STATUSES]
    reached = {RunStatus.PENDING} | {dst for (_, dst) in TRANSITIONS}
    assert reached == set(RunStatus)


def test_an_illegal_move_names_the_legal_ones_and_changes_nothing() -> None:
    run = PlaybookRunRow(status="waiting_approval", claimed_by=None)
    with pytest.raises(IllegalTransitionError) as err:
        move_run(run, RunStatus.SUCCEEDED, at=SimulatedClock().now())
    assert err.value.message == (
        "cannot move a run from waiting_approval to succeeded; "
        "legal moves from waiting_approval: running, pending"
    )
    assert run.status == "waiting_approval"
    assert legal_targets(RunStatus.SUCCEEDED) == []


def test_leaving_running_releases_the_claim() -> None:
    now = SimulatedClock().now()
    run = PlaybookRunRow(status="running", claimed_by="w1", lease_until=now)
    move_run(run, RunStatus.FAILED, at=now, error="step b: boom")
    assert (run.status, run.claimed_by, run.lease_until, run.error) == (
        "failed",
        None,
        None,
        "step b: boom",
    )
