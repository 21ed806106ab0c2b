"""``airsoc forensics drift|rag|fairness|clients|injection``, as scripts drive them."""

from __future__ import annotations

import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import yaml

from airsoc.incidents.findings import list_findings
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.testing import CliResult
from tests.forensics.drift_generators import event_log
from tests.forensics.rag_generators import rag_world
from tests.forensics.test_clients import prediction_log
from tests.forensics.test_fairness import applications
from tests.forensics.test_injection import CANARY, GUARDS
from tests.forensics.test_injection import turns as injection_turns

Cli = Callable[..., CliResult]


def _incident(cli: Cli, mode: str) -> int:
    declared = cli(
        "incidents", "declare", "--system", "shop", "--failure-mode", mode,
        "--summary", "something moved", "--json",
    )  # fmt: skip
    assert declared.exit_code == 0, declared.stderr
    return int(json.loads(declared.stdout)["id"])


def test_drift_calls_a_halved_event_a_pipeline_fault_and_records_it(
    cli: Cli, tmp_path: Path
) -> None:
    event_log(20_000, seed=1).to_parquet(tmp_path / "ref.parquet")
    event_log(20_000, seed=2, click_kept=0.5).to_parquet(tmp_path / "cur.parquet")
    inc = _incident(cli, "data_drift")
    result = cli(
        "forensics", "drift", "--reference", "ref.parquet", "--current", "cur.parquet",
        "--event-column", "event", "--label-column", "label", "--prediction-column",
        "prediction", "--incident", str(inc), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["classification"] == "pipeline_fault"
    assert body["recommendation"]["action"] == "fix_pipeline"
    store = Store.open(Settings.resolve(data_dir=tmp_path / "airsoc-data", environ={}))
    try:
        with store.read() as s:
            findings = list_findings(s, incident_id=inc)
    finally:
        store.close()
    assert findings[0].kind.value == "root_cause"
    assert findings[0].title.startswith("Pipeline fault, not drift: click")


def test_drift_names_a_missing_file(cli: Cli) -> None:
    result = cli("forensics", "drift", "--reference", "nope.csv", "--current", "nope.csv")
    assert result.exit_code == 1
    assert "nope.csv" in result.stderr


def test_rag_names_the_changed_document_and_the_sessions(cli: Cli, tmp_path: Path) -> None:
    world = rag_world(sessions=80, seed=3)
    lines = "\n".join(t.model_dump_json() for t in world.turns)
    (tmp_path / "turns.jsonl").write_text(lines, encoding="utf-8")
    policies = resources.files("airsoc.fleet.rag") / "policies.yaml"
    (tmp_path / "policies.yaml").write_text(policies.read_text(encoding="utf-8"))
    result = cli(
        "forensics", "rag", "--turns", "turns.jsonl", "--documents", "policies.yaml", "--json"
    )
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["documents"][0]["doc_id"] == world.corrupted
    assert body["documents"][0]["changed_at"] is not None
    assert {s["session_id"] for s in body["affected_sessions"]} == world.exposed_sessions


def test_fairness_says_model_for_a_new_version_that_cuts_group_b(cli: Cli, tmp_path: Path) -> None:
    reference = applications(4000, seed=1)
    current = applications(4000, seed=2)
    current.loc[(current["group"] == "B") & (current["income"] < 65), "approved"] = 0
    reference.to_csv(tmp_path / "before.csv", index=False)
    current.to_csv(tmp_path / "now.csv", index=False)
    result = cli(
        "forensics", "fairness", "--reference", "before.csv", "--current", "now.csv",
        "--group-column", "group", "--outcome-column", "approved", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert (body["group"], body["source"]) == ("B", "model")


def test_clients_names_the_scraper_and_its_successor(cli: Cli, tmp_path: Path) -> None:
    log, blocked_at = prediction_log()
    log.to_parquet(tmp_path / "log.parquet")
    result = cli(
        "forensics", "clients", "--log", "log.parquet", "--score-column", "score",
        "--blocked", f"scraper={blocked_at.isoformat()}", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert {c["client"] for c in body["suspects"]} == {"scraper", "scraper-2", "prober"}
    assert body["blocks"][0]["successors"] == ["scraper-2"]
    bad = cli("forensics", "clients", "--log", "log.parquet", "--blocked", "scraper")
    assert bad.exit_code == 1
    assert "blocked[0]" in bad.stderr


def test_injection_names_the_channel_and_the_guards(cli: Cli, tmp_path: Path) -> None:
    lines = "\n".join(t.model_dump_json() for t in injection_turns())
    (tmp_path / "turns.jsonl").write_text(lines, encoding="utf-8")
    (tmp_path / "guards.yaml").write_text(
        yaml.safe_dump([g.model_dump() for g in GUARDS]), encoding="utf-8"
    )
    result = cli(
        "forensics", "injection", "--turns", "turns.jsonl", "--guards", "guards.yaml",
        "--canary", CANARY, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["channels"][0]["channel"] == "retrieved"
    assert body["canary_leaks"] == 15
    (tmp_path / "bad.json").write_text('[{"session_id": "s", "at": "never"}]')
    bad = cli("forensics", "injection", "--turns", "bad.json")
    assert bad.exit_code == 1
    assert "bad.json[0.at]" in bad.stderr
