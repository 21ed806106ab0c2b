"""Scoring from the store: which incidents a fault explains and which are false alarms."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from airsoc.clock import SimulatedClock
from airsoc.drills.runner import DEFAULT_START
from airsoc.drills.scenario import parse_scenario
from airsoc.drills.scoring import score_drill
from airsoc.errors import ConfigError
from airsoc.incidents.service import declare_incident
from airsoc.settings import Settings
from airsoc.store import Store

SCENARIO = {
    "name": "poisoned-release",
    "fleet": {"systems": ["fraud-detector"]},
    "traffic": {
        "duration": "2d",
        "step": "1h",
        "streams": [{"system": "fraud-detector", "client": "checkout", "rate": 100}],
    },
    "injects": [
        {
            "id": "vendor",
            "at": "12h",
            "kind": "vendor_poisoning",
            "params": {"vendor": "acme-data", "pattern": {"merchant_category": "electronics"}},
        }
    ],
    "expectations": {
        "incident": {"failure_mode": "release_regression", "system": "fraud-detector"}
    },
}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(Settings.resolve(data_dir=tmp_path / "data", environ={}))
    yield s
    s.close()


def _declare(store: Store, declared: list[tuple[int, str, str | None]]) -> None:
    """Declare each (hours after the start, failure mode, severity) on the fraud detector."""
    clock = SimulatedClock(DEFAULT_START)
    with store.transaction() as s:
        for hours, mode, severity in declared:
            clock.set(DEFAULT_START + timedelta(hours=hours))
            declare_incident(
                s,
                clock=clock,
                actor="monitor",
                system="fraud-detector",
                failure_mode=mode,
                severity=severity,
                summary=f"{mode} at {hours}h",
            )


def test_an_incident_whose_mode_the_fault_cannot_cause_is_a_false_alarm(store: Store) -> None:
    """After a poisoned release, a regression is explained; an evasion attack blamed on the
    honest client is not, nor is anything declared before the fault."""
    scenario = parse_scenario(yaml.safe_dump(SCENARIO), source="poisoned-release.yaml")
    _declare(
        store,
        [
            (2, "release_regression", None),
            (20, "release_regression", None),
            (21, "adversarial_evasion", None),
        ],
    )
    card = score_drill(
        scenario,
        store=store,
        started_at=DEFAULT_START,
        ended_at=DEFAULT_START + timedelta(days=2),
    )
    assert [(i.failure_mode, i.explained_by) for i in card.incidents] == [
        ("release_regression", None),
        ("release_regression", "vendor"),
        ("adversarial_evasion", None),
    ]
    assert card.false_alarms == 2
    assert not card.passed
    assert any("2 incident(s) no fault explains" in r for r in card.reasons)


def test_other_incidents_are_scored_at_their_own_severity(store: Store) -> None:
    """A fault may raise more than one incident: each expected one must be declared, and with
    ``exactly: true`` at that severity and not a more severe one."""
    spec = {
        **SCENARIO,
        "expectations": {
            "incident": {"failure_mode": "release_regression"},
            "other_incidents": [
                {"failure_mode": "data_poisoning", "severity": "sev4", "exactly": True},
                {"failure_mode": "concept_drift", "within": "1h"},
            ],
        },
    }
    scenario = parse_scenario(yaml.safe_dump(spec), source="poisoned-release.yaml")
    _declare(store, [(13, "release_regression", "sev2"), (14, "data_poisoning", "sev2")])
    card = score_drill(
        scenario, store=store, started_at=DEFAULT_START, ended_at=DEFAULT_START + timedelta(days=2)
    )
    assert not card.passed
    assert card.false_alarms == 0
    assert "INC-2 is sev2; expected exactly sev4" in card.reasons
    assert "no concept_drift incident was declared after the first fault" in card.reasons
    steps = {s.expected: s.taken for s in card.steps}
    assert steps["data_poisoning incident at exactly sev4"] == "INC-2 (sev2)"
    assert steps["concept_drift incident"] is None


def test_exactly_needs_a_severity() -> None:
    spec = {
        **SCENARIO,
        "expectations": {
            "incident": {"failure_mode": "release_regression"},
            "other_incidents": [{"failure_mode": "data_poisoning", "exactly": True}],
        },
    }
    with pytest.raises(ConfigError, match="exactly: true needs a severity"):
        parse_scenario(yaml.safe_dump(spec), source="poisoned-release.yaml")
