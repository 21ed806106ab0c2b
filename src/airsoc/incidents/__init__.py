"""The incident core: record, lifecycle, roles, timeline, evidence and taxonomy."""

from __future__ import annotations

from airsoc.incidents.lifecycle import TRANSITIONS, Phase, Role, Severity
from airsoc.incidents.service import (
    IncidentDetail,
    IncidentUpdate,
    IncidentView,
    add_evidence,
    add_note,
    assign_role,
    declare_incident,
    get_incident,
    list_incidents,
    read_evidence,
    transition_incident,
    update_incident,
)
from airsoc.incidents.taxonomy import FAILURE_MODES, failure_mode

__all__ = [
    "FAILURE_MODES",
    "TRANSITIONS",
    "IncidentDetail",
    "IncidentUpdate",
    "IncidentView",
    "Phase",
    "Role",
    "Severity",
    "add_evidence",
    "add_note",
    "assign_role",
    "declare_incident",
    "failure_mode",
    "get_incident",
    "list_incidents",
    "read_evidence",
    "transition_incident",
    "update_incident",
]
