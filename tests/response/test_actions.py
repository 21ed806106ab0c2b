"""The action registry: built-ins, plugins through entry points, broken plugins disabled loudly."""

from __future__ import annotations

import importlib.metadata
import sys
import types
from collections.abc import Iterator

import pytest
from pydantic import BaseModel

from airsoc.errors import ActionError, ConfigError, ConflictError, NotFoundError
from airsoc.response.actions import (
    Action,
    ActionContext,
    ActionPluginWarning,
    ActionResult,
)
from airsoc.response.playbooks import parse_playbook
from airsoc.response.registry import default_registry
from airsoc.runtime.registries import build_action_registry


class Ticket(Action):
    name = "open_ticket"

    class Params(BaseModel):
        queue: str

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        return ActionResult(output={"ticket": f"{ctx.params.queue}-1"})

    def describe(self, ctx: ActionContext) -> str:
        return f"open a ticket in {ctx.params.queue}"


@pytest.fixture
def plugin_module() -> Iterator[types.ModuleType]:
    module = types.ModuleType("acme_airsoc_actions")
    module.Ticket = Ticket  # type: ignore[attr-defined]
    sys.modules[module.__name__] = module
    yield module
    del sys.modules[module.__name__]


def ep(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group="airsoc.actions")


def test_plugin_from_an_entry_point_is_usable_in_playbooks(plugin_module: object) -> None:
    registry = default_registry(plugins=False)
    registry.load_entry_points([ep("open_ticket", "acme_airsoc_actions:Ticket")])
    pb = parse_playbook(
        "name: t\nsteps: [{id: a, action: open_ticket, with: {queue: SEC}}]", registry=registry
    )
    assert pb.steps[0].action == "open_ticket"


def test_a_broken_plugin_warns_and_its_action_is_disabled(plugin_module: object) -> None:
    registry = default_registry(plugins=False)
    with pytest.warns(ActionPluginWarning, match="'ghost' is disabled.*ModuleNotFoundError"):
        registry.load_entry_points([ep("ghost", "no_such_module:Ghost")])
    with pytest.warns(ActionPluginWarning, match="loads an action named 'open_ticket'"):
        registry.load_entry_points([ep("wrong_name", "acme_airsoc_actions:Ticket")])
    assert "ghost" not in registry.names()
    with pytest.raises(ActionError, match=r"disabled: plugin 'no_such_module:Ghost' failed"):
        registry.get("ghost")
    with pytest.raises(ConfigError, match=r"steps\[0\]\.action: action 'ghost' is disabled"):
        parse_playbook("name: t\nsteps: [{id: a, action: ghost}]", registry=registry)


def test_names_are_unique_and_unknown_names_list_the_known() -> None:
    registry = build_action_registry(plugins=False)
    with pytest.raises(ConflictError):
        registry.register(registry.get("rollback"))
    with pytest.raises(NotFoundError, match="known: approve_batch, assign_role, block_client"):
        registry.get("rollbak")
    # built-ins, the operations (with hold_promotion, release_hold, set_source_trust,
    # approve_batch and the recovery steps), forensics.poisoning, .drift, .rag, .clients and
    # .injection (capture_evidence replaced), open_postmortem, draft_communication,
    # resume_pipeline, and the fairness forensics and recovery actions (forensics.fairness,
    # collect_labelled_data, record_sla)
    assert len(registry.names()) == 43
    assert len(default_registry(plugins=False).names()) == 10  # the rest is the table's


@pytest.mark.parametrize("name", build_action_registry(plugins=False).names())
def test_every_builtin_action_follows_the_conventions(name: str) -> None:
    action = build_action_registry(plugins=False).get(name)
    assert action.name == name
    assert action.__doc__
    assert action.summary
    assert action.params_model.model_config.get("extra") == "forbid"
    # A destructive action must go through a second person, so it must say it is destructive.
    if name in {"rollback", "quarantine_batch", "block_client", "trigger_retrain"}:
        assert action.destructive
