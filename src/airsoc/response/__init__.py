"""Response: playbooks (YAML), the safe condition language, the durable runner, approvals,
actions behind a control-plane Protocol, incident declaration from alerts, and escalation.

Example:
    >>> from airsoc.response import default_registry
    >>> "rollback" in default_registry(plugins=False).names()
    True
"""

from __future__ import annotations

from airsoc.response.actions import (
    Action,
    ActionContext,
    ActionPluginWarning,
    ActionRegistry,
    ActionResult,
    ResponseServices,
)
from airsoc.response.approvals import ApprovalView, decide_approval, list_approvals
from airsoc.response.conditions import evaluate, render_value
from airsoc.response.controlplane import ControlPlane, RecordingControlPlane
from airsoc.response.declaration import IncidentDeclarer
from airsoc.response.dryrun import dry_run
from airsoc.response.escalation import run_escalations, send_due_status_updates
from airsoc.response.playbooks import Playbook, default_playbooks, load_playbooks, parse_playbook
from airsoc.response.registry import default_registry
from airsoc.response.runner import PlaybookRunner
from airsoc.response.runs import RunView, get_run, list_runs, start_run

__all__ = [
    "Action",
    "ActionContext",
    "ActionPluginWarning",
    "ActionRegistry",
    "ActionResult",
    "ApprovalView",
    "ControlPlane",
    "IncidentDeclarer",
    "Playbook",
    "PlaybookRunner",
    "RecordingControlPlane",
    "ResponseServices",
    "RunView",
    "decide_approval",
    "default_playbooks",
    "default_registry",
    "dry_run",
    "evaluate",
    "get_run",
    "list_approvals",
    "list_runs",
    "load_playbooks",
    "parse_playbook",
    "render_value",
    "run_escalations",
    "send_due_status_updates",
    "start_run",
]
