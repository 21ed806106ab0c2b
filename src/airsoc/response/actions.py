"""The ``Action`` contract and the registry of actions (built-in and plugins).

An action has a ``name``, a pydantic ``params`` model, ``execute(ctx) -> ActionResult``,
``describe(ctx)`` for dry runs and ``compensate(ctx, result)`` where it can be undone. The context
carries the idempotency key of the step, so a resumed run never repeats a side effect.

Plugins register through the entry-point group ``airsoc.actions`` (each entry point names an
``Action`` subclass). A plugin that fails to load is a loud :class:`ActionPluginWarning` and a
*disabled* action: a playbook that uses it fails its check, naming the plugin error.

Example:
    >>> from pydantic import BaseModel
    >>> class Hello(Action):
    ...     name = "hello"
    ...     class Params(BaseModel):
    ...         who: str
    ...     params_model = Params
    ...     def execute(self, ctx):
    ...         return ActionResult(output={"greeted": ctx.params.who})
    ...     def describe(self, ctx):
    ...         return f"say hello to {ctx.params.who}"
    >>> registry = ActionRegistry()
    >>> registry.register(Hello())
    >>> registry.get("hello").params_model(who="bob").who
    'bob'
"""

from __future__ import annotations

import importlib.metadata
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from airsoc.clock import Clock
from airsoc.errors import ActionError, ConflictError, NotFoundError
from airsoc.settings import Settings

if TYPE_CHECKING:
    from airsoc.alerting.dispatcher import NotifyTarget
    from airsoc.alerting.templates import Templates
    from airsoc.monitoring.config import MonitorConfig
    from airsoc.monitoring.monitors import TelemetrySource
    from airsoc.response.controlplane import ControlPlane
    from airsoc.store import Store

__all__ = [
    "ENTRY_POINT_GROUP",
    "Action",
    "ActionContext",
    "ActionPluginWarning",
    "ActionRegistry",
    "ActionResult",
    "AttemptGuard",
    "ResponseServices",
]

ENTRY_POINT_GROUP = "airsoc.actions"


class ActionPluginWarning(UserWarning):
    """An action plugin failed to load; its action is disabled."""


class ActionResult(BaseModel):
    """What an action did: outputs later steps may read, and a one-line summary."""

    model_config = ConfigDict(extra="forbid")

    output: dict[str, Any] = Field(default_factory=dict)
    summary: str = ""


@dataclass
class ResponseServices:
    """What actions act through: the store, the control plane, receivers and templates."""

    store: Store
    settings: Settings
    control_plane: ControlPlane | None = None
    receivers: Mapping[str, Sequence[NotifyTarget]] = field(default_factory=dict)
    templates: Templates | None = None
    command_timeout: float = 60.0
    #: The configured monitors and the telemetry they read: where forensics finds an
    #: incident's window and reference.
    monitors: Sequence[MonitorConfig] = ()
    telemetry: TelemetrySource | None = None
    #: The configured systems by name (``airsoc.yaml``): their SLAs, hooks and owners.
    systems: Mapping[str, Any] = field(default_factory=dict)


class AttemptGuard(Protocol):
    """The fence one step attempt acts under (:class:`airsoc.response.leases.StepGuard`)."""

    @property
    def cancelled(self) -> bool:
        """Return True once the attempt was cancelled (timed out, or its lease was lost)."""
        ...

    def check(self) -> None:
        """Raise unless the attempt may still act."""
        ...

    def wait(self, seconds: float) -> bool:
        """Wait up to ``seconds``; return True early when the attempt is cancelled."""
        ...

    def transaction(self) -> AbstractContextManager[Session]:
        """Return a transaction that checks the fencing token before anything else."""
        ...


@dataclass
class ActionContext:
    """Everything one execution of one action may use.

    A long action checks now and then that it may still act: ``ctx.check()`` raises once the
    step timed out or the worker lost the run (``ctx.cancelled`` says so without raising), and
    ``ctx.wait(seconds)`` waits but wakes, raising, at a cancellation. A store change made in
    ``ctx.transaction()`` is fenced: it commits only while the attempt still holds the run.

    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.response.leases import StepGuard
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> guard = StepGuard(held=None, token=0)
    >>> ctx = ActionContext(action="a", params=None, incident={"id": 1}, run_id=1, step_id="s",
    ...     idempotency_key="k", actor="playbook:1", clock=SimulatedClock(),
    ...     services=ResponseServices(store=store, settings=store.settings), guard=guard)
    >>> ctx.cancelled
    False
    >>> guard.cancel("step timed out after 0:00:05")
    >>> ctx.wait(60)
    Traceback (most recent call last):
    ...
    airsoc.response.leases.StepCancelledError: step timed out after 0:00:05
    >>> store.close()
    """

    action: str
    params: Any
    incident: dict[str, Any]
    run_id: int
    step_id: str
    idempotency_key: str
    actor: str
    clock: Clock
    services: ResponseServices
    dry_run: bool = False
    #: The attempt's fence; None outside a run (a dry run, a direct call).
    guard: AttemptGuard | None = None

    @property
    def incident_id(self) -> int:
        """Return the id of the incident the run works on."""
        return int(self.incident["id"])

    @property
    def cancelled(self) -> bool:
        """Return True once this attempt was cancelled: timed out, or its worker lost the run."""
        return self.guard is not None and self.guard.cancelled

    def check(self) -> None:
        """Raise unless this attempt may still act (see :class:`ActionContext`)."""
        if self.guard is not None:
            self.guard.check()

    def wait(self, seconds: float) -> None:
        """Wait ``seconds`` (real time within a run); raise early once the attempt is cancelled."""
        if self.guard is None:
            self.clock.sleep(seconds)
            return
        self.guard.wait(seconds)
        self.guard.check()

    def transaction(self) -> AbstractContextManager[Session]:
        """Return a transaction on the state store; within a run, fenced by the run's token."""
        if self.guard is not None:
            return self.guard.transaction()
        return self.services.store.transaction()

    def record_effect(self, session: Session, result: ActionResult) -> None:
        """Record that this step's side effect happened, inside the transaction that made it.

        Actions whose effect is a change in the state store call this in the same transaction,
        so the effect and its record commit together and a resumed run never repeats it.
        """
        from airsoc.response.models import ActionEffectRow

        if session.get(ActionEffectRow, self.idempotency_key) is None:
            session.add(
                ActionEffectRow(
                    idempotency_key=self.idempotency_key,
                    action=self.action,
                    result=result.model_dump(mode="json"),
                    at=self.clock.now(),
                )
            )
            session.flush()

    def control_plane(self) -> ControlPlane:
        """Return the control plane, or fail clearly when none is wired."""
        if self.services.control_plane is None:
            raise ActionError(
                f"action {self.action!r} needs the serving/lineage control plane, "
                "and none is configured"
            )
        return self.services.control_plane


class Action(ABC):
    """Base of every response action."""

    name: ClassVar[str]
    params_model: ClassVar[type[BaseModel]]
    #: Destructive actions need a second person to approve (four-eyes).
    destructive: ClassVar[bool] = False
    #: What to say when listing actions.
    summary: ClassVar[str] = ""

    @abstractmethod
    def execute(self, ctx: ActionContext) -> ActionResult:
        """Carry out the action; raise :class:`~airsoc.errors.ActionError` when it fails."""

    @abstractmethod
    def describe(self, ctx: ActionContext) -> str:
        """Return what the action would do with these parameters (a dry run; no side effect)."""

    def compensate(self, ctx: ActionContext, result: ActionResult) -> ActionResult | None:
        """Undo a completed execution; None when this action cannot be undone."""
        return None


class ActionRegistry:
    """Actions by name, plus the plugins that failed to load (disabled, with their error)."""

    def __init__(self) -> None:
        self.actions: dict[str, Action] = {}
        self.disabled: dict[str, str] = {}

    def register(self, action: Action, *, replace: bool = False) -> None:
        """Add ``action``; a second action with the same name is refused unless ``replace``."""
        if action.name in self.actions and not replace:
            raise ConflictError(f"an action named {action.name!r} is already registered")
        self.actions[action.name] = action
        self.disabled.pop(action.name, None)

    def get(self, name: str) -> Action:
        """Return the action called ``name``; a disabled plugin's error is named."""
        if name in self.disabled:
            raise ActionError(f"action {name!r} is disabled: {self.disabled[name]}")
        try:
            return self.actions[name]
        except KeyError:
            known = ", ".join(sorted(self.actions))
            raise NotFoundError(f"unknown action {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        """Return the names of the usable actions, sorted."""
        return sorted(self.actions)

    def load_entry_points(
        self, entry_points: Iterable[importlib.metadata.EntryPoint] | None = None
    ) -> None:
        """Load plugins of the ``airsoc.actions`` group; a broken one warns and is disabled."""
        if entry_points is None:
            entry_points = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        for ep in entry_points:
            try:
                loaded = ep.load()
                action = loaded() if isinstance(loaded, type) else loaded
                if not isinstance(action, Action):
                    raise TypeError(f"{ep.value} is not an airsoc Action")
                if action.name != ep.name:
                    raise ValueError(
                        f"entry point {ep.name!r} loads an action named {action.name!r}"
                    )
                self.register(action)
            except Exception as exc:
                message = f"plugin {ep.value!r} failed to load: {type(exc).__name__}: {exc}"
                self.disabled[ep.name] = message
                self.actions.pop(ep.name, None)
                warnings.warn(
                    f"airsoc action {ep.name!r} is disabled: {message}",
                    ActionPluginWarning,
                    stacklevel=2,
                )
