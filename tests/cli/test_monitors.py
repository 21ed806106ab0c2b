"""``airsoc monitors list|run --once`` on a telemetry file."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from airsoc.testing import CliResult

CONFIG = """
systems:
  bot: {kind: llm-app, owner: support}
monitors:
  - name: bot-latency
    system: bot
    detector: threshold
    metric: latency_ms
    thresholds: {max: 800}
    window: 1h
    window_kind: sliding
    every: 5m
    failure_mode: harmful_output
routes: {receiver: ops}
receivers:
  ops: {webhook: {url: "http://127.0.0.1:9/unused", max_attempts: 1}}
incident_rules:
  - when: 'monitor == "bot-latency"'
    severity: sev3
"""


def test_run_once_raises_an_alert_and_declares_an_incident(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    (tmp_path / "airsoc.yaml").write_text(CONFIG)
    now = datetime.now(UTC)
    lines = [
        json.dumps(
            {"system": "bot", "ts": (now - timedelta(minutes=i)).isoformat(), "latency_ms": 1200}
        )
        for i in range(1, 20)
    ]
    (tmp_path / "tel.jsonl").write_text("\n".join(lines))
    result = cli("monitors", "run", "--once", "--telemetry", "tel.jsonl", "--json")
    assert result.exit_code == 0, result.stderr
    (run,) = json.loads(result.stdout)
    assert run["breached"] is True
    assert run["verdicts"][0]["statistic"] == 1200
    alerts = json.loads(cli("alerts", "list", "--json").stdout)
    assert alerts[0]["labels"]["monitor"] == "bot-latency"
    assert alerts[0]["silenced_by"] == []
    cli("silences", "add", "monitor=bot-latency", "--comment", "known slow backend")
    silenced = json.loads(cli("alerts", "list", "--json").stdout)
    assert len(silenced[0]["silenced_by"]) == 1
    incidents = json.loads(cli("incidents", "list", "--json").stdout)
    assert [(i["failure_mode"], i["severity"]) for i in incidents] == [("harmful_output", "sev3")]
    listed = json.loads(cli("monitors", "list", "--json").stdout)
    assert listed[0]["last_decision"] == "drift"


def test_bad_telemetry_line_is_named(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    (tmp_path / "airsoc.yaml").write_text(CONFIG)
    (tmp_path / "tel.jsonl").write_text('{"system": "bot", "ts": "2026-01-01T00:00:00"}\nnope\n')
    result = cli("monitors", "run", "--once", "--telemetry", "tel.jsonl")
    assert result.exit_code == 1
    assert "tel.jsonl, line 2" in result.stderr
