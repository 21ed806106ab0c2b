"""The serious-incident reports, filled from the record, in Markdown and PDF; and the flag on a
change made before any evidence was captured."""

from __future__ import annotations

import io
from datetime import timedelta

from pypdf import PdfReader

from airsoc import lineage
from airsoc.clock import SimulatedClock
from airsoc.incidents.service import declare_incident
from airsoc.reporting.regulatory import changes_and_evidence, flag_serious, record_report
from airsoc.reporting.regulatory_report import build_regulatory_report, render_regulatory
from airsoc.reporting.report import build_report
from airsoc.serving.control import promote, rollback
from airsoc.store import Store
from tests.reporting.conftest import DemoRecord


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_the_demo_incident_reports_render_from_the_record(demo_record: DemoRecord) -> None:
    store, clock, iid = demo_record.store, demo_record.clock, demo_record.incident_id
    with store.transaction() as s:
        # The demo's airsoc.yaml places fraud-detector in the EU, counted in Berlin time.
        flag_serious(
            s, clock=clock, incident_id=iid, category="widespread_infringement",
            actor="demo-approver", reason="fraud blocks across one issuer's cards",
        )  # fmt: skip
    with store.read() as s:
        initial = build_regulatory_report(s, incident_id=iid, kind="initial", now=clock.now())
        changes = changes_and_evidence(s, incident_id=iid)
    # The playbook captured its evidence manifest before the rollback and the quarantine.
    assert [c.change.split(" ")[0] for c in changes] == [
        "set_source_trust",
        "routing.rollback",
        "quarantine_batch",
    ]
    assert all(c.evidence_before for c in changes)
    assert initial.changes_before_evidence == 0
    # 27 March 2026 09:xx UTC is 10:xx CET; 2 days on is Sunday 29 March, which ends in CEST.
    assert initial.serious.due_local == "2026-03-30 00:00 CEST (Europe/Berlin)"
    markdown = render_regulatory(initial, "md").decode()
    assert markdown.startswith("# Serious incident report (initial): data poisoning on ")
    for text in (
        "| AI system | fraud-detector |",
        "| Report due (2 calendar days) | 2026-03-30 00:00 CEST (Europe/Berlin) |",
        "| death | 2026-04-07 00:00 CEST (Europe/Berlin) |",
        "evidence-manifest.json",
        "Source brightline-data supplied poisoned training data",
        "rolled fraud-detector back from v3 to v2",
        "the promote of fraud-detector v3",
    ):
        assert text in markdown, text
    assert "changed before evidence" not in markdown
    with store.read() as s:
        postmortem = build_report(s, incident_id=iid, now=clock.now())
    assert postmortem.timeline[-1].text == (
        "Flagged as a serious incident (widespread infringement; report due 2026-03-29 22:00 "
        "UTC): fraud blocks across one issuer's cards."
    )
    text = _pdf_text(render_regulatory(initial, "pdf"))
    for words in ("Serious incident report (initial)", "Evidence before changes", "CEST"):
        assert words in text, words
    clock.advance(timedelta(minutes=30))
    with store.transaction() as s:
        record_report(s, clock=clock, incident_id=iid, kind="initial", actor="demo-approver")
    with store.read() as s:
        final = build_regulatory_report(s, incident_id=iid, kind="final", now=clock.now())
    assert final.serious.status == "initial report sent"
    text = _pdf_text(render_regulatory(final, "pdf"))
    assert "Serious incident report (final)" in text
    assert "initial report sent" in text


def test_a_change_made_before_any_evidence_is_flagged(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    with sqlite_store.transaction() as s:
        lineage.register_system(
            s, clock=clock, actor="ops", name="credit-scorer", kind="tabular-classifier",
            owner="risk",
        )  # fmt: skip
        for version in ("v1", "v2"):
            lineage.register_model_version(
                s, clock=clock, actor="ops", system="credit-scorer", version=version,
                artifact_uri=f"s3://models/{version}", sha256="a" * 64,
            )  # fmt: skip
        lineage.mark_known_good(
            s, clock=clock, actor="ops", system="credit-scorer", version="v1", reason="validated"
        )
        promote(s, clock=clock, actor="ops", system="credit-scorer", version="v2", reason="r")
    clock.advance(timedelta(hours=1))
    with sqlite_store.transaction() as s:
        inc = declare_incident(
            s, clock=clock, actor="dana", system="credit-scorer",
            failure_mode="fairness_regression", summary="approval gap widened",
        )  # fmt: skip
    clock.advance(timedelta(minutes=5))
    with sqlite_store.transaction() as s:
        # A responder rolls back at once, before anyone captured the evidence.
        rollback(s, clock=clock, actor="dana", system="credit-scorer", reason="stop the harm")
        flag_serious(
            s, clock=clock, incident_id=inc.id, category="other", actor="dana",
            reason="loans refused by group", time_zone="Europe/Dublin",
        )  # fmt: skip
    with sqlite_store.read() as s:
        (change,) = changes_and_evidence(s, incident_id=inc.id)
        report = build_regulatory_report(s, incident_id=inc.id, kind="initial", now=clock.now())
    assert change.change.startswith("routing.rollback (primary, serving v1): stop the harm")
    assert (change.evidence_before, change.actor) == (False, "dana")
    assert report.changes_before_evidence == 1
    markdown = render_regulatory(report, "md").decode()
    assert "**Flagged: 1 change(s) were made before any evidence was captured.**" in markdown
    assert "**no: changed before evidence**" in markdown
    assert "FLAGGED: 1 change(s)" in _pdf_text(render_regulatory(report, "pdf"))
