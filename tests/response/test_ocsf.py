"""OCSF out, end to end: every alert and incident transition becomes a valid Detection Finding,
delivered to Splunk HEC, TheHive and a signed webhook configured as receivers in airsoc.yaml."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airsoc.alerting.receivers import verify_webhook_signature
from airsoc.clock import SimulatedClock
from airsoc.incidents.service import list_incidents, transition_incident
from airsoc.monitoring.alerts import Alert
from airsoc.response.ocsf import export_incident_findings, incident_findings
from airsoc.runtime.config import load_checked_config
from airsoc.runtime.loop import ResponseLoop
from airsoc.store import Store
from airsoc.testing import CliResult
from airsoc.testing.receivers import HttpSink, http_sink
from tests.alerting.test_sinks import (
    HEC_TOKEN,
    HIVE_KEY,
    FakeServer,
    HecHandler,
    HiveHandler,
    _fake,
)

jsonschema_rs = pytest.importorskip("jsonschema_rs", reason="a JSON Schema validator is needed")

SCHEMA = json.loads(
    (
        Path(__file__).parents[1] / "alerting" / "ocsf_detection_finding_1.8.0.schema.json"
    ).read_text()
)
SECRET = "hook-secret"

CONFIG = """
routes:
  receiver: soc
  group_by: [system, failure_mode]
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 1h
receivers:
  soc:
    splunk_hec: {{url: "{hec}", token_env: HEC_TOKEN, index: ai_soc, max_attempts: 1}}
    thehive: {{url: "{hive}", api_key_env: THEHIVE_KEY, max_attempts: 1}}
    ocsf_webhook: {{url: "{hook}/ocsf", secret_env: HOOK_SECRET, max_attempts: 1}}
incident_rules:
  - when: 'failure_mode == "prompt_injection"'
    declare: true
playbooks: [playbooks/*.yaml]
"""

PLAYBOOK = """
name: injection-response
description: Confirm the injection and contain it.
on: {failure_mode: prompt_injection}
steps:
  - id: triage
    action: transition
    with: {to: triaged, reason: "injected turns confirmed"}
  - id: contain
    action: transition
    with: {to: contained, reason: "client blocked"}
"""


@pytest.fixture
def hec() -> Iterator[FakeServer]:
    yield from _fake(HecHandler)


@pytest.fixture
def hive() -> Iterator[FakeServer]:
    yield from _fake(HiveHandler)


@pytest.fixture
def hook() -> Iterator[HttpSink]:
    with http_sink() as sink:
        yield sink


def assert_valid(record: dict[str, Any]) -> None:
    validator = jsonschema_rs.validator_for(SCHEMA)
    errors = [f"{list(e.instance_path)}: {e.message}" for e in validator.iter_errors(record)]
    assert not errors, errors


def _alert(clock: SimulatedClock, *, ends: bool = False) -> Alert:
    alert = Alert(
        labels={
            "alertname": "support-bot-injection",
            "monitor": "support-bot-injection",
            "system": "support-bot",
            "failure_mode": "prompt_injection",
            "severity": "sev2",
            "model_version": "v3",
        },
        annotations={"summary": "Injected prompts in 4% of turns", "confidence": "0.9"},
        starts_at=clock.now(),
    )
    return alert.resolved_at(clock.now()) if ends else alert


def _hec_findings(hec: FakeServer) -> list[dict[str, Any]]:
    found = []
    for _method, _path, _headers, body in hec.requests:
        decoder, text, pos = json.JSONDecoder(), body.decode(), 0
        while pos < len(text):
            event, pos = decoder.raw_decode(text, pos)
            assert event["sourcetype"] == "ocsf:detection_finding"
            assert event["index"] == "ai_soc"
            found.append(event["event"])
    return found


def test_every_alert_and_incident_transition_reaches_the_siem_and_soar_as_ocsf(
    store: Store,
    clock: SimulatedClock,
    tmp_path: Path,
    hec: FakeServer,
    hive: FakeServer,
    hook: HttpSink,
) -> None:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "injection.yaml").write_text(PLAYBOOK)
    path = tmp_path / "airsoc.yaml"
    path.write_text(CONFIG.format(hec=hec.url, hive=hive.url, hook=hook.url))
    config, playbooks = load_checked_config(path)
    loop = ResponseLoop(
        config=config,
        playbooks=playbooks,
        store=store,
        clock=clock,
        environ={"HEC_TOKEN": HEC_TOKEN, "THEHIVE_KEY": HIVE_KEY, "HOOK_SECRET": SECRET},
    )
    assert [getattr(i, "kind", None) for i in loop.engine.receivers["soc"]] == [
        "ocsf_webhook",
        "splunk_hec",
        "thehive",
    ]

    # The alert fires: Create. The incident is declared and its playbook contains it.
    loop.engine.submit(_alert(clock))
    loop.tick(flush_now=True)
    # Two hours on it still fires: the repeat is an Update.
    first_seen = clock.now()
    clock.advance(timedelta(hours=2))
    loop.engine.submit(_alert(clock).model_copy(update={"starts_at": first_seen}))
    loop.tick()
    # It stops: Close.
    clock.advance(timedelta(minutes=5))
    loop.engine.submit(_alert(clock, ends=True).model_copy(update={"starts_at": first_seen}))
    clock.advance(timedelta(minutes=2))
    loop.tick()

    alert_records = [r for r in _hec_findings(hec) if r["finding_info"]["uid"] != "incident-1"]
    assert [r["activity_name"] for r in alert_records] == ["Create", "Update", "Close"]
    assert len({r["finding_info"]["uid"] for r in alert_records}) == 1
    for record in alert_records:
        assert_valid(record)
    # The signed webhook got the same findings, each request verifiable.
    hooked = []
    for request in hook.requests:
        assert verify_webhook_signature(
            SECRET.encode(),
            request.body,
            request.headers,
            now=int(request.headers["X-Airsoc-Timestamp"]) + 1,
        )
        hooked += request.json()["findings"]
    assert [r["activity_name"] for r in hooked if r in alert_records] == [
        "Create",
        "Update",
        "Close",
    ]
    # TheHive: one alert, created once and then updated (the repeat and the resolution).
    (stored,) = [a for a in hive.alerts.values() if not a["sourceRef"].startswith("incident-")]
    assert stored["sourceRef"] == alert_records[0]["finding_info"]["uid"]
    assert "resolved" in stored["tags"]
    patched = {p for m, p, _h, _b in hive.requests if m == "PATCH"}
    assert f"/api/v1/alert/{stored['_id']}" in patched

    # The incident: declared, triaged and contained by the playbook, then worked to closed.
    with store.read() as s:
        (incident,) = list_incidents(s)
    assert incident.phase == "contained"
    with store.transaction() as s:
        for to in ("recovered", "closed"):
            transition_incident(
                s, clock=clock, incident_id=incident.id, to=to, actor="ic", reason=f"{to} checked"
            )
    with store.read() as s:
        records = incident_findings(s, incident_id=incident.id, playbooks=playbooks)
    assert [(r["activity_name"], r["unmapped"]["phase"]) for r in records] == [
        ("Create", "detected"),
        ("Update", "triaged"),
        ("Update", "contained"),
        ("Update", "recovered"),
        ("Close", "closed"),
    ]
    for record in records:
        assert_valid(record)
        assert record["finding_info"]["uid"] == f"incident-{incident.id}"
        assert record["finding_info"]["related_events"][0]["uid"] == stored["sourceRef"]
        assert record["remediation"]["desc"].startswith(
            "Playbook injection-response (succeeded): Confirm the injection and contain it. "
            "Steps: triage (transition): succeeded; contain (transition): succeeded."
        )
    # The loop delivered each update to the same sinks as it happened: HEC got every one, the
    # webhook too, and TheHive keeps one alert for the incident.
    report = loop.tick()
    assert report.findings
    assert all(d.status == "delivered" for d in report.findings)
    sent = [r for r in _hec_findings(hec) if r["finding_info"]["uid"] == f"incident-{incident.id}"]
    assert sent == records
    assert [r for r in hooked if r not in alert_records] + [
        f for q in hook.requests[len(hook.requests) - 1 :] for f in q.json()["findings"]
    ] == records
    (incident_alert,) = [a for a in hive.alerts.values() if a["sourceRef"].startswith("incident-")]
    assert "resolved" in incident_alert["tags"]
    assert loop.tick().findings == []  # nothing new, nothing sent again


def test_export_ocsf_writes_an_incidents_records(cli: Any, tmp_path: Path) -> None:
    declared: CliResult = cli(
        "incidents",
        "declare",
        "--system",
        "support-bot",
        "--failure-mode",
        "prompt_injection",
        "--title",
        "Injected prompts",
        "--summary",
        "4% of turns",
    )
    assert declared.exit_code == 0, declared.stderr
    moved: CliResult = cli(
        "incidents", "transition", "1", "contained", "--reason", "client blocked"
    )
    assert moved.exit_code == 0, moved.stderr
    target = tmp_path / "inc-1.ocsf.json"
    done: CliResult = cli("export", "ocsf", "--incident", "1", "--output", str(target))
    assert done.exit_code == 0, done.stderr
    assert "wrote 2 OCSF records" in done.stdout
    records = json.loads(target.read_text())
    assert [r["activity_name"] for r in records] == ["Create", "Update"]
    for record in records:
        assert_valid(record)
    assert records[0]["remediation"]["desc"].startswith("Playbook prompt-injection (no run yet)")
    lines: CliResult = cli("export", "ocsf", "--incident", "1")
    assert json.loads(lines.stdout) == records
    missing: CliResult = cli("export", "ocsf", "--incident", "9")
    assert missing.exit_code != 0
    assert "incident 9" in missing.stderr


def test_a_jsonl_export_has_one_record_a_line(
    store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    from airsoc.incidents.service import declare_incident

    with store.transaction() as s:
        inc = declare_incident(
            s,
            clock=clock,
            title="Drift",
            system="fraud",
            failure_mode="data_drift",
            actor="airsoc",
            summary="PSI 0.4",
        )
    target = tmp_path / "out.jsonl"
    with store.read() as s:
        records, _ = export_incident_findings(s, incident_id=inc.id, playbooks=[], path=target)
    assert [json.loads(line) for line in target.read_text().splitlines()] == records
