"""Grounding as a fact check: each case is a failure the citation-matching checker had."""

from __future__ import annotations

import pytest

from airsoc.detection.llm.facts import extract_facts, normalize_facts
from airsoc.detection.llm.grounding import (
    DocumentIndex,
    GroundingChecker,
    RetrievedChunk,
    extract_answer,
)

INDEX = DocumentIndex.from_records(
    [
        {
            "id": "POL-CS-004",
            "title": "Support hours and channels",
            "version": "2",
            "sections": {
                "3": "Chat support is open from 8:00 to 20:00 Central European Time on weekdays."
            },
        },
        {
            "id": "POL-SEC-002",
            "title": "Incident reporting",
            "version": "3",
            "sections": {
                "1": "Suspected security incidents are reported to the security team within 1 hour "
                "of discovery."
            },
        },
        {
            "id": "POL-HR-001",
            "title": "Annual leave",
            "version": "4",
            "sections": {
                "1": "Full-time employees receive 28 days of paid annual leave per year.",
                "3": "Leave requests are approved by the line manager at least 2 weeks in advance "
                "for periods longer than 5 days.",
            },
        },
        {
            "id": "POL-HR-002",
            "title": "Parental leave",
            "version": "3",
            "sections": {
                "3": "Employees can return part-time at 60 percent for up to 6 months after "
                "parental leave."
            },
        },
        {
            "id": "POL-CS-002",
            "title": "Cancellation policy",
            "version": "2",
            "sections": {
                "2": "Cancellation takes effect at the end of the current billing period and no "
                "cancellation fee is charged."
            },
        },
    ]
)


def chunk(doc: str, section: str) -> RetrievedChunk:
    document = INDEX.get(doc)
    assert document is not None
    return RetrievedChunk(doc, document.sections[section], section)


@pytest.fixture(scope="module")
def checker() -> GroundingChecker:
    return GroundingChecker(INDEX)


@pytest.mark.parametrize(
    ("answer", "chunks"),
    [
        ("Our chat is open from 8 am to 8 pm CET on weekdays.", [("POL-CS-004", "3")]),
        (
            "Full-time staff get twenty-eight days of paid leave a year, and leave longer than "
            "five days is approved by the line manager at least two weeks in advance.",
            [("POL-HR-001", "1"), ("POL-HR-001", "3")],
        ),
        (
            "Sure! Security incidents go to the security team within one hour of discovery. "
            "I hope this helps! Let me know if you have any other questions.",
            [("POL-SEC-002", "1")],
        ),
        (
            "Chat support hours are 8:00-20:00 CET (see the Support hours policy).",
            [("POL-CS-004", "3")],
        ),
    ],
)
def test_correct_paraphrases_pass(
    checker: GroundingChecker, answer: str, chunks: list[tuple[str, str]]
) -> None:
    verdict = checker.check(answer, [chunk(*c) for c in chunks])
    assert verdict.decision == "ok", verdict.evidence["issues"]


@pytest.mark.parametrize(
    ("answer", "chunks", "kind"),
    [
        (
            "Security incidents are reported to the security team within four hours.",
            ("POL-SEC-002", "1"),
            "altered_number",
        ),
        (
            "Leave requests are approved by the line manager at least 2 weeks in advance for "
            "periods shorter than 5 days.",
            ("POL-HR-001", "3"),
            "altered_condition",
        ),
        (
            "Cancellation takes effect at the end of the billing period and a cancellation fee is "
            "charged.",
            ("POL-CS-002", "2"),
            "negation_mismatch",
        ),
        (
            "Leave requests are approved by the finance team at least 2 weeks in advance for "
            "periods longer than 5 days.",
            ("POL-HR-001", "3"),
            "altered_role",
        ),
        (
            "Employees can return part-time at 60 percent for up to 6 weeks after parental leave.",
            ("POL-HR-002", "3"),
            "altered_unit",
        ),
        (
            "Chat support is open from 8 am to 6 pm CET on weekdays.",
            ("POL-CS-004", "3"),
            "altered_time",
        ),
    ],
)
def test_changed_facts_alarm(
    checker: GroundingChecker, answer: str, chunks: tuple[str, str], kind: str
) -> None:
    verdict = checker.check(answer, [chunk(*chunks)])
    assert verdict.decision == "drift"
    assert kind in verdict.evidence["issue_kinds"], verdict.evidence["issues"]


def test_an_invented_free_text_policy_alarms(checker: GroundingChecker) -> None:
    answer = (
        "Full-time employees receive 28 days of paid annual leave per year. Under the Flexible "
        "Sabbatical Policy you can also take 3 extra months unpaid."
    )
    verdict = checker.check(answer, [chunk("POL-HR-001", "1")])
    assert verdict.decision == "drift"
    cited = [i for i in verdict.evidence["issues"] if i["kind"] == "fabricated_citation"]
    assert cited[0]["citation"] == "Flexible Sabbatical Policy"


@pytest.mark.parametrize(
    ("answer", "doc_id"),
    [
        ("Leave is explained in policy HB-7/2.", "HB-7/2"),
        ("See KB-1042 for details.", "KB-1042"),
        ("Per document FIN_2024_07, refunds are due.", "FIN_2024_07"),
    ],
)
def test_citations_in_any_form_are_checked(
    checker: GroundingChecker, answer: str, doc_id: str
) -> None:
    assert doc_id in [c.doc_id for c in extract_answer(answer).citations]
    verdict = checker.check(answer, [chunk("POL-HR-001", "1")])
    assert "fabricated_citation" in verdict.evidence["issue_kinds"]


def test_a_single_unsupported_sentence_among_grounded_ones_alarms(
    checker: GroundingChecker,
) -> None:
    answer = (
        "Full-time employees receive 28 days of paid annual leave per year. Leave longer than 5 "
        "days is approved by the line manager at least 2 weeks in advance. Unused leave is paid "
        "out in cash every December."
    )
    verdict = checker.check(answer, [chunk("POL-HR-001", "1"), chunk("POL-HR-001", "3")])
    assert verdict.decision == "drift"
    assert [s["supported"] for s in verdict.evidence["sentences"]] == [True, True, False]


def test_normalisation_of_numbers_times_dates_and_units() -> None:
    assert normalize_facts("four hours from 8 am until 8 pm") == "4 hours from 08:00 until 20:00"
    assert normalize_facts("by March 31st or 1 April") == "by --03-31 or --04-01"
    facts = extract_facts("Up to 5 wks and 20 EUR, not after noon.")
    assert facts.quantities == {("5", "week"), ("20", "euro")}
    assert facts.times == {"12:00"}
    assert facts.negated
    assert {"up to", "after"} <= facts.comparators
