"""The airsoc command end to end, as a user types it."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import typer.main
from typer.core import TyperGroup
from typer.models import DefaultPlaceholder

import airsoc as airsoc_package
from airsoc.cli.main import DEBUG_ENV, GROUPS, app
from airsoc.testing import CliResult

Cli = Callable[..., CliResult]
ATLAS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "atlas" / "ATLAS.yaml"


def test_init_declare_work_and_show(cli: Cli, tmp_path: Path) -> None:
    assert cli("init").exit_code == 0
    assert (tmp_path / "airsoc.yaml").exists()
    assert (tmp_path / "airsoc-data" / "airsoc.db").exists()
    declared = cli(
        "incidents",
        "declare",
        "--system",
        "fraud-detector",
        "--failure-mode",
        "data_poisoning",
        "--severity",
        "sev2",
        "--summary",
        "vendor batch flips labels",
        "--json",
    )
    assert declared.exit_code == 0, declared.stderr
    incident = json.loads(declared.stdout)
    assert incident["ref"] == "INC-1"
    assert incident["severity"] == "sev2"
    assert cli("incidents", "transition", "1", "triaged", "--reason", "confirmed").exit_code == 0
    assert cli("incidents", "assign", "1", "incident_commander", "--to", "dana").exit_code == 0
    assert cli("incidents", "note", "1", "quarantining batch 17").exit_code == 0
    evidence = tmp_path / "sample.csv"
    evidence.write_text("id,label\n1,0\n")
    assert (
        cli("incidents", "evidence", "add", "1", str(evidence), "--description", "sample").exit_code
        == 0
    )
    shown = cli("incidents", "show", "1", "--json")
    detail = json.loads(shown.stdout)
    assert detail["phase"] == "triaged"
    assert [r["person"] for r in detail["roles"]] == ["dana"]
    assert [e["action"] for e in detail["timeline"]] == [
        "incident.declared",
        "incident.transitioned",
        "incident.role_assigned",
        "incident.note",
        "incident.evidence_added",
    ]
    assert all(e["actor"] == "tester" for e in detail["timeline"])
    assert detail["evidence"][0]["custody"][0]["action"] == "collected"
    listed = json.loads(cli("incidents", "list", "--json").stdout)
    assert [i["id"] for i in listed] == [1]
    assert "INC-1" in cli("incidents", "list").stdout
    assert "incident.transitioned" in cli("incidents", "show", "1").stdout
    assert cli("audit", "verify").exit_code == 0


def test_update_sets_the_nist_impact_assessment(cli: Cli) -> None:
    args = ("--system", "s", "--failure-mode", "data_drift", "--summary", "x")
    assert cli("incidents", "declare", *args).exit_code == 0
    first = cli("incidents", "update", "1", "--reason", "sized", "--functional-impact", "high")
    assert first.exit_code == 0, first.stderr
    result = cli(
        "incidents",
        "update",
        "1",
        "--reason",
        "more",
        "--recoverability",
        "regular",
        "--severity",
        "sev2",
        "--next-step",
        "retrain",
        "--json",
    )
    assert result.exit_code == 0, result.stderr
    inc = json.loads(result.stdout)
    assert inc["impact"]["functional"] == "high"
    assert inc["impact"]["recoverability"] == "regular"
    assert (inc["severity"], inc["next_steps"]) == ("sev2", ["retrain"])
    bad = cli("incidents", "update", "1", "--reason", "x", "--severity", "urgent")
    assert bad.exit_code == 1
    assert "unknown severity 'urgent'" in bad.stderr
    worse = cli("incidents", "update", "1", "--reason", "x", "--functional-impact", "huge")
    assert worse.exit_code == 1
    assert worse.stderr.startswith("error: functional: Input should be 'none', 'low'")


def test_bad_input_is_one_line_and_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    ok = cli(
        "incidents", "declare", "--system", "s", "--failure-mode", "data_drift", "--summary", "x"
    )
    assert ok.exit_code == 0
    cases = [
        (("incidents", "transition", "1", "fixed", "--reason", "r"), "unknown phase 'fixed'"),
        (("incidents", "transition", "1", "closed", "--reason", "r"), "legal moves from detected"),
        (
            ("incidents", "declare", "--system", "s", "--failure-mode", "drift", "--summary", "x"),
            "unknown failure mode",
        ),
        (
            (
                "incidents",
                "declare",
                "--system",
                "s",
                "--failure-mode",
                "data_drift",
                "--summary",
                "x",
                "--severity",
                "p1",
            ),
            "unknown severity",
        ),
        (("incidents", "show", "7"), "incident 7 not found"),
        (("incidents", "assign", "1", "boss", "--to", "x"), "unknown role 'boss'"),
    ]
    for args, message in cases:
        result = cli(*args)
        assert result.exit_code == 1, args
        assert message in result.stderr, (args, result.stderr)
        assert result.stderr.count("\n") == 1
        assert "Traceback" not in result.stderr
    detail = json.loads(cli("incidents", "show", "1", "--json").stdout)
    assert detail["phase"] == "detected"
    assert len(detail["timeline"]) == 1
    assert len(json.loads(cli("incidents", "list", "--json").stdout)) == 1


def test_config_check(cli: Cli, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("systems: {fraud: {kind: tabular-classifier, owner: risk}}\n")
    assert cli("config", "check", str(good)).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "systems: {fraud: {kind: tabular-classifier, owner: risk, colour: red}}\n"
        "monitors:\n  - {name: m, system: fraud, detector: d, window: soon}\n"
    )
    result = cli("config", "check", str(bad))
    assert result.exit_code == 1
    assert "systems.fraud.colour: unknown key (got 'red')" in result.stderr
    assert "monitors[0].window: invalid duration 'soon'" in result.stderr


def test_taxonomy_show_with_atlas_details(cli: Cli) -> None:
    result = cli("taxonomy", "show", "data_poisoning", "--atlas", str(ATLAS), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    details = {d["id"]: d for d in data["atlas_details"]}
    assert details["AML.T0020"]["name"] == "Poison Training Data"
    assert details["AML.T0020"]["mitigations"]
    assert details["AML.T0020"]["case_studies"]
    missing = cli("taxonomy", "show", "data_poisoning", "--atlas", "nowhere.yaml")
    assert missing.exit_code == 1
    assert "ATLAS data file nowhere.yaml not found" in missing.stderr


def test_console_script_prints_no_traceback(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("airsoc")
    result = subprocess.run(
        [str(exe), "--data-dir", str(tmp_path / "d"), "incidents", "show", "3"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "error: incident 3 not found"


def child_env(cwd: Path) -> dict[str, str]:
    """Return this environment for a child run in ``cwd``, importing the airsoc under test."""
    env = {**os.environ, "AIRSOC_DATA_DIR": str(cwd / "airsoc-data"), "COLUMNS": "120"}
    env.pop("AIRSOC_DATABASE_URL", None)
    source = str(Path(airsoc_package.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source, env.get("PYTHONPATH")) if p)
    return env


def airsoc(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run ``airsoc ARGS...`` in a child process, as a user's shell would, in ``cwd``."""
    return subprocess.run(
        [sys.executable, "-m", "airsoc.cli", *args],
        cwd=cwd,
        env=child_env(cwd),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("chek", "drift"), "error: No such command 'chek'. Did you mean 'check'?"),
        (("incidents", "lst"), "error: No such command 'lst'. Did you mean 'list'?"),
        (("check", "drift", "a.csv", "b.csv", "--fromat", "html"), "No such option: --fromat"),
        (("check", "drift", "a.csv"), "Missing argument 'current'"),
        (
            ("check", "drift", "a.csv", "b.csv", "--format", "pdf"),
            "'pdf' is not one of 'text', 'json', 'html'",
        ),
        (("incidents", "show", "three"), "Invalid value for 'incident_id'"),
        (("--data-dir",), "Option '--data-dir' requires an argument"),
    ],
    ids=["command", "subcommand", "option", "argument", "choice", "type", "option-value"],
)
def test_a_usage_error_is_one_line_and_exits_2(
    args: tuple[str, ...], message: str, tmp_path: Path
) -> None:
    result = airsoc(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert result.stderr.rstrip().endswith("--help'."), result.stderr
    assert result.stdout == ""


def test_bare_airsoc_lists_the_commands_and_exits_2(tmp_path: Path) -> None:
    result = airsoc(cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert result.stderr.startswith("Usage: airsoc [OPTIONS] COMMAND [ARGS]...")
    for name in ["init", "up", "profile", "serve", *GROUPS]:
        assert f"  {name}  " in result.stderr, name
    group = airsoc("incidents", cwd=tmp_path)
    assert group.returncode == 2
    assert "  declare  " in group.stderr


def test_an_error_that_is_not_a_usage_error_is_one_line_and_exits_1(tmp_path: Path) -> None:
    result = airsoc("init", "--config", str(tmp_path / "missing" / "airsoc.yaml"), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == f"error: No such file or directory: {tmp_path}/missing/airsoc.yaml\n"


def test_an_unexpected_error_is_one_line_unless_debugging(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(name: str) -> None:
        raise RuntimeError(f"cannot look up\n{name}")

    monkeypatch.setattr("airsoc.cli.taxonomy.failure_mode", broken)
    result = cli("taxonomy", "show", "data_poisoning")
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: unexpected RuntimeError: cannot look up data_poisoning "
        f"(a bug; {DEBUG_ENV}=1 shows the traceback)\n"
    )
    monkeypatch.setenv(DEBUG_ENV, "1")
    with pytest.raises(RuntimeError, match="cannot look up"):
        cli("taxonomy", "show", "data_poisoning")


def command_paths() -> Iterator[tuple[str, ...]]:
    """Yield the path of every command and group under ``airsoc``, loading every group."""
    root = typer.main.get_command(app)

    def walk(group: TyperGroup, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        with group.make_context("airsoc", [], resilient_parsing=True) as ctx:
            for name in group.list_commands(ctx):
                command = group.get_command(ctx, name)
                assert command is not None, (*path, name)
                yield (*path, name)
                if isinstance(command, TyperGroup):
                    yield from walk(command, (*path, name))

    assert isinstance(root, TyperGroup)
    yield ()
    yield from walk(root, ())


def test_every_command_has_help(cli: Cli) -> None:
    paths = list(command_paths())
    assert ("incidents", "evidence", "add") in paths
    assert ("check", "drift") in paths
    assert len(paths) > 80
    for path in paths:
        result = cli(*path, "--help")
        assert result.exit_code == 0, (path, result.stderr)
        assert result.stderr == "", path
        assert "Usage: airsoc" in result.stdout, path


def test_a_group_is_listed_with_the_help_it_shows_itself() -> None:
    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    with root.make_context("airsoc", [], resilient_parsing=True) as ctx:
        for name, group in GROUPS.items():
            own = importlib.import_module(group.module).app.info.help
            assert isinstance(own, DefaultPlaceholder) or own == group.help, name
            command = root.get_command(ctx, name)
            assert command is not None
            assert command.help == group.help


FORBIDDEN_AT_START = ("sklearn", "scipy", "airsoc.server", "fastapi")


def loaded_after(args: list[str], cwd: Path) -> list[str]:
    """Return which of the heavy packages ``airsoc ARGS...`` imported, run in a child process."""
    code = (
        "import sys\n"
        "from airsoc.cli.main import main\n"
        f"code = main({args!r})\n"
        f"heavy = [m for m in {FORBIDDEN_AT_START!r} if m in sys.modules]\n"
        "print('loaded:', ','.join(heavy))\n"
        "sys.exit(code)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=child_env(cwd),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.startswith("loaded:"), result.stdout
    return [m for m in last.removeprefix("loaded:").strip().split(",") if m]


def test_help_and_listing_incidents_load_no_science_and_no_server(tmp_path: Path) -> None:
    assert loaded_after(["--help"], tmp_path) == []
    assert loaded_after(["check", "drift", "--help"], tmp_path) == []
    loaded_after(["init"], tmp_path)  # a new data dir is migrated once, which loads every table
    assert loaded_after(["incidents", "list"], tmp_path) == []
    # The check is real: a command that needs the server loads it.
    assert "airsoc.server" in loaded_after(["users", "list"], tmp_path)
