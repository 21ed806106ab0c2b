"""The review board: the queue, decisions (audited with the change), action items and overdue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from airsoc.audit import list_entries
from airsoc.clock import SimulatedClock
from airsoc.errors import ConflictError, InputError
from airsoc.incidents.service import declare_incident
from airsoc.reporting.models import ReviewDecisionRow
from airsoc.reporting.postmortems import (
    ActionItemIn,
    ActionItemUpdate,
    add_action_item,
    create_postmortem,
    get_postmortem,
    postmortem_chain,
    transition_postmortem,
)
from airsoc.reporting.review import (
    add_review_action_item,
    change_action_item,
    decide_review,
    get_review_item,
    list_action_items,
    review_queue,
)
from airsoc.reporting.review_queue import file_review_item, review_chain
from airsoc.store import Store


def postmortem_in_review(store: Store, clock: SimulatedClock) -> int:
    with store.transaction() as s:
        inc = declare_incident(
            s,
            clock=clock,
            actor="dana",
            system="fraud-detector",
            failure_mode="data_poisoning",
            summary="vendor batch 17 flipped labels",
        )
        pm = create_postmortem(s, clock=clock, incident_id=inc.id, actor="dana")
        transition_postmortem(
            s, clock=clock, postmortem_id=pm.id, to="in_review", actor="dana", reason="ready"
        )
    return pm.id


def test_a_postmortem_in_review_joins_the_queue_and_an_approval_moves_it(
    store: Store, clock: SimulatedClock
) -> None:
    pm_id = postmortem_in_review(store, clock)
    with store.read() as s:
        (item,) = review_queue(s)
    assert (item.kind, item.reference, item.status, item.submitted_by) == (
        "postmortem",
        f"PM-{pm_id}",
        "pending",
        "dana",
    )
    assert item.title == "Post-mortem of INC-1: data poisoning on fraud-detector"
    clock.advance(timedelta(hours=2))
    with store.transaction() as s:
        view = decide_review(
            s,
            clock=clock,
            item_id=item.id,
            decision="approve",
            reviewer="sam",
            text="Clear timeline; the screening item is the right fix",
        )
    assert view.status == "approved"
    (decision,) = view.decisions
    assert (decision.reviewer, decision.decided_at, decision.decision) == (
        "sam",
        clock.now(),
        "approve",
    )
    with store.read() as s:
        assert review_queue(s) == []
        assert get_postmortem(s, postmortem_id=pm_id).status.value == "reviewed"
        history = [e.action for e in list_entries(s, chain=review_chain(item.id))]
        pm_history = list_entries(s, chain=postmortem_chain(pm_id))
    assert history == ["review.filed", "review.approved"]
    assert pm_history[-1].actor == "sam"
    assert (
        pm_history[-1].reason == "review board: Clear timeline; the screening item is the right fix"
    )


def test_requesting_changes_sends_the_postmortem_back_and_a_resubmission_queues_again(
    store: Store, clock: SimulatedClock
) -> None:
    pm_id = postmortem_in_review(store, clock)
    with store.read() as s:
        (item,) = review_queue(s)
    with store.transaction() as s:
        decide_review(
            s,
            clock=clock,
            item_id=item.id,
            decision="request_changes",
            reviewer="sam",
            text="Say who calls the vendor",
        )
    with store.transaction() as s:
        assert get_postmortem(s, postmortem_id=pm_id).status.value == "draft"
        transition_postmortem(
            s, clock=clock, postmortem_id=pm_id, to="in_review", actor="dana", reason="fixed"
        )
    with store.read() as s:
        (again,) = review_queue(s)
        assert [i.status for i in review_queue(s, status=None)] == ["changes_requested", "pending"]
    assert again.id != item.id


def test_a_decision_is_refused_without_words_twice_or_unknown_and_leaves_nothing(
    store: Store, clock: SimulatedClock
) -> None:
    with store.transaction() as s:
        item = file_review_item(
            s, clock=clock, kind="tabletop_debrief", reference="TT-7", title="Tabletop", actor="ada"
        )
    with store.transaction() as s, pytest.raises(InputError, match="reviewer's words"):
        decide_review(s, clock=clock, item_id=item.id, decision="approve", reviewer="sam", text=" ")
    with store.transaction() as s, pytest.raises(InputError, match="unknown decision"):
        decide_review(s, clock=clock, item_id=item.id, decision="maybe", reviewer="sam", text="x")
    with store.transaction() as s:
        decide_review(
            s, clock=clock, item_id=item.id, decision="approve", reviewer="sam", text="ok"
        )
    with store.transaction() as s, pytest.raises(ConflictError, match="approved, not pending"):
        decide_review(
            s, clock=clock, item_id=item.id, decision="approve", reviewer="ada", text="ok"
        )
    with store.read() as s:
        assert len(s.execute(select(ReviewDecisionRow)).scalars().all()) == 1
    with store.transaction() as s, pytest.raises(InputError, match="kind"):
        file_review_item(s, clock=clock, kind="Bad Kind", reference="x", title="y", actor="ada")


def test_moving_a_postmortem_out_of_review_by_hand_withdraws_its_item(
    store: Store, clock: SimulatedClock
) -> None:
    pm_id = postmortem_in_review(store, clock)
    with store.transaction() as s:
        transition_postmortem(
            s, clock=clock, postmortem_id=pm_id, to="draft", actor="dana", reason="not yet"
        )
    with store.read() as s:
        assert review_queue(s) == []
        (item,) = review_queue(s, status="withdrawn")
    assert item.reference == f"PM-{pm_id}"


def test_action_items_from_reviews_and_postmortems_and_what_is_overdue(
    store: Store, clock: SimulatedClock
) -> None:
    pm_id = postmortem_in_review(store, clock)
    with store.transaction() as s:
        (pm_item,) = review_queue(s)
        tabletop = file_review_item(
            s, clock=clock, kind="tabletop_debrief", reference="TT-1", title="Tabletop", actor="ada"
        )
        from_pm = add_action_item(
            s,
            clock=clock,
            postmortem_id=pm_id,
            actor="dana",
            item=ActionItemIn(title="Screen vendor batches", owner="risk-ml"),
        )
        from_review = add_review_action_item(
            s,
            clock=clock,
            item_id=pm_item.id,
            actor="sam",
            item=ActionItemIn(title="Pin the vendor's schema", owner="data-eng"),
        )
        from_tabletop = add_review_action_item(
            s,
            clock=clock,
            item_id=tabletop.id,
            actor="sam",
            item=ActionItemIn(
                title="Write the vendor call-tree",
                owner="ops",
                due_at=clock.now() + timedelta(days=3),
            ),
        )
    # SEV2 incident: post-mortem items are due in 14 days; the tabletop item in 3.
    assert (from_review.due_at - clock.now()).days == 14
    assert (from_review.postmortem_id, from_review.review_item_id) == (pm_id, pm_item.id)
    assert from_tabletop.postmortem_id is None
    clock.advance(timedelta(days=5))
    with store.read() as s:
        overdue = list_action_items(s, at=clock.now(), overdue_only=True)
    assert [(i.title, i.source, i.overdue) for i in overdue] == [
        ("Write the vendor call-tree", f"review {tabletop.id}", True)
    ]
    clock.advance(timedelta(days=10))
    with store.transaction() as s:
        change_action_item(
            s,
            clock=clock,
            action_item_id=from_pm.id,
            changes=ActionItemUpdate(status="in_progress"),
            actor="dana",
        )
        change_action_item(
            s,
            clock=clock,
            action_item_id=from_tabletop.id,
            changes=ActionItemUpdate(status="cancelled"),
            actor="ada",
        )
    with store.read() as s:
        overdue = list_action_items(s, at=clock.now(), overdue_only=True)
        pm_view = get_postmortem(s, postmortem_id=pm_id)
        review_view = get_review_item(s, item_id=tabletop.id)
        done_or_not = list_action_items(s, status="cancelled")
    # In progress still counts; cancelled does not.
    assert [(i.title, i.status) for i in overdue] == [
        ("Screen vendor batches", "in_progress"),
        ("Pin the vendor's schema", "open"),
    ]
    assert [i.title for i in pm_view.action_items] == [
        "Screen vendor batches",
        "Pin the vendor's schema",
    ]
    assert [e.action for e in review_view.history][-1] == "review.action_item_updated"
    assert [i.title for i in done_or_not] == ["Write the vendor call-tree"]
    with store.read() as s, pytest.raises(InputError, match="unknown action item status"):
        list_action_items(s, status="late")
