"""Findings on an incident: structured conclusions (root cause, contributing factor, observation)
with the data to chart them. Handlers add them by hand today; forensics adds them as it lands.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.incidents.service import declare_incident
    >>> from airsoc.testing import scratch_store
    >>> store = scratch_store()
    >>> clock = SimulatedClock()
    >>> with store.transaction() as s:
    ...     inc = declare_incident(s, clock=clock, actor="dana", system="fraud-detector",
    ...                            failure_mode="data_poisoning", summary="labels flipped")
    ...     f = add_finding(s, clock=clock, incident_id=inc.id, actor="lee", finding=FindingIn(
    ...         title="Vendor batch 17 carried flipped labels", kind="root_cause",
    ...         chart=ChartData(kind="bar", x=["b15", "b16", "b17"],
    ...                         series=[ChartSeries(name="label disagreement",
    ...                                             values=[0.02, 0.03, 0.31])],
    ...                         threshold=0.1)))
    >>> with store.read() as s:
    ...     [(x.kind.value, x.title) for x in list_findings(s, incident_id=inc.id)]
    [('root_cause', 'Vendor batch 17 carried flipped labels')]
    >>> store.close()
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.incidents.models import FindingRow
from airsoc.incidents.service import get_incident, incident_chain
from airsoc.types import NonBlank, Text

__all__ = [
    "ChartData",
    "ChartSeries",
    "FindingIn",
    "FindingKind",
    "FindingView",
    "add_finding",
    "list_findings",
]


class FindingKind(StrEnum):
    """What a finding says about the incident."""

    ROOT_CAUSE = "root_cause"
    CONTRIBUTING_FACTOR = "contributing_factor"
    OBSERVATION = "observation"


class ChartSeries(BaseModel):
    """One named series of values, one per x position."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[Text, Field(min_length=1, max_length=200)]
    values: list[float] = Field(max_length=2000)


class ChartData(BaseModel):
    """The data of a finding's chart: categories or times along x, one or more series."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["bar", "line"] = "bar"
    x: list[Text] = Field(min_length=1, max_length=2000)
    series: list[ChartSeries] = Field(min_length=1, max_length=10)
    x_label: Text = ""
    y_label: Text = ""
    threshold: float | None = Field(None, description="Draws a dashed line, e.g. the alert level")

    @model_validator(mode="after")
    def _series_match_x(self) -> ChartData:
        for s in self.series:
            if len(s.values) != len(self.x):
                raise ValueError(
                    f"series {s.name!r} has {len(s.values)} values for {len(self.x)} x positions"
                )
        return self


class FindingIn(BaseModel):
    """A finding as a handler or forensics submits it."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[NonBlank, Field(min_length=1, max_length=300)]
    kind: FindingKind = FindingKind.OBSERVATION
    detail: Annotated[Text, Field(max_length=20000)] = ""
    recommendation: Annotated[
        Text,
        Field(max_length=2000, description="What to change; becomes a post-mortem action item"),
    ] = ""
    data: dict[str, Any] = Field(default_factory=dict, description="Free-form facts behind it")
    chart: ChartData | None = None

    @model_validator(mode="after")
    def _title_not_blank(self) -> FindingIn:
        if not self.title.strip():
            raise ValueError("a finding needs a title")
        return self


class FindingView(BaseModel):
    """A stored finding."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    incident_id: int
    title: str
    kind: FindingKind
    detail: str
    recommendation: str
    data: dict[str, Any]
    chart: ChartData | None
    author: str
    created_at: datetime


def add_finding(
    session: Session, *, clock: Clock, incident_id: int, finding: FindingIn, actor: str
) -> FindingView:
    """Attach ``finding`` to the incident, note it on the timeline and return it."""
    get_incident(session, incident_id=incident_id)  # raises NotFoundError
    row = FindingRow(
        incident_id=incident_id,
        title=finding.title.strip(),
        kind=finding.kind.value,
        detail=finding.detail,
        recommendation=finding.recommendation,
        data=finding.data,
        chart=finding.chart.model_dump(mode="json") if finding.chart else None,
        author=actor,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    append_entry(
        session,
        clock=clock,
        chain=incident_chain(incident_id),
        actor=actor,
        action="incident.finding_added",
        reason=row.title,
        data={"finding_id": row.id, "kind": row.kind},
    )
    return FindingView.model_validate(row)


def list_findings(session: Session, *, incident_id: int) -> list[FindingView]:
    """Return the incident's findings, root causes first, then in the order they were added."""
    rows = session.execute(
        select(FindingRow).where(FindingRow.incident_id == incident_id).order_by(FindingRow.id)
    ).scalars()
    order = list(FindingKind)
    views = [FindingView.model_validate(r) for r in rows]
    return sorted(views, key=lambda f: order.index(f.kind))
