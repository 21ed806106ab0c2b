"""Findings: validated, stored with their chart, listed root causes first, on the timeline."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from airsoc.clock import SimulatedClock
from airsoc.errors import NotFoundError
from airsoc.incidents.findings import ChartData, ChartSeries, FindingIn, add_finding, list_findings
from airsoc.incidents.service import declare_incident, get_incident
from airsoc.store import Store


def test_findings_are_listed_root_causes_first(store: Store, clock: SimulatedClock) -> None:
    with store.transaction() as s:
        inc = declare_incident(
            s,
            clock=clock,
            actor="dana",
            system="rag-bot",
            failure_mode="hallucination_cascade",
            summary="cites a refund policy that does not exist",
        )
        add_finding(
            s,
            clock=clock,
            incident_id=inc.id,
            actor="lee",
            finding=FindingIn(title="Repeat rate doubled", kind="observation"),
        )
        add_finding(
            s,
            clock=clock,
            incident_id=inc.id,
            actor="lee",
            finding=FindingIn(
                title="Draft policy page indexed",
                kind="root_cause",
                data={"document": "kb/refunds-draft.md"},
                chart=ChartData(
                    kind="line",
                    x=["d1", "d2"],
                    series=[ChartSeries(name="citations", values=[3, 40])],
                ),
            ),
        )
    with store.read() as s:
        found = list_findings(s, incident_id=inc.id)
        timeline = get_incident(s, incident_id=inc.id).timeline
    assert [f.kind.value for f in found] == ["root_cause", "observation"]
    assert found[0].data == {"document": "kb/refunds-draft.md"}
    assert found[0].chart is not None
    assert found[0].chart.series[0].values == [3, 40]
    assert [e.action for e in timeline][-2:] == ["incident.finding_added"] * 2


def test_bad_findings_are_refused(sqlite_store: Store, clock: SimulatedClock) -> None:
    with pytest.raises(ValidationError, match=r"a finding needs a title|pattern"):
        FindingIn(title="   ")
    with pytest.raises(ValidationError, match="has 1 values for 2 x positions"):
        ChartData(x=["a", "b"], series=[ChartSeries(name="s", values=[1])])
    with sqlite_store.transaction() as s, pytest.raises(NotFoundError, match="incident 5"):
        add_finding(s, clock=clock, incident_id=5, actor="x", finding=FindingIn(title="t"))
