"""A paused pipeline holds the system's retrains and new training data, except the remediation
of the incident that paused it; the pause and the resume are on the system's audit chain."""

from __future__ import annotations

import pytest

from airsoc.audit.service import list_entries
from airsoc.errors import ConflictError, InputError
from airsoc.forensics.recovery import retrain
from airsoc.lineage.pipelines import (
    check_pipeline_open,
    pause_pipeline,
    pipeline_state,
    resume_pipeline,
)
from airsoc.testing import scratch_operations


def test_a_pause_holds_retrains_until_resumed() -> None:
    store, clock = scratch_operations()
    with store.transaction() as s:
        assert not pipeline_state(s, system="fraud").paused
        pause_pipeline(s, clock=clock, actor="ana", system="fraud", reason="skew", incident="INC-7")
        # A second pause keeps the first (its incident stays the one that may retrain).
        again = pause_pipeline(s, clock=clock, actor="bo", system="fraud", reason="x")
        assert (again.actor, again.incident) == ("ana", "INC-7")
    with store.transaction() as s, pytest.raises(ConflictError, match=r"paused .*INC-7"):
        retrain(s, clock=clock, actor="cron", reason="nightly", system="fraud")
    with store.transaction() as s, pytest.raises(ConflictError, match="new training data"):
        check_pipeline_open(s, system="fraud", incident="INC-8", what="new training data")
    # The incident's own remediation passes the pause (then fails on the missing hook).
    with store.transaction() as s, pytest.raises(InputError, match="no retrain hook"):
        retrain(s, clock=clock, actor="p", reason="fix", system="fraud", incident="INC-7")
    with store.transaction() as s:
        state = resume_pipeline(s, clock=clock, actor="ana", system="fraud", reason="done")
        assert not state.paused
        check_pipeline_open(s, system="fraud")
        actions = [e.action for e in list_entries(s, chain="system/fraud")]
    assert actions[-2:] == ["pipeline.paused", "pipeline.resumed"]
    store.close()


def test_a_pause_says_why() -> None:
    store, clock = scratch_operations()
    with store.transaction() as s, pytest.raises(InputError, match="say why"):
        pause_pipeline(s, clock=clock, actor="ana", system="fraud", reason=" ")
    store.close()
