"""The incident lifecycle as data: phases, severities, roles and the one transitions table.

NIST SP 800-61 phases ``detected -> triaged -> contained -> eradicated -> recovered -> closed``,
plus ``false_positive`` and ``merged``. Every legal move is a row of :data:`TRANSITIONS`; anything
else is illegal, and the error names the legal moves.

Example:
    >>> legal_targets(Phase.DETECTED)
    ['triaged', 'contained', 'false_positive', 'merged']
    >>> check_transition(Phase.CLOSED, Phase.CONTAINED)
    Traceback (most recent call last):
    ...
    airsoc.errors.IllegalTransitionError: cannot move from closed to contained; legal moves ...
"""

from __future__ import annotations

import re
from enum import StrEnum

from airsoc.errors import (
    IllegalTransitionError,
    UnknownPhaseError,
    UnknownRoleError,
    UnknownSeverityError,
)

__all__ = [
    "OPEN_PHASES",
    "PHASE_TIMESTAMPS",
    "SINGLE_HOLDER_ROLES",
    "TRANSITIONS",
    "Phase",
    "Role",
    "Severity",
    "check_transition",
    "legal_targets",
    "parse_phase",
    "parse_role",
    "parse_severity",
]


class Phase(StrEnum):
    """Where an incident stands in its lifecycle."""

    DETECTED = "detected"
    TRIAGED = "triaged"
    CONTAINED = "contained"
    ERADICATED = "eradicated"
    RECOVERED = "recovered"
    CLOSED = "closed"
    FALSE_POSITIVE = "false_positive"
    MERGED = "merged"


class Severity(StrEnum):
    """SEV1 (worst) to SEV5."""

    SEV1 = "sev1"
    SEV2 = "sev2"
    SEV3 = "sev3"
    SEV4 = "sev4"
    SEV5 = "sev5"

    @property
    def rank(self) -> int:
        """Return 1 for SEV1 through 5 for SEV5."""
        return int(self.value[3])


class Role(StrEnum):
    """Response roles on an incident."""

    INCIDENT_COMMANDER = "incident_commander"
    DEPUTY = "deputy"
    SCRIBE = "scribe"
    SUBJECT_MATTER_EXPERT = "subject_matter_expert"
    COMMUNICATIONS_LIAISON = "communications_liaison"


#: Roles only one person holds at a time; assigning them to someone else is a hand-off.
SINGLE_HOLDER_ROLES = frozenset(
    {Role.INCIDENT_COMMANDER, Role.DEPUTY, Role.SCRIBE, Role.COMMUNICATIONS_LIAISON}
)

#: (from, to): why the move exists. The only source of truth for what is legal.
TRANSITIONS: dict[tuple[Phase, Phase], str] = {
    (Phase.DETECTED, Phase.TRIAGED): "a responder confirmed the signal and sized it",
    (Phase.DETECTED, Phase.CONTAINED): "a playbook contained it before anyone triaged",
    (Phase.DETECTED, Phase.FALSE_POSITIVE): "the signal was not an incident",
    (Phase.DETECTED, Phase.MERGED): "the same incident is already open",
    (Phase.TRIAGED, Phase.CONTAINED): "the damage stopped spreading",
    (Phase.TRIAGED, Phase.FALSE_POSITIVE): "triage showed no incident",
    (Phase.TRIAGED, Phase.MERGED): "the same incident is already open",
    (Phase.CONTAINED, Phase.ERADICATED): "the cause was removed",
    (Phase.CONTAINED, Phase.RECOVERED): "nothing to remove (e.g. drift): service restored",
    (Phase.CONTAINED, Phase.TRIAGED): "containment failed; back to triage",
    (Phase.CONTAINED, Phase.MERGED): "the same incident is already open",
    (Phase.ERADICATED, Phase.RECOVERED): "normal service restored and verified",
    (Phase.ERADICATED, Phase.CONTAINED): "the cause came back",
    (Phase.RECOVERED, Phase.CLOSED): "post-incident activity done",
    (Phase.RECOVERED, Phase.CONTAINED): "regressed after recovery",
    (Phase.CLOSED, Phase.TRIAGED): "reopened",
    (Phase.FALSE_POSITIVE, Phase.TRIAGED): "reopened: it was an incident after all",
}

#: Which incident timestamp a phase sets, the first time the incident enters it.
PHASE_TIMESTAMPS: dict[Phase, tuple[str, ...]] = {
    Phase.CONTAINED: ("contained_at",),
    Phase.ERADICATED: ("resolved_at",),
    Phase.RECOVERED: ("recovered_at", "resolved_at"),
    Phase.CLOSED: ("closed_at", "resolved_at"),
    Phase.FALSE_POSITIVE: ("resolved_at", "closed_at"),
    Phase.MERGED: ("closed_at",),
}

OPEN_PHASES = frozenset(
    {Phase.DETECTED, Phase.TRIAGED, Phase.CONTAINED, Phase.ERADICATED, Phase.RECOVERED}
)


def legal_targets(phase: Phase) -> list[str]:
    """Return the phases an incident in ``phase`` may move to, in table order."""
    return [dst.value for (src, dst) in TRANSITIONS if src == phase]


def check_transition(src: Phase, dst: Phase) -> str:
    """Return why ``src -> dst`` is legal, or raise naming the legal moves."""
    why = TRANSITIONS.get((src, dst))
    if why is None:
        legal = ", ".join(legal_targets(src)) or "none (terminal phase)"
        raise IllegalTransitionError(
            f"cannot move from {src.value} to {dst.value}; legal moves from {src.value}: {legal}"
        )
    return why


def parse_phase(value: str) -> Phase:
    """Return the phase named ``value`` (case-insensitive).

    >>> parse_phase("Contained")
    <Phase.CONTAINED: 'contained'>
    """
    try:
        return Phase(value.strip().lower())
    except ValueError:
        known = ", ".join(p.value for p in Phase)
        raise UnknownPhaseError(f"unknown phase {value!r}; known: {known}") from None


_SEV_RE = re.compile(r"^sev([1-5])$")


def parse_severity(value: str) -> Severity:
    """Return the severity named ``value``; when unsure between two (``sev2|sev3``), the higher.

    >>> parse_severity("SEV3"), parse_severity("sev2|sev3"), parse_severity("sev4-sev2")
    (<Severity.SEV3: 'sev3'>, <Severity.SEV2: 'sev2'>, <Severity.SEV2: 'sev2'>)
    """
    parts = [p.strip().lower() for p in re.split(r"[|/,-]", value) if p.strip()]
    ranks = []
    for part in parts:
        match = _SEV_RE.match(part)
        if not match:
            raise UnknownSeverityError(
                f"unknown severity {value!r}; use sev1 (worst) to sev5, or 'sev2|sev3' when unsure"
            )
        ranks.append(int(match.group(1)))
    if not ranks:
        raise UnknownSeverityError("empty severity; use sev1 (worst) to sev5")
    return Severity(f"sev{min(ranks)}")


def parse_role(value: str) -> Role:
    """Return the role named ``value``; accepts short forms (``ic``, ``sme``, ``comms``).

    >>> parse_role("ic").value, parse_role("subject-matter-expert").value
    ('incident_commander', 'subject_matter_expert')
    """
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    key = _ROLE_ALIASES.get(key, key)
    try:
        return Role(key)
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise UnknownRoleError(f"unknown role {value!r}; known: {known}") from None


_ROLE_ALIASES = {
    "ic": "incident_commander",
    "commander": "incident_commander",
    "sme": "subject_matter_expert",
    "comms": "communications_liaison",
    "liaison": "communications_liaison",
}
