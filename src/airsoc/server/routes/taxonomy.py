"""``/api/v1/taxonomy``: failure modes with their ATLAS/OWASP mapping, and the lifecycle tables."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from airsoc.errors import NotFoundError, UnknownFailureModeError
from airsoc.incidents.lifecycle import SINGLE_HOLDER_ROLES, TRANSITIONS, Phase, Role, Severity
from airsoc.incidents.taxonomy import (
    ATLAS_VERSION,
    FAILURE_MODES,
    FailureMode,
    failure_mode,
)
from airsoc.server.deps import CurrentUser
from airsoc.server.errors import error_responses
from airsoc.types import Text as PlainText

__all__ = ["FailureModeOut", "LifecycleOut", "router"]

router = APIRouter(prefix="/taxonomy", tags=["taxonomy"])


class AtlasOut(BaseModel):
    """A MITRE ATLAS technique."""

    id: str
    name: str
    tactics: list[str]


class OwaspOut(BaseModel):
    """An OWASP Top 10 entry, with its list's version."""

    list: str
    id: str
    name: str
    version: str


class FailureModeOut(BaseModel):
    """A failure mode and how airsoc handles it by default."""

    name: str
    summary: str
    signal: str
    default_containment: str
    default_severity: str
    default_playbook: str
    atlas_version: str
    atlas: list[AtlasOut]
    owasp: list[OwaspOut]

    @classmethod
    def of(cls, mode: FailureMode) -> FailureModeOut:
        """Return the API form of a taxonomy entry."""
        return cls(
            name=mode.name,
            summary=mode.summary,
            signal=mode.signal,
            default_containment=mode.default_containment,
            default_severity=mode.default_severity,
            default_playbook=mode.default_playbook,
            atlas_version=ATLAS_VERSION,
            atlas=[AtlasOut(id=t.id, name=t.name, tactics=list(t.tactics)) for t in mode.atlas],
            owasp=[
                OwaspOut(list=o.list, id=o.id, name=o.name, version=o.version) for o in mode.owasp
            ],
        )


class TransitionRule(BaseModel):
    """A legal move of the incident lifecycle."""

    source: str
    to: str
    why: str


class LifecycleOut(BaseModel):
    """The lifecycle tables: phases, legal moves, severities and response roles."""

    phases: list[str]
    transitions: list[TransitionRule]
    severities: list[str]
    roles: list[str]
    single_holder_roles: list[str]


@router.get("/failure-modes", response_model=list[FailureModeOut], responses=error_responses())
def list_failure_modes(_user: CurrentUser) -> list[FailureModeOut]:
    """List every failure mode with its ATLAS techniques and OWASP IDs."""
    return [FailureModeOut.of(m) for m in FAILURE_MODES.values()]


@router.get(
    "/failure-modes/{name}", response_model=FailureModeOut, responses=error_responses(404, 422)
)
def get_failure_mode(
    name: Annotated[PlainText, Path(max_length=64)], _user: CurrentUser
) -> FailureModeOut:
    """Return one failure mode (an unknown name answers 404 naming the known ones)."""
    try:
        return FailureModeOut.of(failure_mode(name))
    except UnknownFailureModeError as exc:
        raise NotFoundError(exc.message, loc="name") from None


@router.get("/lifecycle", response_model=LifecycleOut, responses=error_responses())
def lifecycle(_user: CurrentUser) -> LifecycleOut:
    """Return the incident lifecycle as data."""
    return LifecycleOut(
        phases=[p.value for p in Phase],
        transitions=[
            TransitionRule(source=a.value, to=b.value, why=why)
            for (a, b), why in TRANSITIONS.items()
        ],
        severities=[s.value for s in Severity],
        roles=[r.value for r in Role],
        single_holder_roles=sorted(r.value for r in SINGLE_HOLDER_ROLES),
    )
