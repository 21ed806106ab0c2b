"""Scenarios: the built-ins are valid, and every problem in a file is named by file, key path
and line, by ``airsoc drill check`` (exit 2) as by the loader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from airsoc.drills.scenario import builtin_scenario_names, load_scenario, parse_scenario
from airsoc.errors import ConfigError, InputError
from airsoc.testing import CliResult

BAD = """\
name: broken
fleet: {systems: [fraud-detector]}
traffic:
  duration: 1d
  streams:
    - {system: fraud-detector, client: checkout, rate: 100}
injects:
  - id: shift
    at: 2h
    kind: covariate_shift
    params:
      system: fraud-detector
      feature: amount
      factr: 2
expectations: {no_incident: true}
"""


@pytest.mark.parametrize("name", builtin_scenario_names())
def test_every_builtin_scenario_is_valid(name: str) -> None:
    scenario = load_scenario(name)
    assert scenario.name == name
    assert scenario.fleet.systems
    assert scenario.traffic.streams or scenario.traffic.chat


def test_check_names_the_file_the_key_path_and_the_line(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BAD, encoding="utf-8")
    result = cli("drill", "check", str(path))
    assert result.exit_code == 2
    assert f"{path}: injects[0].params.factr (line 14): unknown key (got 2)" in result.stderr
    assert cli("drill", "check", "benign-week").exit_code == 0


def test_schema_errors_are_all_listed_with_their_lines() -> None:
    text = BAD.replace("rate: 100}", "rate: -1, colour: red}").replace("1d", "one day")
    with pytest.raises(ConfigError) as caught:
        parse_scenario(text, source="s.yaml")
    problems = [str(issue) for issue in caught.value.issues]
    assert any(p.startswith("traffic.duration (line 4): invalid duration") for p in problems)
    rate = "traffic.streams[0].rate (line 6): Input should be greater"
    assert any(p.startswith(rate) for p in problems)
    assert "traffic.streams[0].colour (line 6): unknown key (got 'red')" in problems


def test_unknown_kinds_and_faults_marked_benign_are_refused() -> None:
    unknown = BAD.replace("kind: covariate_shift", "kind: gremlins")
    with pytest.raises(ConfigError, match=r"injects\[0\].kind \(line 10\): unknown inject kind"):
        parse_scenario(unknown)
    benign_fault = BAD.replace("kind: covariate_shift", "kind: nulls\n    benign: true").replace(
        "feature: amount\n      factr: 2", "column: amount"
    )
    with pytest.raises(ConfigError, match=r"injects\[0\].benign \(line 11\): nulls is a fault"):
        parse_scenario(benign_fault)


def test_expectations_must_say_what_is_expected() -> None:
    with pytest.raises(ConfigError, match="expect an incident, or say no_incident: true"):
        parse_scenario(BAD.replace("{no_incident: true}", "{}"))
    with pytest.raises(ConfigError, match="after the end of the traffic"):
        parse_scenario(BAD.replace("at: 2h", "at: 2d"))


def test_an_unknown_scenario_name_lists_the_builtins() -> None:
    with pytest.raises(InputError, match=r"built-in: .*benign-week"):
        load_scenario("no-such-drill")


def test_an_escalation_is_expected_of_an_incident_only() -> None:
    base = "name: x\nfleet: {systems: [sentiment-model]}\ntraffic: {duration: 1h}\nexpectations:\n"
    card = parse_scenario(
        base + "  incident: {failure_mode: data_drift}\n"
        "  escalation: [{receiver: pager, level: 2, within: 1h}]\n"
    )
    assert card.expectations.escalation[0].level == 2
    with pytest.raises(ConfigError, match="no_incident: true cannot"):
        parse_scenario(base + "  no_incident: true\n  escalation: [{receiver: pager}]\n")
    with pytest.raises(ConfigError, match=r"escalation\[0\]\.level"):
        parse_scenario(
            base + "  incident: {failure_mode: data_drift}\n"
            "  escalation: [{receiver: pager, level: 0}]\n"
        )
