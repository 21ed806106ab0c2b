"""The demo's post-mortem, written from the record the platform left: measured impact (requests
served by the bad version), a time to detect counted from its promotion, the root cause and the
rollback-or-patch decision from forensics and the playbook, and a measured containment time."""

from __future__ import annotations

import io

from pypdf import PdfReader

from airsoc.audit.service import list_entries
from airsoc.fleet.setup import POISONED_BATCH
from airsoc.incidents.service import get_incident
from airsoc.reporting.render import render
from airsoc.reporting.report import PostmortemReport, build_report
from airsoc.reporting.timing import format_duration
from tests.reporting.conftest import DemoRecord


def _report(demo: DemoRecord) -> PostmortemReport:
    with demo.store.read() as s:
        return build_report(s, incident_id=demo.incident_id, now=demo.clock.now())


def _rollback_at(demo: DemoRecord) -> object:
    with demo.store.read() as s:
        return next(
            e.at
            for e in list_entries(s, chain="system/fraud-detector")
            if e.action == "routing.rollback"
        )


def test_impact_counts_the_requests_the_bad_version_served(demo_record: DemoRecord) -> None:
    r = _report(demo_record)
    contained = _rollback_at(demo_record)
    # What the gateway's clients saw: every answer v3 gave before the rollback.
    by_v3 = [
        (at, rows)
        for at, version, rows in demo_record.answers
        if version == "v3" and at < contained  # type: ignore[operator]
    ]
    assert by_v3, "v3 answered nothing; the story did not run"
    impact = dict(r.impact)
    assert r.course.bad_version == "v3"
    assert impact["Requests served by v3"] == f"{len(by_v3):,}"
    assert impact["Predictions served by v3"] == f"{sum(n for _, n in by_v3):,}"
    assert impact["Clients affected"] == "3"
    assert "v1" not in impact["Requests served by v3"]
    assert "ongoing" not in impact["Duration of impact"]
    # Tabular traffic has no chat sessions: the report says why, never "0".
    assert impact["Sessions affected"].startswith("unknown (")


def test_time_to_detect_is_counted_from_the_promotion_of_the_bad_version(
    demo_record: DemoRecord,
) -> None:
    r = _report(demo_record)
    with demo_record.store.read() as s:
        incident = get_incident(s, incident_id=demo_record.incident_id)
    assert demo_record.promoted_v3 is not None
    assert r.course.impact_start.at == demo_record.promoted_v3
    assert "promote of fraud-detector v3" in r.course.impact_start.evidence
    assert "vendor-pipeline" in r.course.impact_start.evidence
    ttd = (incident.detected_at - demo_record.promoted_v3).total_seconds()
    assert ttd > 0
    assert r.course.ttd_seconds == ttd
    assert {m[0]: m[1] for m in r.metrics}["Time to detect (TTD)"] == format_duration(ttd)
    declared = (incident.reported_at - demo_record.promoted_v3).total_seconds()
    assert r.course.time_to_declare_seconds == declared
    assert f"went unnoticed for {format_duration(ttd)}" in r.detection
    assert "unknown" not in r.detection


def test_root_cause_and_the_rollback_decision_come_from_forensics_and_the_playbook(
    demo_record: DemoRecord,
) -> None:
    r = _report(demo_record)
    assert r.root_cause.headlines, "forensics named no root cause"
    assert "brightline-data" in r.root_cause.headlines[0]
    batches = next(g for g in r.root_cause.groups if g.subject_type == "batch")
    assert batches.suspects[0].name == POISONED_BATCH
    assert "No root cause has been recorded yet." not in r.went_badly
    assert r.course.decision_kind == "rollback"
    assert r.course.decision is not None
    assert "from v3 to v2 (the last known-good version)" in r.course.decision
    assert "approval timed out" in r.course.decision
    assert any(f"quarantined batch {POISONED_BATCH}" in s for s in r.course.containment_steps)
    assert r.course.recommendation is not None
    assert r.course.recommendation.startswith("retrain without suspects")
    markdown = render(r, "md").decode()
    assert "**Rollback or patch:** rollback: rolled fraud-detector back from v3 to v2" in markdown
    assert "no retrain, shadow or canary step has run yet" in markdown


def test_containment_is_measured_to_the_rollback_and_each_section_is_written_once(
    demo_record: DemoRecord,
) -> None:
    r = _report(demo_record)
    contained = _rollback_at(demo_record)
    assert r.course.contained.at == contained
    assert "rollback to v2 of fraud-detector by playbook:" in r.course.contained.evidence
    assert demo_record.promoted_v3 is not None
    ttc = (contained - demo_record.promoted_v3).total_seconds()  # type: ignore[operator]
    assert r.course.ttc_seconds == ttc > 0
    metrics = {m[0]: m[1] for m in r.metrics}
    assert metrics["Time to contain (TTC)"] == format_duration(ttc)
    assert dict(r.impact)["Duration of impact"] == format_duration(ttc)
    assert "still ongoing" not in " ".join(r.overview)
    assert "contained, with the cause still in place" in r.overview[-1]
    markdown = render(r, "md").decode()
    # The timeline is written once: the Response section summarises, it does not repeat it.
    assert markdown.count("playbook.step_started") == 0
    assert markdown.count("step started: rollback (attempt 1)") == 1
    pdf = PdfReader(io.BytesIO(render(r, "pdf")))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert "Requests served by v3" in text
    assert "Rollback or patch: rollback" in text
