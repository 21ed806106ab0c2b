"""The charter as data and Markdown: sections that are empty say so, measured times by severity."""

from __future__ import annotations

from datetime import timedelta

from airsoc.clock import SimulatedClock
from airsoc.incidents.service import declare_incident, transition_incident
from airsoc.reporting.charter import build_charter, render_charter_markdown
from airsoc.runtime.config import parse_config
from airsoc.store import Store


def test_an_almost_empty_configuration_says_what_is_missing() -> None:
    config = parse_config("systems: {bot: {kind: llm-app, owner: 'cx|ai'}}")
    text = render_charter_markdown(build_charter(config=config))
    assert "| bot | cx\\|ai | medium | llm-app | sev4 |" in text  # a pipe never breaks the table
    for missing in (
        "- No users yet.",
        "- No receiver is configured.",
        "No routing tree is configured: alerts are stored, not sent.",
        "- No escalation policy is configured.",
        "No monitor is configured.",
        "No playbook is configured.",
    ):
        assert missing in text, missing
    assert "| detection | SEV1 | 15 min | not measured yet |" in text


def test_slas_are_measured_per_severity_and_count_who_met_them(
    store: Store, clock: SimulatedClock
) -> None:
    for minutes in (30, 90):  # SEV2 containment target: 4 h by default, 1 h here
        with store.transaction() as s:
            inc = declare_incident(
                s,
                clock=clock,
                actor="system:monitor",
                system="fraud",
                failure_mode="data_poisoning",
                summary="labels flipped",
            )
        clock.advance(timedelta(minutes=minutes))
        with store.transaction() as s:
            transition_incident(
                s, clock=clock, incident_id=inc.id, to="contained", actor="dana", reason="done"
            )
    config = parse_config(
        "systems: {fraud: {kind: tabular-classifier, owner: risk}}\n"
        "governance: {slas: {containment: {sev2: 1h}}}\n"
    )
    with store.read() as s:
        charter = build_charter(config=config, session=s, now=clock.now())
    (row,) = [c for c in charter.slas if (c.measure, c.severity) == ("containment", "sev2")]
    assert (row.measured_seconds, row.incidents, row.met) == (3600.0, 2, 1)
    assert row.measured == "1 h (met 1 of 2)"
    (detection,) = [c for c in charter.slas if (c.measure, c.severity) == ("detection", "sev2")]
    assert detection.measured == "not measured yet"  # no start time known: never a made-up 0
