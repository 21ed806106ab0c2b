"""From drifted traffic to a rollback on the real components, end to end.

Two scikit-learn versions are registered with their training batches; v2 serves through the real
gateway (uvicorn on 127.0.0.1) and logs every answered row to the event log.

1. Drifted traffic sent through the gateway produces a ``data_drift`` verdict (the detection
   engine, judged against v2's training batches read from their Parquet files).
2. The alert reaches a Slack-format webhook server and an aiosmtpd SMTP server.
3. An incident is declared: sev2, data_drift, with its ATLAS tags.
4. The playbook runs and waits for approval; the requester cannot approve, a second user does.
5. The gateway rolls back to the last known-good v1: the next request is answered by v1.
6. The timeline shows every step in order with its actor, and ``airsoc audit verify`` passes.
7. The responders record the root cause and close the loop; the blameless post-mortem of this
   incident renders, with its charts, as Markdown, HTML and PDF.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader
from sklearn.linear_model import LogisticRegression

from airsoc import lineage
from airsoc.alerting.service import list_deliveries
from airsoc.clock import SimulatedClock
from airsoc.errors import PermissionDeniedError
from airsoc.incidents.findings import ChartData, ChartSeries, FindingIn, FindingKind, add_finding
from airsoc.incidents.service import (
    add_note,
    assign_role,
    get_incident,
    list_incidents,
    transition_incident,
)
from airsoc.monitoring.signals import list_signals
from airsoc.monitoring.sources import EventLogTelemetry
from airsoc.reporting.postmortems import create_postmortem
from airsoc.reporting.render import render
from airsoc.reporting.report import build_report
from airsoc.response.approvals import decide_approval, list_approvals
from airsoc.response.playbooks import parse_playbook
from airsoc.response.runs import list_runs, start_run
from airsoc.runtime.config import check_config, parse_config
from airsoc.runtime.loop import ResponseLoop
from airsoc.serving import Gateway, create_app
from airsoc.serving.testing import serve_in_thread
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.testing import CliResult
from airsoc.testing.receivers import http_sink, smtp_server

SYSTEM = "fraud-detector"
FEATURES = {"amount": "number", "hour": "number"}

CONFIG = """
systems:
  fraud-detector: {kind: tabular-classifier, owner: risk-ml, criticality: high}
monitors:
  - name: fraud-input-drift
    system: fraud-detector
    detector: data_drift
    window: 1h
    every: 15m
    reference: {model_version: production}
    severity: sev2
    thresholds: {p_value: 0.01}
routes:
  receiver: ml-oncall
  group_by: [system, failure_mode]
  group_wait: 30s
receivers:
  ml-oncall:
    slack: {webhook_url: "SLACK"}
    email:
      to: [oncall@example.com]
      from: airsoc@example.com
      smarthost: "SMTP"
      username: airsoc
      password_env: SMTP_PASSWORD
      ca_file: "CA"
incident_rules:
  - when: 'severity in ["sev1", "sev2"]'
    declare: true
"""

PLAYBOOK = """
name: drift-rollback
on: {failure_mode: data_drift}
steps:
  - id: evidence
    action: capture_evidence
    with: {window: 1d}
  - id: contain
    action: rollback
    with: {system: "{{ incident.system }}", to: last_known_good}
    approval: {role: deputy, timeout: 15m, on_timeout: abort}
"""


def _rows(rng: np.random.Generator, n: int, *, mean: float) -> pd.DataFrame:
    return pd.DataFrame({"amount": rng.normal(mean, 15, n), "hour": rng.uniform(0, 24, n)})


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _register(store: Store, clock: SimulatedClock, folder: Path) -> None:
    """Train v1 on one batch and v2 on two; v1 is known-good, v2 is about to serve."""
    rng = np.random.default_rng(11)
    batches = {name: _rows(rng, 1500, mean=100) for name in ("acme-1", "acme-2")}
    with store.transaction() as s:
        lineage.register_system(
            s, clock=clock, actor="alice", name=SYSTEM, kind="tabular-classifier", owner="risk"
        )
        for name, frame in batches.items():
            path = folder / f"{name}.parquet"
            frame.to_parquet(path)
            lineage.register_batch(
                s,
                clock=clock,
                actor="ingest",
                batch_id=name,
                source="acme",
                rows=len(frame),
                sha256=_sha256(path),
                schema=FEATURES,
                uri=str(path),
            )
        for version, used in (("v1", ["acme-1"]), ("v2", ["acme-1", "acme-2"])):
            data = pd.concat([batches[b] for b in used])
            labels = (data["amount"] > 110).astype(int)
            model = LogisticRegression(max_iter=500).fit(data[list(FEATURES)].to_numpy(), labels)
            path = folder / f"{version}.joblib"
            joblib.dump(model, path)
            lineage.register_model_version(
                s,
                clock=clock,
                actor="ci",
                system=SYSTEM,
                version=version,
                artifact_uri=str(path),
                sha256=_sha256(path),
                framework="sklearn",
                training_batches=used,
                input_schema=FEATURES,
            )
        lineage.mark_known_good(
            s, clock=clock, actor="alice", system=SYSTEM, version="v1", reason="holdout review"
        )


def _send(url: str, frame: pd.DataFrame) -> list[str]:
    """Send ``frame`` through the gateway, 100 rows a request; return the answering versions."""
    versions = []
    with httpx.Client(base_url=url, headers={"X-Client-ID": "checkout"}) as client:
        for start in range(0, len(frame), 100):
            rows = frame.iloc[start : start + 100].to_dict("records")
            answer = client.post(f"/v1/systems/{SYSTEM}/predict", json={"rows": rows})
            assert answer.status_code == 200, answer.text
            versions.append(answer.json()["version"])
    return versions


def _wait_for_primary(url: str, version: str) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        status = httpx.get(f"{url}/v1/status").json()
        if status["systems"][SYSTEM]["primary"] == version:
            return
        time.sleep(0.01)
    raise AssertionError(f"the gateway did not switch to {version}")


def test_drifted_traffic_to_rollback_on_the_real_gateway(
    tmp_path: Path, clock: SimulatedClock, cli: Callable[..., CliResult]
) -> None:
    store = Store.open(Settings.resolve(data_dir=tmp_path / "airsoc-data", environ={}))
    _register(store, clock, tmp_path)
    gateway = Gateway.open(store=store, clock=clock)
    gateway.promote(SYSTEM, "v2", actor="release-bot", reason="weekly release")
    assert gateway.event_log is not None
    log = gateway.event_log
    playbook = parse_playbook(PLAYBOOK)
    rng = np.random.default_rng(5)
    with (
        serve_in_thread(create_app(gateway)) as url,
        http_sink() as slack,
        smtp_server(tmp_path, user="airsoc", password="pw") as smtp,
    ):
        config = parse_config(
            CONFIG.replace('"SLACK"', slack.url + "/services/T0/B0/X")
            .replace('"SMTP"', f"{smtp.host}:{smtp.port}")
            .replace('"CA"', str(smtp.ca_file))
        )
        check_config(config)
        loop = ResponseLoop(
            config=config,
            playbooks=[],
            store=store,
            clock=clock,
            source=EventLogTelemetry(store=store),
            environ={"SMTP_PASSWORD": "pw"},
        )
        # An hour of ordinary traffic: the first run judges it and finds nothing.
        assert set(_send(url, _rows(rng, 600, mean=100))) == {"v2"}
        log.flush()
        clock.advance(timedelta(hours=1))
        report = loop.tick()
        assert [r.breached for r in report.monitor_runs] == [False], report.monitor_runs
        # 1. The next hour's amounts drift; the run at the next schedule raises the alarm.
        _send(url, _rows(rng, 600, mean=135))
        log.flush()
        clock.advance(timedelta(hours=1))
        report = loop.tick()
        (run_report,) = report.monitor_runs
        assert run_report.breached
        assert "amount" in {v.subject for v in run_report.verdicts if v.is_alarm}
        assert "hour" not in {v.subject for v in run_report.verdicts if v.is_alarm}
        with store.read() as s:
            signals = list_signals(s, monitor="fraud-input-drift")
        assert "drift" in {sig.decision for sig in signals if sig.subject == "amount"}
        amount = next(v for v in run_report.verdicts if v.subject == "amount")
        assert amount.n_reference == 3000  # v2's two training batches, read from Parquet
        # 2. After group_wait the alert goes to Slack and to email.
        clock.advance(timedelta(seconds=30))
        report = loop.tick()
        assert {n.receiver for n in report.notifications} == {"ml-oncall"}
        assert "data_drift on fraud-detector" in slack.requests[0].json()["text"]
        assert "Subject: [FIRING:1] data_drift on fraud-detector" in smtp.messages[0]["data"]
        with store.read() as s:
            assert {d.integration for d in list_deliveries(s)} == {"slack", "email"}
            # 3. An incident was declared from the group.
            (incident,) = list_incidents(s)
        assert (incident.severity, incident.failure_mode) == ("sev2", "data_drift")
        assert [t["id"] for t in incident.atlas_techniques] == ["AML.T0059"]
        assert incident.model_versions == ["v2"]  # the version that answered the drifted window
        # 4. The commander starts the playbook; it captures evidence and waits for approval.
        with store.transaction() as s:
            for role, person in (("incident_commander", "alice"), ("deputy", "bob")):
                assign_role(
                    s,
                    clock=clock,
                    incident_id=incident.id,
                    role=role,
                    person=person,
                    actor="alice",
                )
            start_run(
                s,
                clock=clock,
                playbook=playbook,
                incident_id=incident.id,
                started_by="alice",
                reason="input drift on the serving version",
            )
        loop.tick()
        with store.transaction() as s:
            (approval,) = list_approvals(s)
        assert (approval.requested_by, approval.status) == ("alice", "pending")
        assert _send(url, _rows(rng, 100, mean=100)) == ["v2"]  # nothing changed yet
        with store.transaction() as s, pytest.raises(PermissionDeniedError, match="four-eyes"):
            decide_approval(
                s, clock=clock, approval_id=approval.id, actor="alice", approve=True, reason="go"
            )
        clock.advance(timedelta(minutes=2))
        with store.transaction() as s:
            decide_approval(
                s,
                clock=clock,
                approval_id=approval.id,
                actor="bob",
                approve=True,
                reason="amounts shifted under v2; back to v1",
            )
        # 5. The next round rolls the gateway back; the next request is answered by v1.
        loop.tick()
        _wait_for_primary(url, "v1")
        assert _send(url, _rows(rng, 100, mean=100)) == ["v1"]
    gateway.close()
    # 7. Contain, record the root cause, and write the post-mortem in all three formats.
    _postmortem(store, clock, incident.id)
    # 6. The timeline has every step in order, each with its actor; the chains verify.
    with store.read() as s:
        detail = get_incident(s, incident_id=incident.id)
        (run,) = list_runs(s, incident_id=incident.id)
        routing = [
            (e.action, e.actor, e.reason)
            for e in lineage.system_timeline(s, name=SYSTEM)
            if e.action.startswith("routing.")
        ]
    store.close()
    assert run.status == "succeeded"
    actor = f"playbook:{run.id}"
    steps = [
        (e.action, e.actor, e.data.get("step"))
        for e in detail.timeline
        if e.action.startswith(("incident.declared", "incident.role", "playbook."))
    ]
    assert steps == [
        ("incident.declared", "system:incident-rules", None),
        ("incident.role_assigned", "alice", None),
        ("incident.role_assigned", "alice", None),
        ("playbook.started", "alice", None),
        ("playbook.step_started", actor, "evidence"),
        ("playbook.step_succeeded", actor, "evidence"),
        ("playbook.approval_requested", actor, "contain"),
        ("playbook.approval_granted", "bob", "contain"),
        ("playbook.step_started", actor, "contain"),
        ("playbook.step_succeeded", actor, "contain"),
        ("playbook.succeeded", actor, None),
    ]
    succeeded: dict[str, Any] = next(
        e.data
        for e in detail.timeline
        if e.action == "playbook.step_succeeded" and e.data.get("step") == "contain"
    )
    assert succeeded["output"] == {"system": SYSTEM, "from": "v2", "to": "v1"}
    assert routing == [
        ("routing.promote", "release-bot", "weekly release"),
        ("routing.rollback", actor, f"playbook run {run.id}, step contain, approved by bob"),
    ]
    verified = cli("audit", "verify")
    assert verified.exit_code == 0, verified.stderr
    assert verified.stdout.startswith("ok: "), verified.stdout


def _postmortem(store: Store, clock: SimulatedClock, incident_id: int) -> None:
    """Contain the incident, add the root cause, and render its post-mortem three ways."""
    with store.read() as s:
        signals = [
            sig for sig in list_signals(s, system=SYSTEM) if sig.monitor == "fraud-input-drift"
        ]
    clock.advance(timedelta(minutes=5))
    with store.transaction() as s:
        transition_incident(
            s,
            clock=clock,
            incident_id=incident_id,
            to="contained",
            actor="bob",
            reason="v1 serves again; amount distribution back to training range",
        )
        add_note(
            s,
            clock=clock,
            incident_id=incident_id,
            actor="alice",
            text="A merchant started sending amounts in cents; v2 saw 100x larger amounts.",
        )
        add_finding(
            s,
            clock=clock,
            incident_id=incident_id,
            actor="alice",
            finding=FindingIn(
                title="Transaction amounts shifted far outside v2's training range",
                kind=FindingKind.ROOT_CAUSE,
                detail="The data_drift monitor judged amount against v2's training batches.",
                recommendation="Validate the unit of amount at ingestion",
                chart=ChartData(
                    kind="line",
                    x=[f"{sig.at:%H:%M}" for sig in signals],
                    series=[
                        ChartSeries(
                            name="drift statistic", values=[sig.statistic or 0.0 for sig in signals]
                        )
                    ],
                    y_label="effect size",
                ),
            ),
        )
        create_postmortem(s, clock=clock, incident_id=incident_id, actor="alice")
    with store.read() as s:
        report = build_report(s, incident_id=incident_id, now=clock.now())
    out = {fmt: render(report, fmt) for fmt in ("md", "html", "pdf")}
    artifacts = Path(__file__).resolve().parents[1] / "test-artifacts" / "postmortem"
    artifacts.mkdir(parents=True, exist_ok=True)
    for fmt, data in out.items():
        (artifacts / f"end-to-end.{fmt}").write_bytes(data)
    markdown = out["md"].decode()
    for heading in (
        "## Overview",
        "## Impact",
        "## Timeline",
        "## Root cause and contributing factors",
        "## Detection",
        "## Response",
        "## What went well",
        "## What did not go well",
        "## Action items",
        "## Messaging",
        "## ATLAS and OWASP mapping",
        "## Metrics",
    ):
        assert heading in markdown, heading
    assert "Transaction amounts shifted far outside v2's training range" in markdown
    assert "Validate the unit of amount at ingestion" in markdown
    assert "AML.T0059" in markdown
    assert "bob" in markdown  # the approver appears in the response section
    assert out["html"].count(b"<svg") >= 2  # phase chart and the finding's chart
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(out["pdf"])).pages)
    assert "Root cause and contributing factors" in text
    assert "Validate the unit of amount at ingestion" in text
