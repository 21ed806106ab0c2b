"""The post-mortem of a worked incident says what happened, in the words a reviewer expects."""

from __future__ import annotations

from airsoc.clock import SimulatedClock
from airsoc.reporting.report import build_report
from airsoc.store import Store


def test_every_section_is_filled_from_the_record(
    store: Store, clock: SimulatedClock, worked_incident: int
) -> None:
    with store.read() as s:
        r = build_report(s, incident_id=worked_incident, now=clock.now())
    assert r.title == "Post-mortem: data poisoning on fraud-detector (INC-1)"
    assert r.status == "Draft"
    assert r.overview[0] == (
        "On 2026-03-01 at 09:38 UTC, the monitor fraud-batch-screen reported data poisoning on "
        "fraud-detector. It was declared as INC-1 at SEV2."
    )
    assert "contained 43 min after its impact began" in r.overview[2]
    impact = dict(r.impact)
    # Stated by people; the event log of this store is empty, so nothing is measured.
    assert impact["Requests served by fraud-detector"] == "48,210"
    assert impact["Predictions served by fraud-detector"] == "3,940"
    assert impact["Sessions affected"] == "unknown (the event log has no data)"
    assert impact["Duration of impact"] == "43 min"  # to containment, not to recovery
    assert impact["Information impact"] == "integrity loss"
    assert [f.title for f in r.root_causes] == ["Vendor batch 17 carried flipped fraud labels"]
    assert [f.title for f in r.contributing_factors] == ["Retraining ran without a holdout check"]
    assert [n.text for n in r.handler_notes] == ["vendor acme-data contacted"]
    assert r.detection.splitlines()[1] == (
        "The impact began at 09:00 UTC, from the start recorded on the incident, so it went "
        "unnoticed for 38 min (time to detect)."
    )
    # No playbook run or routing change is on the record: nothing to call a decision.
    assert r.course.decision is None
    assert [(a.actor, a.text) for a in r.approvals] == [
        ("sam", "Approval granted: rollback to v6 approved.")
    ]
    assert "dana led the response as incident commander." in r.response
    assert r.went_badly == [
        "The poisoned batch passed every schema check, so nothing stopped it before training."
    ]
    assert "A responder picked it up within 3 min." in r.went_well
    assert [(i.title, i.owner, f"{i.due_at:%Y-%m-%d}") for i in r.action_items] == [
        ("Screen every vendor batch for label disagreement before training", "dana", "2026-03-15"),
        ("Gate promotion on recall against a fixed holdout set", "dana", "2026-03-15"),
    ]
    assert "Incident commander: dana." in r.internal_message
    assert "acme" not in r.external_message  # no internals in the public statement
    assert next(t["id"] for t in r.atlas) == "AML.T0020"
    assert [m[1] for m in r.metrics] == ["38 min", "38 min", "3 min", "43 min", "1 h 49 min"]
    assert [c.title for c in r.charts] == [
        "Time in each phase",
        "Response times",
        "Vendor batch 17 carried flipped fraud labels",
    ]


def test_a_fresh_incident_gets_a_report_that_says_what_is_missing(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    from airsoc.incidents.service import declare_incident

    with sqlite_store.transaction() as s:
        inc = declare_incident(
            s,
            clock=clock,
            actor="dana",
            system="credit-scorer",
            failure_mode="fairness_regression",
            summary="approval gap widened",
        )
    with sqlite_store.read() as s:
        r = build_report(s, incident_id=inc.id)
    assert r.status == "Not started"
    assert r.detection.startswith("Dana detected it by hand")
    assert "When the impact began is unknown (no bad version was promoted" in r.detection
    assert {m[0]: m[1] for m in r.metrics}["Time to detect (TTD)"] == "unknown"
    assert "No root cause has been recorded yet." in r.went_badly
    assert "No evidence was attached to the incident." in r.went_badly
    assert r.response[0] == "No playbook acted on this incident; responders worked it by hand."
    assert r.action_items == []
    assert r.suggested_due > inc.detected_at


def test_a_playbook_step_output_reads_as_words_in_the_timeline(
    store: Store, clock: SimulatedClock, worked_incident: int
) -> None:
    """A step's summary carries its output as JSON; the post-mortem's timeline says it in
    words (it showed the JSON)."""
    from airsoc.audit import append_entry

    with store.transaction() as s:
        append_entry(
            s,
            clock=clock,
            chain=f"incident/{worked_incident}",
            actor="playbook:1",
            action="playbook.step_succeeded",
            reason='set_source_trust: {"level": "probation", "source": "brightline-data"}',
        )
    with store.read() as s:
        r = build_report(s, incident_id=worked_incident, now=clock.now())
    said = [line.text for line in r.timeline if "set_source_trust" in line.text]
    assert said == [
        "Playbook step succeeded: set_source_trust: level: probation; source: brightline-data."
    ]


def test_a_saved_status_update_is_one_plain_timeline_line(
    store: Store, clock: SimulatedClock, worked_incident: int
) -> None:
    """The escalation notes a whole Markdown status update; the post-mortem's timeline shows
    its first paragraph without Markdown markers (it showed ``**`` and list items)."""
    from airsoc.incidents.service import add_note

    with store.transaction() as s:
        add_note(
            s, clock=clock, incident_id=worked_incident, actor="system:escalation",
            text="status update saved:\n**INC-1 status update** (SEV2, detected)\n\n- System: x",
        )  # fmt: skip
    with store.read() as s:
        r = build_report(s, incident_id=worked_incident, now=clock.now())
    said = [line.text for line in r.timeline if "status update saved" in line.text]
    assert said == ["Note: status update saved: INC-1 status update (SEV2, detected) …"]
