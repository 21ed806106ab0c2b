"""``airsoc routes show|test`` and ``airsoc config check`` on routes, receivers and playbooks."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from airsoc.testing import CliResult

CONFIG = """
routes:
  receiver: ml-oncall
  group_by: [system, failure_mode]
  routes:
    - matchers: ['severity =~ "sev1|sev2"']
      receiver: pager
      continue: true
    - matchers: [system = fraud-detector]
      receiver: risk
receivers:
  ml-oncall: {slack: {webhook_url_env: SLACK_WEBHOOK_URL}}
  pager: {pagerduty: {routing_key_env: PD_ROUTING_KEY}}
  risk: {webhook: {url: "http://127.0.0.1:9/hook"}}
"""


def test_routes_test_prints_the_receivers_a_label_set_reaches(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    (tmp_path / "airsoc.yaml").write_text(CONFIG)
    result = cli("routes", "test", "severity=sev1", "system=fraud-detector")
    assert (result.exit_code, result.stdout.strip()) == (0, "pager,risk")
    assert cli("routes", "test", "severity=sev4").stdout.strip() == "ml-oncall"
    bad = cli("routes", "test", "severity")
    assert bad.exit_code == 1
    assert "not key=value" in bad.stderr


def test_routes_show_prints_the_tree_with_inherited_values(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    (tmp_path / "airsoc.yaml").write_text(CONFIG)
    result = cli("routes", "show")
    lines = result.stdout.splitlines()
    assert lines[0].startswith("* -> ml-oncall group_by=[system, failure_mode] wait=30s")
    assert lines[1].startswith('  {severity=~"sev1|sev2"} -> pager group_by=[system, failure_mode]')
    assert lines[1].endswith("continue")
    nodes = json.loads(cli("routes", "show", "--json").stdout)
    assert [(n["depth"], n["receiver"]) for n in nodes] == [
        (0, "ml-oncall"),
        (1, "pager"),
        (1, "risk"),
    ]


def test_config_check_rejects_the_whole_file_with_every_location(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    (tmp_path / "playbooks").mkdir()
    (tmp_path / "playbooks" / "bad.yaml").write_text(
        "name: bad\nsteps:\n  - id: a\n    action: rollbak\n  - id: b\n    action: notify\n"
        "    with: {receiver: x, colour: red}\n"
    )
    (tmp_path / "airsoc.yaml").write_text(
        CONFIG.replace("receiver: risk", "receiver: nobody")
        + "playbooks: [playbooks/*.yaml]\nmonitors:\n  - {name: m, system: s, detector: d, "
        "window: 1h, every: 2x}\n"
    )
    result = cli("config", "check", "airsoc.yaml")
    assert result.exit_code == 1
    assert "monitors[0].every" in result.stderr
    ok = (tmp_path / "airsoc.yaml").read_text().replace("every: 2x", "every: 15m")
    (tmp_path / "airsoc.yaml").write_text(ok)
    result = cli("config", "check", "airsoc.yaml")
    assert result.exit_code == 1
    assert "routes.routes[1].receiver: unknown receiver" in result.stderr
    assert "playbooks/bad.yaml: steps[0].action: unknown action 'rollbak'" in result.stderr
    assert "playbooks/bad.yaml: steps[1].with.colour: unknown parameter of notify" in result.stderr
    (tmp_path / "airsoc.yaml").write_text(CONFIG)
    result = cli("config", "check", "airsoc.yaml")
    assert result.exit_code == 0, result.stderr
    assert "0 playbooks" in result.stdout
