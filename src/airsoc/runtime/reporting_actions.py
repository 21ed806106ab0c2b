"""Playbook actions made from the reporting service functions.

- ``open_postmortem`` opens the incident's draft post-mortem, seeded with an action item per
  finding's recommendation (:func:`airsoc.reporting.create_postmortem`). When the incident has
  one already, the step succeeds and names it, so two playbooks on one incident open one draft.
- ``draft_communication`` drafts the message for an ``audience`` (``users`` of the system,
  ``customers``, or internal ``stakeholders``) from what the store says now: the incident, how
  the system is served (fallback, human hand-off, isolation, retrieval off, documents removed),
  the findings (root cause, the sessions reached) and the steps taken. The draft is saved on the
  incident for a person to review and send (:func:`draft_communication`).

The runtime registers it (:func:`airsoc.runtime.registries.build_action_registry`).

Example:
    >>> from airsoc.response.registry import default_registry
    >>> registry = default_registry(plugins=False)
    >>> register_reporting_actions(registry)
    >>> registry.get("open_postmortem").summary
    'open the draft post-mortem'
    >>> registry.get("draft_communication").params_model(audience="users").audience
    'users'
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.clock import Clock
from airsoc.errors import InputError, NotFoundError
from airsoc.incidents.findings import FindingView, list_findings
from airsoc.incidents.service import IncidentView, get_incident
from airsoc.reporting import create_postmortem
from airsoc.reporting.models import PostmortemRow
from airsoc.response.actions import Action, ActionContext, ActionRegistry, ActionResult
from airsoc.response.escalation import save_communication
from airsoc.response.runs import list_runs
from airsoc.serving import get_retrieval, get_route

__all__ = [
    "AUDIENCES",
    "REPORTING_ACTIONS",
    "DraftCommunication",
    "OpenPostmortem",
    "draft_communication",
    "register_reporting_actions",
]

Audience = Literal["users", "customers", "stakeholders"]
#: Who a drafted message is for, and the kind it is saved as on the incident.
AUDIENCES: dict[str, str] = {
    "users": "user_message_draft",
    "customers": "customer_notice_draft",
    "stakeholders": "stakeholder_update_draft",
}
#: Actions that change how the system is served, as a message says they were taken.
_CONTAINMENT = {
    "fallback": "switched to its fallback",
    "isolate": "isolated",
    "disable_retrieval": "stopped retrieving documents",
    "remove_document": "removed a document from retrieval",
    "block_client": "blocked a client",
    "rate_limit_client": "throttled a client",
    "rollback": "rolled back to the last known-good version",
}


class OpenPostmortem(Action):
    """Open the incident's draft post-mortem, or name the one it has."""

    name = "open_postmortem"
    summary = "open the draft post-mortem"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Create the draft in the transaction that records the step's effect."""
        with ctx.transaction() as s:
            existing = s.execute(
                select(PostmortemRow.id).where(PostmortemRow.incident_id == ctx.incident_id)
            ).scalar_one_or_none()
            if existing is not None:
                result = ActionResult(
                    output={"postmortem_id": existing, "opened": False},
                    summary=f"post-mortem {existing} was already open",
                )
            else:
                view = create_postmortem(
                    s, clock=ctx.clock, incident_id=ctx.incident_id, actor=ctx.actor
                )
                result = ActionResult(
                    output={"postmortem_id": view.id, "opened": True},
                    summary=f"draft post-mortem {view.id} opened",
                )
            ctx.record_effect(s, result)
        return result

    def describe(self, ctx: ActionContext) -> str:
        """Say what would be opened."""
        return f"open the draft post-mortem of incident {ctx.incident_id}"


def _serving(session: Session, system: str) -> list[str]:
    """Return how ``system`` is served now, in words a reader outside the team understands."""
    out: list[str] = []
    try:
        route = get_route(session, system=system)
    except NotFoundError:
        return out
    kind = (route.fallback or {}).get("type")
    if route.mode == "fallback" and kind == "human_handoff":
        out.append("the assistant is paused and every conversation is answered by a person")
    elif route.mode == "fallback":
        out.append("the assistant answers from reviewed, scripted answers only")
    elif route.mode == "isolated":
        out.append("the assistant is switched off")
    try:
        retrieval = get_retrieval(session, system=system)
    except NotFoundError:
        return out
    if not retrieval.enabled:
        out.append(
            "the assistant no longer looks answers up in our documents and replies from scripts"
        )
    if retrieval.removed_documents:
        out.append(
            "the documents "
            + ", ".join(retrieval.removed_documents)
            + " are out of the assistant's reach"
        )
    return out


def _reach(findings: list[FindingView]) -> int:
    """Return how many sessions (conversations) the findings say were reached."""
    counts = [
        len(f.data[key])
        for f in findings
        for key in ("affected_sessions", "sessions")
        if isinstance(f.data.get(key), list)
    ]
    return max(counts, default=0)


def draft_communication(
    session: Session, *, clock: Clock, incident_id: int, audience: str, author: str
) -> dict[str, Any]:
    """Draft the message for ``audience`` from the store's state, save it on the incident (with
    a note on its timeline) and return ``{id, kind, body}``.

    Users and customers read what happened to their conversations, what is in place now and
    how to reach a person; stakeholders read the incident, severity, containment, root cause
    and its recommendation, and the reach.
    """
    if audience not in AUDIENCES:
        raise InputError(
            f"unknown audience {audience!r}; choose from {', '.join(AUDIENCES)}", loc="audience"
        )
    incident: IncidentView = get_incident(session, incident_id=incident_id)
    findings = list_findings(session, incident_id=incident_id)
    serving = _serving(session, incident.system)
    reached = _reach(findings)
    taken = [
        _CONTAINMENT[st.action]
        for run in list_runs(session, incident_id=incident_id)
        for st in run.steps
        if st.action in _CONTAINMENT and st.status == "succeeded"
    ]
    since = f"{incident.detected_at:%Y-%m-%d %H:%M} UTC"
    if audience == "stakeholders":
        root = next((f for f in findings if f.kind.value == "root_cause"), None)
        lines = [
            f"{incident.ref} ({incident.severity.upper()}, {incident.phase}): "
            f"{incident.failure_mode.replace('_', ' ')} on {incident.system} since {since}.",
            "Containment: " + ("; ".join(dict.fromkeys(taken)) or "none yet") + ".",
            "Now: " + ("; ".join(serving) or "served as usual") + ".",
            f"Root cause: {root.title}." if root else "Root cause: under investigation.",
        ]
        if root and root.recommendation:
            lines.append(f"Recommended: {root.recommendation}.")
        lines.append(f"Conversations reached: {reached}.")
    else:
        what = {
            "prompt_injection": "someone tried to manipulate our support assistant, and some "
            "answers may not have followed our policies",
            "hallucination_cascade": "some answers from our support assistant quoted a policy "
            "wrongly",
            "harmful_output": "our support assistant gave some answers it should not have given",
        }.get(incident.failure_mode, "our support assistant did not work as it should")
        lines = [
            "Dear customer," if audience == "customers" else "Hello,",
            f"Since {since}, {what}.",
            (
                f"We have found {reached} conversation(s) affected and will contact each of them."
                if reached
                else "We are reviewing the conversations that may be affected."
            ),
        ]
        if serving:
            lines.append("While we fix it, " + "; ".join(serving) + ".")
        lines += [
            "Please do not act on advice from the assistant that asks for card details, "
            "passwords or payments; we never ask for them in chat.",
            "If you want a person to check an answer you received, reply to this message.",
        ]
    body = "\n".join(lines)
    kind = AUDIENCES[audience]
    saved = save_communication(
        session, clock=clock, incident_id=incident_id, kind=kind, body=body, author=author
    )
    return {"id": saved.id, "kind": kind, "body": body}


class DraftCommunication(Action):
    """Draft the message to the system's users, customers or stakeholders, from the store."""

    name = "draft_communication"
    summary = "draft a message to users, customers or stakeholders"

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid")

        audience: Audience

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Draft and save the message in the transaction that records the step's effect."""
        params: DraftCommunication.Params = ctx.params
        with ctx.transaction() as s:
            saved = draft_communication(
                s,
                clock=ctx.clock,
                incident_id=ctx.incident_id,
                audience=params.audience,
                author=ctx.actor,
            )
            result = ActionResult(
                output={"communication_id": saved["id"], "kind": saved["kind"]},
                summary=f"{saved['kind'].replace('_', ' ')} {saved['id']} saved",
            )
            ctx.record_effect(s, result)
        return result

    def describe(self, ctx: ActionContext) -> str:
        """Say what would be drafted."""
        return f"draft the message to the {ctx.params.audience} of incident {ctx.incident_id}"


REPORTING_ACTIONS: tuple[Action, ...] = (OpenPostmortem(), DraftCommunication())


def register_reporting_actions(registry: ActionRegistry) -> None:
    """Add the reporting actions to ``registry``."""
    for action in REPORTING_ACTIONS:
        registry.register(action)
