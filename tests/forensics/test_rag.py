"""The RAG investigation on the demo support bot with one corrupted policy document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from airsoc.clock import SimulatedClock
from airsoc.detection.llm.turns import Turn
from airsoc.errors import InputError
from airsoc.fleet.rag.policies import policy_index
from airsoc.forensics.rag import RagInvestigation, investigate_rag, record_rag_findings
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.findings import list_findings
from airsoc.incidents.service import declare_incident
from airsoc.store import Store
from tests.forensics.rag_generators import RagWorld, rag_world


@pytest.fixture(scope="module")
def world() -> RagWorld:
    return rag_world(sessions=240, seed=1, reingest_share=0.2)


@pytest.fixture(scope="module")
def found(world: RagWorld) -> RagInvestigation:
    return investigate_rag(world.turns, approved=policy_index())


def test_the_corrupted_document_is_named_first_with_the_time_it_changed(
    world: RagWorld, found: RagInvestigation
) -> None:
    top = found.documents[0]
    assert top.doc_id == world.corrupted
    assert top.changed
    assert [d.doc_id for d in found.changed_documents] == [world.corrupted]
    assert top.approved_sha256 == policy_index().get(world.corrupted).sha256  # type: ignore[union-attr]
    assert top.approved_sha256 not in top.seen_sha256[1:]
    # The change is bounded by the last turn that saw the approved version and the first that
    # saw the changed one; the true time lies in between, and the bound is tight.
    assert top.last_seen_approved is not None
    assert top.changed_at is not None
    last_good = datetime.fromisoformat(top.last_seen_approved)
    first_bad = datetime.fromisoformat(top.changed_at)
    assert last_good < world.changed_at <= first_bad
    assert first_bad - last_good < timedelta(minutes=30)
    assert top.changed_sections == ["1", "2", "3"]
    assert top.score > 0.5
    assert all(d.score < 0.5 for d in found.documents[1:])


def test_the_affected_sessions_are_those_that_got_the_changed_document(
    world: RagWorld, found: RagInvestigation
) -> None:
    listed = {s.session_id for s in found.affected_sessions}
    assert listed == world.exposed_sessions
    assert all(world.corrupted in s.documents for s in found.affected_sessions)


def test_the_cascade_starts_at_the_change_and_its_feedback_loop_is_counted(
    world: RagWorld, found: RagInvestigation
) -> None:
    c = found.cascade
    assert c.started_at is not None
    assert (
        world.changed_at
        <= datetime.fromisoformat(c.started_at)
        < world.changed_at + timedelta(minutes=30)
    )
    assert c.ungrounded_rate_before < 0.02
    assert c.ungrounded_rate_after > 0.2
    assert c.sessions_per_hour > 1
    assert c.reingested_ungrounded > 0
    assert "stop re-ingesting" in found.recommendation


def test_findings_name_the_document_as_the_root_cause(
    sqlite_store: Store, found: RagInvestigation
) -> None:
    clock = SimulatedClock()
    with sqlite_store.transaction() as s:
        inc = declare_incident(
            s,
            clock=clock,
            actor="a",
            system="support-bot",
            failure_mode="hallucination_cascade",
            summary="refund answers wrong",
        )
        record_rag_findings(
            s,
            clock=clock,
            blobs=BlobStore(sqlite_store.settings.evidence_dir),
            incident_id=inc.id,
            investigation=found,
            actor="forensics",
        )
    with sqlite_store.read() as s:
        findings = list_findings(s, incident_id=inc.id)
    assert findings[0].kind.value == "root_cause"
    assert findings[0].data["subject"] == {"type": "document", "name": "POL-CS-001"}
    assert findings[0].data["window"]["end"] == found.documents[0].changed_at
    sessions = next(f for f in findings if f.data["subject"]["name"] == "sessions")
    assert len(sessions.data["affected_sessions"]) == len(found.affected_sessions)


def test_a_clean_log_names_no_document() -> None:
    world = rag_world(sessions=40, seed=2, change_after=2.0)
    found = investigate_rag(world.turns, approved=policy_index())
    assert found.ungrounded == 0
    assert not found.changed_documents
    assert not found.affected_sessions
    assert all(d.score < 0.5 for d in found.documents)


def test_no_turn_is_an_error() -> None:
    turns: list[Turn] = []
    with pytest.raises(InputError, match="turns: no turn"):
        investigate_rag(turns, approved=policy_index())


def test_a_changed_document_outranks_the_answers_fed_back_from_it() -> None:
    # The refund policy is retrieved all day; after it changes, its answers are fed back into
    # the index as an FAQ entry. Weighed on the answers that retrieved its changed version,
    # the changed document drives them as strongly as the FAQ entry, and it is the origin.
    from airsoc.detection.llm.grounding import ApprovedDocument, DocumentIndex
    from airsoc.detection.llm.turns import ChunkRef

    good = ApprovedDocument.build("POL-1", "Refunds", "1", {"1": "Refunds within 14 days."})
    bad = ApprovedDocument.build("POL-1", "Refunds", "1", {"1": "Refunds within 90 days."})
    other = ApprovedDocument.build("POL-2", "Backups", "1", {"1": "Backups kept 35 days."})
    faq = "Refunds within 90 days (POL-1 §1)."
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    turns = []
    for i in range(120):
        at = t0 + timedelta(minutes=5 * i)
        if i % 2:
            text = other.sections["1"]
            chunks = [ChunkRef(doc_id="POL-2", text=text, section="1", sha256=other.sha256)]
            turns.append(Turn(session_id=f"s{i}", at=at, answer=f"{text} (POL-2 §1).",
                              retrieved=chunks))  # fmt: skip
            continue
        doc = good if i < 80 else bad
        chunks = [ChunkRef(doc_id="POL-1", text=doc.sections["1"], section="1", sha256=doc.sha256)]
        if i >= 100:
            chunks = [ChunkRef(doc_id="FAQ-001", text=faq, section="1")]
        answer = f"{chunks[0].text} ({chunks[0].doc_id} §1)."
        turns.append(Turn(session_id=f"s{i}", at=at, answer=answer, retrieved=chunks))
    found = investigate_rag(turns, approved=DocumentIndex([good, other]))
    top, second = found.documents[:2]
    assert (top.doc_id, second.doc_id) == ("POL-1", "FAQ-001")
    assert top.changed
    assert not second.approved
    assert top.retrieved_by == 10  # its changed version, not the forty answers of before
    assert top.ungrounded_rate == 1.0
