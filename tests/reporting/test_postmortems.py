"""Post-mortem review statuses, action items seeded from findings, due dates by severity."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airsoc.clock import SimulatedClock
from airsoc.errors import ConflictError, IllegalTransitionError, NotFoundError
from airsoc.incidents.findings import FindingIn, add_finding
from airsoc.incidents.service import declare_incident
from airsoc.reporting.postmortems import (
    ActionItemIn,
    ActionItemUpdate,
    NarrativeUpdate,
    add_action_item,
    create_postmortem,
    due_date_for,
    get_postmortem,
    list_postmortems,
    required_role,
    transition_postmortem,
    update_action_item,
    update_narrative,
)
from airsoc.store import Store


@pytest.mark.parametrize(
    ("severity", "days"), [("sev1", 7), ("sev2", 14), ("sev3", 30), ("sev4", 60), ("sev5", 90)]
)
def test_due_dates_follow_severity(clock: SimulatedClock, severity: str, days: int) -> None:
    assert due_date_for(severity, start=clock.now()) == clock.now() + timedelta(days=days)


def test_the_review_moves_only_along_its_table(store: Store, clock: SimulatedClock) -> None:
    with store.transaction() as s:
        inc = declare_incident(
            s,
            clock=clock,
            actor="dana",
            system="bot",
            failure_mode="harmful_output",
            summary="toxic replies",
            severity="sev3",
        )
        add_finding(
            s,
            clock=clock,
            incident_id=inc.id,
            actor="lee",
            finding=FindingIn(title="Filter off", kind="root_cause", recommendation="Turn it on"),
        )
        add_finding(
            s,
            clock=clock,
            incident_id=inc.id,
            actor="lee",
            finding=FindingIn(title="Seen", kind="observation", recommendation="ignored"),
        )
        pm = create_postmortem(s, clock=clock, incident_id=inc.id, actor="dana")
        with pytest.raises(ConflictError, match="already has post-mortem"):
            create_postmortem(s, clock=clock, incident_id=inc.id, actor="dana")
    assert [(i.title, i.owner) for i in pm.action_items] == [("Turn it on", "dana")]
    assert pm.action_items[0].due_at == clock.now() + timedelta(days=30)
    assert required_role("draft", "in_review") == "responder"
    assert required_role("in_review", "reviewed") == "approver"
    with (
        store.transaction() as s,
        pytest.raises(IllegalTransitionError, match="legal moves from draft: in_review"),
    ):
        transition_postmortem(
            s, clock=clock, postmortem_id=pm.id, to="closed", actor="sam", reason="x"
        )
    with store.transaction() as s:
        for to in ("in_review", "draft", "in_review", "reviewed", "closed"):
            transition_postmortem(
                s, clock=clock, postmortem_id=pm.id, to=to, actor="sam", reason=to
            )
    with store.read() as s:
        done = get_postmortem(s, postmortem_id=pm.id)
        assert [p.id for p in list_postmortems(s, status="Closed")] == [pm.id]
    assert done.next_statuses == []
    assert [h.action for h in done.history].count("postmortem.transitioned") == 5
    with store.transaction() as s, pytest.raises(ConflictError, match="is closed"):
        add_action_item(
            s,
            clock=clock,
            postmortem_id=pm.id,
            actor="dana",
            item=ActionItemIn(title="late", owner="x"),
        )


def test_narrative_and_items_change_on_the_record(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    with sqlite_store.transaction() as s:
        inc = declare_incident(
            s,
            clock=clock,
            actor="dana",
            system="bot",
            failure_mode="prompt_injection",
            summary="jailbreak",
        )
        pm = create_postmortem(s, clock=clock, incident_id=inc.id, actor="dana")
        view = update_narrative(
            s,
            clock=clock,
            postmortem_id=pm.id,
            actor="dana",
            changes=NarrativeUpdate(sessions_affected=310, went_well=["Canary token fired"]),
        )
        again = update_narrative(
            s,
            clock=clock,
            postmortem_id=pm.id,
            actor="dana",
            changes=NarrativeUpdate(sessions_affected=310),
        )
        item = add_action_item(
            s,
            clock=clock,
            postmortem_id=pm.id,
            actor="dana",
            item=ActionItemIn(title="Add output filter", owner="llm-platform"),
        )
        moved = update_action_item(
            s,
            clock=clock,
            postmortem_id=pm.id,
            item_id=item.id,
            actor="sam",
            changes=ActionItemUpdate(owner="safety", status="done"),
        )
        with pytest.raises(NotFoundError):
            update_action_item(
                s,
                clock=clock,
                postmortem_id=pm.id,
                item_id=999,
                actor="sam",
                changes=ActionItemUpdate(status="done"),
            )
    assert view.narrative.sessions_affected == 310
    assert view.narrative.what_happened == "jailbreak"
    assert (moved.owner, moved.status) == ("safety", "done")
    edits = [h for h in again.history if h.action == "postmortem.edited"]
    assert [e.data["fields"] for e in edits] == [["sessions_affected", "went_well"]]
