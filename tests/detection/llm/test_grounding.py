from __future__ import annotations

import pytest

from airsoc.detection.llm.grounding import (
    ApprovedDocument,
    DocumentIndex,
    GroundingChecker,
    RetrievedChunk,
    extract_answer,
)

DOC = ApprovedDocument.build(
    "POL-HR-001",
    "Annual leave",
    "4",
    {
        "1": "Full-time employees receive 28 days of paid annual leave per year.",
        "2": "Up to 5 unused days can be carried over and expire on 31 March.",
    },
    url="https://policies.example/pol-hr-001",
)
CHUNKS = [RetrievedChunk("POL-HR-001", DOC.sections[s], s, DOC.sha256) for s in ("1", "2")]


@pytest.fixture(scope="module")
def checker() -> GroundingChecker:
    return GroundingChecker(DocumentIndex([DOC]))


def test_grounded_answer_passes(checker: GroundingChecker) -> None:
    answer = (
        "Full-time employees get 28 days of paid annual leave per year (POL-HR-001 §1). "
        'Up to 5 unused days carry over: "Up to 5 unused days can be carried over" (POL-HR-001 v4).'
    )
    verdict = checker.check(answer, CHUNKS)
    assert verdict.decision == "ok", verdict.evidence["issues"]
    assert all(s["supported"] for s in verdict.evidence["sentences"])


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ("Employees receive 28 days of paid annual leave (POL-HR-077).", "fabricated_citation"),
        ("Employees receive 28 days of paid annual leave (POL-HR-001 §9).", "fabricated_citation"),
        ("Employees receive 28 days of paid annual leave (POL-HR-001 v2).", "stale_version"),
        ("Full-time employees receive 35 days of paid annual leave per year.", "altered_number"),
        ('The policy says "leave is unlimited for managers".', "fabricated_quote"),
        ("Managers may approve cash payouts for parking fines.", "unsupported_claim"),
        ("Details at https://evil.example/leave.", "unknown_url"),
    ],
)
def test_each_issue_kind_is_found(checker: GroundingChecker, answer: str, kind: str) -> None:
    verdict = checker.check(answer, CHUNKS)
    assert kind in verdict.evidence["issue_kinds"]
    assert verdict.decision != "ok"
    assert verdict.failure_mode == "hallucination_cascade"
    assert verdict.evidence["atlas"][0] == "AML.T0062"


def test_chunk_from_a_changed_document_is_stale(checker: GroundingChecker) -> None:
    tampered = RetrievedChunk("POL-HR-001", "Employees receive 60 days of leave.", "1", "0" * 64)
    verdict = checker.check("Employees receive 60 days of leave (POL-HR-001).", [tampered])
    assert "stale_version" in verdict.evidence["issue_kinds"]
    assert "AML.T0070" in verdict.evidence["atlas"]


def test_no_chunks_means_no_support(checker: GroundingChecker) -> None:
    verdict = checker.check("Employees receive 28 days of leave.", [])
    assert verdict.decision == "drift"
    assert checker.check("", CHUNKS).reason == "empty answer: nothing to check"


def test_extraction_skips_lookalike_codes() -> None:
    x = extract_answer("Data is encrypted with AES-256 per POL-SEC-005 section 1.")
    assert [c.doc_id for c in x.citations] == ["POL-SEC-005"]
    assert x.numbers == ["256"]


def test_megabyte_answer_is_checked_in_bounded_windows(checker: GroundingChecker) -> None:
    answer = "Full-time employees receive 28 days of paid annual leave per year. " * 20_000
    verdict = checker.check(answer + "See POL-HR-404.", CHUNKS)
    assert verdict.evidence["truncated"] is True
    assert "fabricated_citation" in verdict.evidence["issue_kinds"]
    assert "in windows" in verdict.reason


def _bot_messages() -> list[str]:
    """What the demo support bot says when it hands a conversation over or holds it."""
    from airsoc.clock import SimulatedClock
    from airsoc.fleet.rag.bot import SupportBot

    bot = SupportBot.demo(clock=SimulatedClock())
    asked = bot.answer("Can I talk to a human please?", session_id="s1")
    unknown = bot.answer("zqx wibble frobnicate", session_id="s2")
    assert asked.mode == unknown.mode == "handoff"
    return [asked.text, unknown.text, bot.answer("   ").text]


@pytest.mark.parametrize(
    "answer",
    [
        *_bot_messages(),
        "I can't help with that request. A colleague will review this conversation.",
        "I'm handing you over to a colleague who can help with this.",
        "One moment please, I'm looking into it.",
        "Hello! How can I help you today?",
        "Thanks for waiting! Let me transfer you to our billing team.",
        "Sorry for the wait, our agents are busy right now.",
    ],
)
def test_holding_and_handoff_messages_make_no_claim(checker: GroundingChecker, answer: str) -> None:
    verdict = checker.check(answer, CHUNKS)
    assert verdict.decision == "ok", verdict.evidence["issues"]
    assert verdict.evidence["sentences"] == []
    assert verdict.evidence["filler"] >= 1


@pytest.mark.parametrize(
    "answer",
    [
        "A colleague will call you back within 2 hours.",
        "I'm handing you over to a colleague. Managers may approve cash payouts for parking fines.",
        "One moment please. Employees receive 28 days of paid annual leave (POL-HR-077).",
    ],
)
def test_a_claim_beside_a_handoff_is_still_checked(checker: GroundingChecker, answer: str) -> None:
    assert checker.check(answer, CHUNKS).decision == "drift"


def test_the_same_answer_on_the_same_chunks_is_judged_once() -> None:
    from airsoc.detection.llm.grounding import (
        ApprovedDocument,
        DocumentIndex,
        GroundingChecker,
        RetrievedChunk,
    )

    doc = ApprovedDocument.build("POL-1", "Refunds", "1", {"1": "Refunds within 14 days."})
    checker = GroundingChecker(DocumentIndex([doc]))
    chunks = [RetrievedChunk("POL-1", doc.sections["1"], "1", doc.sha256)]
    first = checker.check("Refunds within 90 days (POL-1 §1).", chunks, subject="s1")
    second = checker.check("Refunds within 90 days (POL-1 §1).", chunks, subject="s2")
    assert (first.subject, second.subject) == ("s1", "s2")
    assert first.evidence["ms"] == second.evidence["ms"]  # remembered, not judged again
    assert first.decision == second.decision == "drift"
    other = checker.check("Refunds within 14 days (POL-1 §1).", chunks, subject="s3")
    assert other.decision == "ok"
