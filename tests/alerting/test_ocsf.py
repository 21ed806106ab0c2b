"""OCSF Detection Finding records for alerts and incidents validate against the 1.8.0 schema."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airsoc.alerting.notification import Notification
from airsoc.alerting.ocsf import (
    OCSF_VERSION,
    alert_finding,
    incident_finding,
    notification_findings,
)
from airsoc.errors import InputError
from airsoc.incidents.lifecycle import Phase
from airsoc.incidents.taxonomy import ATLAS_VERSION, FAILURE_MODES
from airsoc.monitoring.alerts import Alert

jsonschema_rs = pytest.importorskip("jsonschema_rs", reason="a JSON Schema validator is needed")

SCHEMA_PATH = Path(__file__).with_name("ocsf_detection_finding_1.8.0.schema.json")
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
EVIDENCE = [hashlib.sha256(b"window-1").hexdigest(), hashlib.sha256(b"batch-7").hexdigest()]


@pytest.fixture(scope="module")
def validator() -> Any:
    return jsonschema_rs.validator_for(json.loads(SCHEMA_PATH.read_text()))


def assert_valid(validator: Any, record: dict[str, Any]) -> None:
    errors = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(record)]
    assert not errors, errors
    json.dumps(record)  # plain JSON all the way down


def _alert(mode: str = "prompt_injection", **annotations: str) -> Alert:
    return Alert(
        labels={
            "system": "support-bot",
            "monitor": "support-bot-injection",
            "failure_mode": mode,
            "severity": "sev2",
            "model_version": "v3",
        },
        annotations={"summary": "Injected prompts in 4% of turns", **annotations},
        starts_at=T0,
    )


def test_the_schema_rejects_what_ocsf_rejects(validator: Any) -> None:
    record = alert_finding(_alert(), now=T0)
    assert_valid(validator, record)
    breakages: list[Callable[[dict[str, Any]], object]] = [
        lambda r: r["finding_info"].pop("uid"),
        lambda r: r.update(type_uid=200403),
        lambda r: r.update(severity_id=7),
        lambda r: r["ai_model"].pop("ai_provider"),
        lambda r: r.update(finding_status="new"),
    ]
    for breakage in breakages:
        broken = copy.deepcopy(record)
        breakage(broken)
        assert not validator.is_valid(broken)


@pytest.mark.parametrize("mode", sorted(FAILURE_MODES))
def test_every_failure_mode_gives_a_valid_finding_with_its_atlas_and_owasp_ids(
    validator: Any, mode: str
) -> None:
    record = alert_finding(_alert(mode), now=T0)
    assert_valid(validator, record)
    info = record["finding_info"]
    entry = FAILURE_MODES[mode]
    found = {a.get("sub_technique", a["technique"])["uid"] for a in info.get("attacks", [])}
    assert found == {t.id for t in entry.atlas}
    assert all(a["version"] == f"ATLAS {ATLAS_VERSION}" for a in info.get("attacks", []))
    for technique in entry.atlas:
        tactics = {
            a["tactic"]["name"]
            for a in info["attacks"]
            if a.get("sub_technique", a["technique"])["uid"] == technique.id
        }
        assert tactics == set(technique.tactics)
    for owasp in entry.owasp:
        assert f"{owasp.list} {owasp.version}: {owasp.id} {owasp.name}" in info["types"]
    assert {(o["id"], o["version"]) for o in record["unmapped"].get("owasp", [])} == {
        (o.id, o.version) for o in entry.owasp
    }


def test_an_alert_lifecycle_is_create_update_close_on_one_finding(validator: Any) -> None:
    alert = _alert(confidence="0.92", evidence=json.dumps(EVIDENCE))
    first = Notification.of(receiver="soc", group_key="g", group_labels={}, alerts=[alert], now=T0)
    repeat = Notification.of(
        receiver="soc",
        group_key="g",
        group_labels={},
        alerts=[alert],
        now=T0 + timedelta(hours=4),
        repeat=True,
    )
    ended = alert.resolved_at(T0 + timedelta(hours=5))
    closed = Notification.of(
        receiver="soc", group_key="g", group_labels={}, alerts=[ended], now=T0 + timedelta(hours=5)
    )
    records = [r for n in (first, repeat, closed) for r in notification_findings(n)]
    for record in records:
        assert_valid(validator, record)
    assert [r["activity_name"] for r in records] == ["Create", "Update", "Close"]
    assert [r["type_uid"] for r in records] == [200401, 200402, 200403]
    assert [r["status"] for r in records] == ["New", "In Progress", "Resolved"]
    assert {r["finding_info"]["uid"] for r in records} == {alert.fingerprint}
    assert len({r["metadata"]["uid"] for r in records}) == 3
    create = records[0]
    assert create["severity"] == "High"
    assert (create["confidence_id"], create["confidence_score"]) == (3, 92)
    assert [e["file"]["hashes"][0]["value"] for e in create["evidences"]] == EVIDENCE
    assert create["ai_model"] == {
        "model_name": "support-bot",
        "ai_provider": "Internal",
        "version": "v3",
    }
    assert create["metadata"]["version"] == OCSF_VERSION
    assert create["metadata"]["product"]["name"] == "airsoc"
    assert create["time"] == int(T0.timestamp() * 1000)
    assert records[2]["is_alert"] is False


def test_bad_evidence_hashes_are_refused() -> None:
    with pytest.raises(InputError, match="not a sha256"):
        alert_finding(_alert(evidence="abc"), now=T0)


def test_an_alert_without_system_or_mode_is_still_valid(validator: Any) -> None:
    record = alert_finding(Alert(labels={"monitor": "m"}, starts_at=T0), now=T0)
    assert_valid(validator, record)
    assert "ai_model" not in record
    assert record["severity_id"] == 0


@pytest.mark.parametrize("phase", [p.value for p in Phase])
def test_every_incident_phase_gives_a_valid_finding(validator: Any, phase: str) -> None:
    record = incident_finding(
        incident_id="42",
        phase=phase,
        severity="sev1",
        failure_mode="data_poisoning",
        title="Poisoned vendor batch in fraud-detector training data",
        system="fraud-detector",
        model_version="v7",
        remediation="Rolled back to v6 (last known good); batch vendor-2026-02 quarantined.",
        summary="Label disagreement in batch vendor-2026-02",
        declared_at=T0,
        evidence=EVIDENCE,
        confidence=0.6,
        alert_fingerprints=["0123456789abcdef"],
        now=T0 + timedelta(hours=2),
    )
    assert_valid(validator, record)
    assert record["finding_info"]["uid"] == "incident-42"
    assert record["remediation"]["desc"].startswith("Rolled back to v6")
    assert record["finding_info"]["related_events"][0]["uid"] == "0123456789abcdef"
    expected = {
        "detected": ("Create", "New"),
        "closed": ("Close", "Resolved"),
        "false_positive": ("Close", "Suppressed"),
        "merged": ("Close", "Archived"),
    }.get(phase, ("Update", "In Progress"))
    assert (record["activity_name"], record["status"]) == expected
    assert record["severity"] == "Critical"


def test_unknown_incident_phase_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown incident phase 'limbo'"):
        incident_finding(
            incident_id="1", phase="limbo", severity="sev3", failure_mode=None, title="t", now=T0
        )
