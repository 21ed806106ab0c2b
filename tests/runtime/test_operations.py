"""The table of operations: every operation is a REST route, a CLI command and a playbook action,
with the same role rule and the same destructive flag; its service is called from the table
only; and its undo puts back what it changed."""

from __future__ import annotations

import ast
import inspect
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.main import get_command

import airsoc
from airsoc.cli import gateway as cli_gateway
from airsoc.cli import registry as cli_registry
from airsoc.cli.operations import rule
from airsoc.clock import SimulatedClock
from airsoc.lineage import register_batch, register_system
from airsoc.roles import UserRole
from airsoc.runtime.operations import (
    OPERATIONS,
    Operation,
    get_operation,
    observe,
    parse_params,
)
from airsoc.runtime.registries import build_action_registry
from airsoc.server.routes.operations import body_model
from airsoc.store import Store
from airsoc.testing import CliResult, scratch_operations
from tests.server.conftest import ROLES, Api, make_api

SRC = Path(airsoc.__file__).parent
CLI_GROUPS: dict[str, typer.Typer] = {"gateway": cli_gateway.app, "registry": cli_registry.app}
#: A valid value for each body field an operation requires (besides the reason).
EXAMPLES: dict[str, Any] = {"version": "v2", "share": 0.5, "document": "doc-1"}
EXAMPLES |= {"level": "probation", "trusted_batches": ["trusted-1"]}
USER_OF = {UserRole(role): name for name, role in ROLES.items()}


@pytest.fixture
def api(sqlite_store: Store, clock: SimulatedClock) -> Iterator[Api]:
    yield from make_api(sqlite_store, clock)


def _fill(path: str) -> str:
    return (
        path.replace("{system}", "ghost")
        .replace("{batch_id}", "ghost")
        .replace("{source}", "ghost")
        .replace("{client_id}", "c-1")
    )


def _body(operation: Operation) -> dict[str, Any]:
    model = body_model(operation)
    required = [n for n, f in model.model_fields.items() if f.is_required() and n != "reason"]
    assert set(required) <= set(EXAMPLES), (operation.name, required)
    return {"reason": "checking the role rule", **{n: EXAMPLES[n] for n in required}}


def test_every_operation_is_a_route_a_command_and_an_action(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    actions = build_action_registry(plugins=False)
    assert len(OPERATIONS) == len({op.name for op in OPERATIONS}) >= 16
    for op in OPERATIONS:
        # The REST route: documented with the operation's role and flag, and enforcing the role.
        route = spec["paths"][f"/api/v1{op.path}"]["post"]
        assert route["x-airsoc-operation"] == {
            "name": op.name,
            "role": op.role.value,
            "destructive": op.destructive,
        }
        url, body = f"/api/v1{_fill(op.path)}", _body(op)
        below = USER_OF[list(UserRole)[op.role.rank - 1]]
        refused = api.client.post(url, json=body, headers=api.auth(below))
        assert refused.status_code == 403, (op.name, refused.text)
        assert f"to {op.permission} needs the {op.role.value} role" in refused.json()["message"]
        allowed = api.client.post(url, json=body, headers=api.auth(USER_OF[op.role]))
        assert allowed.status_code != 403, (op.name, allowed.text)
        # The CLI command: its arguments, and its help says the same role rule and flag.
        group, name = op.command.split()
        command = get_command(CLI_GROUPS[group]).commands[name]  # type: ignore[attr-defined]
        arguments = [p.name for p in command.params if p.param_type_name == "argument"]
        assert arguments == list(op.arguments), op.name
        assert "reason" in [p.name for p in command.params]
        assert command.epilog == rule(op)
        assert f"needs the {op.role.value} role" in command.epilog
        assert ("Destructive" in command.epilog) is op.destructive
        # The playbook action: same flag, same role, the operation's parameters.
        action = actions.get(op.name)
        assert (action.destructive, action.role) == (op.destructive, op.role)  # type: ignore[attr-defined]
        assert set(op.params.model_fields) <= set(action.params_model.model_fields)
        # The undo is an operation of the table.
        if op.undo is not None:
            assert get_operation(op.undo.operation).params is not None


def test_every_command_answers_help(cli: Callable[..., CliResult]) -> None:
    for op in OPERATIONS:
        result = cli(*op.command.split(), "--help")
        assert result.exit_code == 0, (op.command, result.stderr)
        assert f"needs the {op.role.value} role" in " ".join(result.stdout.split())


def _lookup(dotted: str) -> Any:
    """Return the loaded module or attribute ``dotted`` names (never importing anything)."""
    if dotted in sys.modules:
        return sys.modules[dotted]
    parent, _, attr = dotted.rpartition(".")
    return getattr(sys.modules.get(parent), attr, None) if parent else None


def _references(tree: ast.AST, module: str, targets: dict[int, str]) -> list[str]:
    """Return the places in ``tree`` that import or call one of ``targets`` (functions by id)."""
    found: list[str] = []
    aliases: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    aliases[a.asname] = _lookup(a.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                value = _lookup(f"{node.module}.{a.name}")
                if id(value) in targets:
                    found.append(f"{module}:{node.lineno} imports {targets[id(value)]}")
                aliases[a.asname or a.name] = value
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            value = getattr(aliases.get(node.value.id), node.attr, None)
            if id(value) in targets:
                found.append(f"{module}:{node.lineno} calls {targets[id(value)]}")
    return found


def test_each_service_is_referenced_only_from_the_table() -> None:
    services = {op.name: op.function() for op in OPERATIONS}
    targets = {id(fn): f"{fn.__module__}.{fn.__name__}" for fn in services.values()}
    homes = {fn.__module__ for fn in services.values()}
    found: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(path.relative_to(SRC.parent).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        if module in homes or module == "airsoc.runtime.operations":
            continue  # where the services live, and the table
        tree = ast.parse(path.read_text(), filename=str(path))
        refs = _references(tree, module, targets)
        if path.name == "__init__.py":  # a package re-exports its public names
            refs = [r for r in refs if " imports " not in r]
        found += refs
    assert found == []


def test_the_reference_search_finds_a_planted_call(tmp_path: Path) -> None:
    planted = "from airsoc.serving import control\n\ndef f(s):\n    return control.isolate(s)\n"
    fn = get_operation("isolate").function()
    refs = _references(ast.parse(planted), "planted", {id(fn): "isolate"})
    assert refs == ["planted:4 calls isolate"]
    imported = "from airsoc.lineage import quarantine_batch\n"
    fn = get_operation("quarantine_batch").function()
    assert _references(ast.parse(imported), "m", {id(fn): "q"}) == ["m:1 imports q"]


UNDOABLE: dict[str, dict[str, Any]] = {
    "rollback": {"system": "fraud"},
    "fallback": {"system": "fraud", "type": "scripted", "message": "later"},
    "isolate": {"system": "fraud"},
    "set_canary": {"system": "fraud", "version": "v1", "share": 0.2},
    "set_shadow": {"system": "fraud", "version": "v1"},
    "block_client": {"client_id": "c-1"},
    "rate_limit_client": {"client_id": "c-1", "rate_per_second": 2.0, "burst": 3},
    "quarantine_batch": {"batch_id": "b-1"},
    "hold_promotion": {"system": "fraud"},
    "disable_retrieval": {"system": "bot"},
    "remove_document": {"system": "bot", "document": "doc-1"},
}
_FLEETING = {
    "revision",
    "updated_by",
    "updated_at",
    "reason",
    "resume_mode",
    "fallback",
    "client_id",
}


def _state(store: Store, op: Operation, params: Any) -> dict[str, Any]:
    with store.read() as s:
        seen = observe(op.observes, s, params)
    return {k: v for k, v in seen.items() if k not in _FLEETING}


@pytest.mark.parametrize("name", sorted(UNDOABLE))
def test_undo_puts_back_what_the_operation_changed(name: str) -> None:
    assert {op.name for op in OPERATIONS if op.undo} >= set(UNDOABLE)
    store, clock = scratch_operations()
    op = get_operation(name)
    params = parse_params(op, UNDOABLE[name])
    before = _state(store, op, params)
    with store.transaction() as s:
        out = op.run(s, clock=clock, actor="ana", reason="test", params=params)
    assert _state(store, op, params) != before
    assert op.undo is not None
    inverse = get_operation(op.undo.operation)
    inverse_params = op.undo.params(out)
    assert inverse_params is not None
    with store.transaction() as s:
        inverse.run(
            s, clock=clock, actor="ana", reason="undo", params=parse_params(inverse, inverse_params)
        )
    if name == "quarantine_batch":
        assert before["status"] == "accepted"
        before["status"] = "released"  # usable again, and its history says it was quarantined
    assert _state(store, op, params) == before
    store.close()


def test_retrieval_controls_and_source_revocation_from_the_cli(
    cli: Callable[..., CliResult],
) -> None:
    def ok(*args: str) -> Any:
        result = cli(*args, "--json")
        assert result.exit_code == 0, (args, result.stderr)
        return json.loads(result.stdout)

    ok("registry", "register-system", "bot", "--kind", "rag-app", "--owner", "cx")
    assert (
        ok("gateway", "disable-retrieval", "bot", "--reason", "ghost policies")["enabled"] is False
    )
    removed = ok("gateway", "remove-document", "bot", "policy-17", "--reason", "does not exist")
    assert removed["removed_documents"] == ["policy-17"]
    assert (
        ok("gateway", "restore-document", "bot", "policy-17", "--reason", "fixed")[
            "removed_documents"
        ]
        == []
    )
    assert ok("gateway", "enable-retrieval", "bot", "--reason", "fixed")["enabled"] is True
    ok("registry", "register-batch", "b-1", "--source", "acme", "--rows", "3", "--sha256", "a" * 64)
    revoked = ok("registry", "revoke-source", "acme", "--reason", "vendor breached")
    assert [b["batch_id"] for b in revoked] == ["b-1"]
    assert ok("gateway", "unblock", "c-1", "--reason", "never blocked")["blocked"] is False
    shown = cli("gateway", "remove-document", "bot", "faq-2", "--reason", "stale")
    assert shown.stdout.strip() == "bot: retrieval on; removed documents: faq-2"
    missing = cli("gateway", "disable-retrieval", "ghost", "--reason", "x")
    assert missing.exit_code == 1
    assert "ghost" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_retrieval_clients_and_sources_over_the_api(api: Api) -> None:
    with api.store.transaction() as s:
        register_system(s, clock=api.clock, actor="a", name="bot", kind="rag-app", owner="cx")
        register_batch(
            s, clock=api.clock, actor="etl", batch_id="b-1", source="acme", rows=3, sha256="a" * 64
        )
    base = "/api/v1/gateway/retrieval/bot"
    r = api.client.post(
        f"{base}/remove-document",
        json={"reason": "cites a policy that does not exist", "document": "policy-17"},
        headers=api.auth("dana"),
    )
    assert (r.status_code, r.json()["removed_documents"]) == (200, ["policy-17"])
    r = api.client.post(f"{base}/disable", json={"reason": "x"}, headers=api.auth("dana"))
    assert (r.json()["enabled"], r.json()["updated_by"]) == (False, "dana")
    shown = api.client.get(base, headers=api.auth("vic")).json()
    assert (shown["enabled"], shown["removed_documents"]) == (False, ["policy-17"])
    listed = api.client.get("/api/v1/gateway/retrieval", headers=api.auth("vic")).json()
    assert [c["system"] for c in listed] == ["bot"]
    r = api.client.post(
        f"{base}/disable", json={"reason": "x", "path": "evil.py:f"}, headers=api.auth("dana")
    )
    assert r.status_code == 422  # bodies are strict
    r = api.client.post(
        "/api/v1/gateway/clients/bot-7/limit",
        json={"reason": "probing", "rate_per_second": 2, "burst": 4},
        headers=api.auth("dana"),
    )
    assert (r.json()["rate_per_second"], r.json()["burst"]) == (2.0, 4)
    r = api.client.post(
        "/api/v1/sources/acme/revoke", json={"reason": "breach"}, headers=api.auth("dana")
    )
    assert [b["status"] for b in r.json()] == ["quarantined"]
    # A rules fallback runs code from a file: its path is not taken over the API.
    r = api.client.post(
        "/api/v1/gateway/routes/bot/fallback",
        json={"reason": "x", "type": "rules", "path": "evil.py:f"},
        headers=api.auth("dana"),
    )
    assert r.status_code == 422


def test_service_errors_do_not_name_cli_flags() -> None:
    flagged = [
        f"{path.relative_to(SRC)}:{node.lineno}: {node.value!r}"
        for path in sorted(SRC.rglob("*.py"))
        if "cli" not in path.relative_to(SRC).parts
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "(--" in node.value
    ]
    assert flagged == []


def test_generated_signatures_take_the_operation_parameters() -> None:
    # The API body plus the path hold every parameter but those kept from the API.
    for op in OPERATIONS:
        body = set(body_model(op).model_fields) - {"reason"}
        in_path = {p for p in op.params.model_fields if "{" + p + "}" in op.path}
        assert body | in_path == set(op.params.model_fields) - op.api_omits, op.name
        assert inspect.signature(op.function()).parameters.keys() >= set(op.params.model_fields)
