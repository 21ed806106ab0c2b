"""The playbook format: located errors, whole-file rejection, matching, shipped defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from airsoc.errors import ConfigError
from airsoc.incidents.taxonomy import FAILURE_MODES
from airsoc.response.playbooks import default_playbooks, load_playbooks, parse_playbook
from airsoc.response.registry import default_registry


def issues(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_playbook(text, registry=default_registry(plugins=False))
    return [f"{i.loc}: {i.message}" for i in info.value.issues]


def test_every_error_is_reported_with_its_location() -> None:
    found = issues(
        """
name: bad
on: {failure_mode: data_poisoning}
steps:
  - id: contain
    action: rollback
    with: {system: "{{ incident.system }}", speed: fast}
    approval: {role: janitor}
  - id: q
    action: quarantine_batch
    foreach: "{{ steps.later.batches }}"
    with: {batch: "{{ item }}"}
  - id: later
    action: set_canary
    with: {version: v2, percent: 250}
    when: "item.score > 0.9"
  - id: contain
    action: notify
    on_failure: explode
"""
    )
    joined = "\n".join(found)
    assert "steps[0].approval.role: unknown role 'janitor'" in joined
    assert "steps[2].on_failure.then" in joined or "steps[3].on_failure.then" in joined
    # Schema errors come first; a file with them is not checked further.
    semantic = issues(
        """
name: bad
steps:
  - id: contain
    action: rollback
    with: {system: "{{ incident.system }}", speed: fast}
  - id: q
    action: quarantine_batch
    foreach: "{{ steps.later.batches }}"
    with: {batch: "{{ item }}"}
  - id: later
    action: set_canary
    with: {version: v2, percent: 250}
    when: "item.score > 0.9"
  - id: contain
    action: nope
"""
    )
    assert semantic == [
        "steps[0].with.speed: unknown parameter of rollback; known: system, to",
        "steps[1].foreach: reads steps.later, which does not run before it",
        "steps[2].when: unknown name(s) item; use incident, run, steps",
        "steps[2].with.percent: Input should be less than or equal to 100",
        "steps[3].id: duplicate step id",
        "steps[3].action: unknown action 'nope'; known: "
        + ", ".join(default_registry(plugins=False).names()),
    ]


def test_missing_required_parameter_and_bad_yaml() -> None:
    assert issues("name: x\nsteps: [{id: a, action: set_severity}]") == [
        "steps[0].with.severity: missing parameter"
    ]
    assert issues("name: x\nsteps: [{id: a, action: rollback\n")[0].startswith("line ")


def test_a_bad_file_rejects_the_whole_set(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: a\nsteps: [{id: s, action: capture_evidence}]\n")
    (tmp_path / "b.yaml").write_text("name: b\nsteps: [{id: s, action: nope}]\n")
    with pytest.raises(ConfigError) as info:
        load_playbooks(["*.yaml"], base_dir=tmp_path)
    assert [i.loc for i in info.value.issues] == [f"{tmp_path / 'b.yaml'}: steps[0].action"]
    with pytest.raises(ConfigError, match="matches no file"):
        load_playbooks(["none/*.yaml"], base_dir=tmp_path)


def test_matching_on_failure_mode_severity_system_and_labels() -> None:
    pb = parse_playbook(
        "name: m\non: {failure_mode: [prompt_injection, harmful_output], severity: sev1,"
        " labels: {team: llm}}\nsteps: [{id: a, action: capture_evidence}]"
    )
    base = {
        "failure_mode": "prompt_injection",
        "severity": "sev1",
        "system": "bot",
        "labels": {"team": "llm"},
    }
    assert pb.applies_to(base)
    assert not pb.applies_to({**base, "severity": "sev2"})
    assert not pb.applies_to({**base, "labels": {}})
    assert not pb.applies_to({**base, "failure_mode": "data_drift"})


def test_one_shipped_playbook_per_failure_mode_named_as_the_taxonomy_says() -> None:
    shipped = {p.name: p for p in default_playbooks()}
    for mode in FAILURE_MODES.values():
        playbook = shipped[mode.default_playbook]
        assert playbook.on.failure_mode == mode.name
        assert playbook.description
