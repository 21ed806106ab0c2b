"""airsoc.yaml validation: whole-file, located errors, unknown keys rejected."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from airsoc.errors import ConfigError
from airsoc.runtime.config import STARTER_CONFIG, load_checked_config, load_config, parse_config

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


def test_a_file_that_defines_nothing_is_refused() -> None:
    for text in ("", "# all commented out\n", "systems: {}\nmonitors: []\n"):
        with pytest.raises(ConfigError, match="defines nothing"):
            parse_config(text)


def test_monitors_missing_what_their_detector_needs_are_located(tmp_path: Path) -> None:
    path = tmp_path / "airsoc.yaml"
    path.write_text(
        "systems: {bot: {kind: rag-app, owner: cx}}\n"
        "monitors:\n"
        "  - {name: lat, system: bot, detector: threshold, window: 1h, every: 5m}\n"
        "  - {name: hc, system: bot, detector: hallucination_cascade, window: 1h, every: 5m}\n"
        "  - {name: ghost, system: bot, detector: nosuchdetector, window: 1h, every: 5m}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_checked_config(path)
    found = {(i.loc, i.value) for i in caught.value.issues}
    assert ("monitors[0].metric", None) in found
    assert ("monitors[1].reference.documents", None) in found
    assert ("monitors[2].detector", "nosuchdetector") in found


def test_an_alias_bomb_is_refused_with_a_short_error() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    bomb = "\n".join([*levels, "monitors: *i"])
    assert len(bomb) < 600
    with pytest.raises(ConfigError) as caught:
        parse_config(bomb)
    assert len(str(caught.value)) < 300


@pytest.mark.parametrize(
    ("text", "loc", "value"),
    [
        ("telemetry: {on_full: drop}", "telemetry.on_full", "'drop'"),
        ("telemetry: {queue_size: 0}", "telemetry.queue_size", "0"),
        ("telemetry: {retry_max: 0s}", "telemetry.retry_max", "'0s'"),
        ("telemetry: {colour: red}", "telemetry.colour", "'red'"),
    ],
)
def test_a_bad_telemetry_policy_is_located(text: str, loc: str, value: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="airsoc.yaml")
    assert f"airsoc.yaml: {loc}: " in str(info.value)
    assert f"(got {value})" in str(info.value)


def test_the_telemetry_policy_becomes_the_event_log_options() -> None:
    config = parse_config("telemetry: {on_full: refuse, queue_size: 500, retry_max: 250ms}")
    assert config.telemetry.log_options() == {
        "on_full": "refuse",
        "max_pending": 500,
        "retry_max": 0.25,
        "retry_initial": 0.05,
    }
    default = parse_config("receivers: {a: {}}").telemetry
    assert (default.on_full, default.queue_size) == ("keep_serving", 200_000)
