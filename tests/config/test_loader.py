"""airsoc.yaml validation: whole-file, located errors, unknown keys rejected."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from airsoc.errors import ConfigError
from airsoc.runtime.config import STARTER_CONFIG, load_config, parse_config

DESIGN_EXAMPLE = """
systems:
  fraud-detector:
    kind: tabular-classifier
    owner: risk-ml
    criticality: high
    fallback: {type: rules, path: fallbacks/fraud_rules.py:score}
monitors:
  - name: fraud-input-drift
    system: fraud-detector
    detector: data_drift
    window: 1h
    reference: {model_version: production}
    every: 15m
routes:
  receiver: ml-oncall
  group_by: [system, failure_mode]
  routes:
    - matchers: [severity =~ "sev1|sev2"]
      receiver: pager
receivers:
  ml-oncall: {slack: {webhook_url_env: SLACK_WEBHOOK_URL}}
  pager: {pagerduty: {routing_key_env: PD_ROUTING_KEY}}
incident_rules:
  - when: 'failure_mode == "data_poisoning" or severity in ["sev1", "sev2"]'
    declare: true
playbooks: [playbooks/*.yaml]
"""


def test_design_example_validates() -> None:
    cfg = parse_config(DESIGN_EXAMPLE)
    assert cfg.monitors[0].window == timedelta(hours=1)
    assert cfg.monitors[0].every == timedelta(minutes=15)
    assert cfg.systems["fraud-detector"].fallback is not None


def test_starter_config_validates() -> None:
    assert "fraud-detector" in parse_config(STARTER_CONFIG).systems


def test_every_error_is_located() -> None:
    bad = DESIGN_EXAMPLE.replace("window: 1h", "window: 1 hour").replace(
        "criticality: high", "criticality: high\n    colour: red"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(bad, source="airsoc.yaml")
    locs = {i.loc: i.value for i in info.value.issues}
    assert locs == {"systems.fraud-detector.colour": "red", "monitors[0].window": "1 hour"}
    assert str(info.value).startswith("airsoc.yaml: ")


@pytest.mark.parametrize(
    ("text", "loc"),
    [
        ("systems: [a, b]", "systems"),
        ("- just a list", ""),
        ("systems: {a: {kind: spaceship, owner: x}}", "systems.a.kind"),
        ("monitors:\n  - {name: m, system: s, detector: d}", "monitors[0].window"),
        ("systems: {a: {kind: llm-app, owner: x}\n", "line 2, column 1"),
    ],
)
def test_malformed_configs(text: str, loc: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert info.value.issues[0].loc == loc


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: <root>: file not found"):
        load_config(tmp_path / "nope.yaml")
