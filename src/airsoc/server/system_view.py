"""What the system page draws: the gateway's traffic per version (request rate, share, latency
quantiles, error rate), the guard's decisions on a chat system's turns, and each monitor's
statistic per run against its threshold with its alarms, all as server-rendered SVG with the
system's routing changes (promotions, rollbacks, canary and shadow starts) marked on them.

A chart with nothing to draw is replaced by a sentence saying why (no requests in the span, no
guard policy, every run skipped and the reason), never an empty frame.

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> t0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
    >>> runs = [MonitorRun(t0 + timedelta(minutes=15 * i), s, 0.2, s > 0.2, "ran", "")
    ...         for i, s in enumerate((0.05, 0.31))]
    >>> svg = monitor_chart("psi", runs, annotations=[Annotation(t0, "promote v2")])
    >>> 'class="threshold"' in svg, 'class="marker"' in svg, "promote v2" in svg
    (True, True, True)
    >>> routing_label("routing.rollback", {"primary": "v1"})
    'rollback to v1'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from airsoc import lineage
from airsoc.audit import list_entries
from airsoc.monitoring.signals import SignalView
from airsoc.reporting.charts import PALETTE, Annotation, Marker, Series, line_chart
from airsoc.server.humanize import utc_iso
from airsoc.server.traffic import GUARD_OUTCOMES, SystemTraffic

__all__ = [
    "FIT_AT_LEAST",
    "LLM_DETECTORS",
    "SPANS",
    "Chart",
    "MonitorRun",
    "guard_charts",
    "monitor_chart",
    "monitor_runs",
    "routing_changes",
    "routing_label",
    "traffic_charts",
]

#: The spans the system page offers: query value, length, and how a sentence says it. ``fit``
#: is the last hour from the system's first request in it (at least :data:`FIT_AT_LEAST`).
SPANS: Mapping[str, tuple[timedelta, str]] = {
    "fit": (timedelta(hours=1), "the last hour"),
    "15m": (timedelta(minutes=15), "the last 15 minutes"),
    "1h": (timedelta(hours=1), "the last hour"),
    "6h": (timedelta(hours=6), "the last 6 hours"),
    "24h": (timedelta(hours=24), "the last 24 hours"),
    "7d": (timedelta(days=7), "the last 7 days"),
}
FIT_AT_LEAST = timedelta(minutes=5)
#: Detectors of LLM monitors (what the support bot's page groups as its LLM monitors).
LLM_DETECTORS = frozenset(
    {"prompt_injection", "harmful_output", "hallucination_cascade", "llm_quality", "toxicity"}
)
#: Subjects that summarise a whole run (preferred over per-item subjects as the run's statistic).
_SUMMARY_SUBJECTS = ("window", "dataset", "summary")
#: Most subjects a monitor chart draws as lines of their own (more: the largest per run).
_SUBJECT_LINES = 6
_WIDTH = 760
_ROUTING_COLOURS = {
    "promote": "#009E73",
    "rollback": "#D55E00",
    "canary": "#CC79A7",
    "shadow": "#CC79A7",
    "fallback": "#6b4c9a",
    "isolated": "#6b4c9a",
    "restore": "#0072B2",
}
_QUANTILE_DASH = {"p50": None, "p95": "6 3", "p99": "2 3"}
_GUARD_COLOURS = {"allowed": "#009E73", "warned": "#E69F00", "blocked": "#D55E00"}


@dataclass(frozen=True)
class Chart:
    """A chart of the system page, or (``svg`` None) the sentence saying why there is none."""

    title: str
    svg: Markup | None
    empty: str = ""


def routing_label(action: str, data: Mapping[str, Any]) -> str:
    """Return a routing change's short label (an annotation on the charts).

    >>> routing_label("routing.canary", {"candidate": "v2", "share": 0.1})
    'canary v2 10%'
    >>> routing_label("routing.restore", {"mode": "primary", "primary": "v1"})
    'restore (primary v1)'
    """
    kind = action.removeprefix("routing.")
    primary, candidate = data.get("primary"), data.get("candidate")
    if kind == "promote":
        return f"promote {primary}"
    if kind == "rollback":
        return f"rollback to {primary}"
    if kind == "canary":
        return f"canary {candidate} {float(data.get('share') or 0):.0%}"
    if kind == "shadow":
        return f"shadow {candidate}"
    if kind == "isolated":
        return "isolate"
    if kind == "restore":
        return f"restore ({data.get('mode')} {primary})"
    return kind


def routing_changes(session: Session, *, system: str) -> list[Annotation]:
    """Return the system's routing changes, from its audit chain, as chart annotations."""
    out = []
    for entry in list_entries(session, chain=lineage.system_chain(system)):
        if not entry.action.startswith("routing."):
            continue
        kind = entry.action.removeprefix("routing.")
        out.append(
            Annotation(
                entry.at,
                routing_label(entry.action, entry.data),
                _ROUTING_COLOURS.get(kind, "#555555"),
            )
        )
    return out


@dataclass(frozen=True)
class MonitorRun:
    """One run of a monitor: its statistic (None when it measured none), threshold, whether it
    raised the alarm (and the statistic that did), its status, why it measured nothing, and
    the statistic of each subject it measured."""

    at: datetime
    statistic: float | None
    threshold: float | None
    alarm: bool
    status: str
    reason: str
    subjects: Mapping[str, float] = field(default_factory=dict)
    alarm_value: float | None = None


def _run_key(g: SignalView) -> datetime:
    # The verdicts of one run share the window they judged; their own times differ by the
    # moments it took to store them.
    return g.window_end or g.at


def monitor_runs(signals: Sequence[SignalView]) -> list[MonitorRun]:
    """Return a monitor's runs, oldest first, from its signals (one run: the signals on one
    window). A run's statistic is its summary subject's (``window``, ``dataset``) or else the
    largest of its subjects'; the run raised the alarm when any of its verdicts did.

    >>> from datetime import UTC
    >>> t = datetime(2026, 3, 1, tzinfo=UTC)
    >>> def sig(subject, stat, decision, status="ran"):
    ...     return SignalView(id=1, monitor="m", system="s", detector="d", subject=subject,
    ...         decision=decision, statistic=stat, p_value=None, threshold=0.5, source="t",
    ...         at=t, window_start=None, window_end=None,
    ...         verdict={"status": status, "reason": "no rows"})
    >>> [(r.statistic, r.alarm, r.alarm_value) for r in monitor_runs(
    ...     [sig("turn:r1", 0.9, "drift"), sig("window", 0.1, "ok")])]
    [(0.1, True, 0.9)]
    >>> monitor_runs([sig("window", None, "ok", "skipped")])[0].reason
    'no rows'
    """
    by_run: dict[datetime, list[SignalView]] = {}
    for g in signals:
        by_run.setdefault(_run_key(g), []).append(g)
    runs = []
    for at in sorted(by_run):
        group = by_run[at]
        ran = [g for g in group if str(g.verdict.get("status", "ran")) == "ran"]
        measured = [g for g in ran if g.statistic is not None]
        summary = [g for g in measured if g.subject in _SUMMARY_SUBJECTS]
        chosen = summary[0] if summary else max(measured, key=_statistic, default=None)
        alarms = [g for g in measured if g.decision == "drift"]
        status = "ran" if ran else str(group[0].verdict.get("status", "skipped"))
        # A run without a statistic says why: a check that did not run, or one that ran and
        # found too little to measure.
        silent = (ran or group)[0]
        runs.append(
            MonitorRun(
                at=at,
                statistic=chosen.statistic if chosen else None,
                threshold=chosen.threshold if chosen else group[0].threshold,
                alarm=any(g.decision == "drift" for g in ran),
                status=status,
                reason="" if chosen else str(silent.verdict.get("reason", "")),
                subjects={g.subject: _statistic(g) for g in measured if g not in summary},
                alarm_value=max(map(_statistic, alarms)) if alarms else None,
            )
        )
    return runs


def _statistic(g: SignalView) -> float:
    return float(g.statistic or 0.0)


def _monitor_series(runs: Sequence[MonitorRun]) -> tuple[list[Series], str]:
    """Return the series of a monitor chart and what its statistic is: one line per subject
    when the runs measured a few subjects and no summary, else the run's statistic."""
    names = sorted({name for r in runs for name in r.subjects})
    summarised = any(r.statistic is not None and not r.subjects for r in runs)
    if 1 < len(names) <= _SUBJECT_LINES and not summarised:
        return [
            Series(name, [r.subjects.get(name) for r in runs], colour=PALETTE[i % len(PALETTE)])
            for i, name in enumerate(names)
        ], "statistic per run, by subject"
    what = "statistic per run" if len(names) <= 1 else f"largest of {len(names)} subjects per run"
    if any(r.subjects for r in runs) and summarised:
        what = "statistic per run"
    return [Series("statistic", [r.statistic for r in runs], colour=PALETTE[0])], what


def monitor_chart(
    monitor: str,
    runs: Sequence[MonitorRun],
    *,
    annotations: Sequence[Annotation] = (),
    span: tuple[datetime, datetime] | None = None,
) -> str:
    """Return an SVG chart of a monitor's statistic per run over time against its threshold
    (one dashed line when it never changed, else a series), alarms ringed, routing changes
    marked; a run that measured nothing is a gap."""
    limits = {r.threshold for r in runs if r.threshold is not None}
    series, what = _monitor_series(runs)
    markers = []
    for r in runs:
        # Ringed on the line drawn: the alarming subject's own, or the run's statistic.
        value = r.alarm_value if len(series) > 1 and r.alarm_value is not None else r.statistic
        if r.alarm and value is not None:
            markers.append(
                Marker(r.at, value, f"alarm at {r.at:%Y-%m-%d %H:%M:%S} UTC: {value:.4g}")
            )
    if len(limits) > 1 and len(series) == 1:
        series.append(
            Series("threshold", [r.threshold for r in runs], colour="#D55E00", dash="6 4")
        )
    return line_chart(
        [r.at for r in runs],
        series,
        title=f"{monitor}: {what}",
        threshold=next(iter(limits)) if len(limits) == 1 else None,
        width=_WIDTH,
        span=span,
        annotations=annotations,
        markers=markers,
    )


def _version_colours(traffic: SystemTraffic) -> dict[str, str]:
    return {v.name: PALETTE[i % len(PALETTE)] for i, v in enumerate(traffic.versions)}


def traffic_charts(
    traffic: SystemTraffic, annotations: Sequence[Annotation], *, span_words: str
) -> list[Chart]:
    """Return the request rate, share, latency and error rate charts per version; when the
    span holds no request, one :class:`Chart` saying so."""
    if not traffic.requests:
        return [
            Chart(
                "Traffic",
                None,
                f"No requests in {span_words}: the gateway logged none for "
                f"{traffic.system} since {utc_iso(traffic.start)}.",
            )
        ]
    colours = _version_colours(traffic)
    minutes = traffic.step.total_seconds() / 60
    span = (traffic.start, traffic.end)
    common: dict[str, Any] = {"width": _WIDTH, "span": span, "annotations": annotations}
    rate = [
        Series(
            v.name,
            [None if n is None else n / minutes for n in v.requests],
            colour=colours[v.name],
            dash=None if v.served else "4 3",
        )
        for v in traffic.versions
    ]
    served = [v for v in traffic.versions if v.served]
    share = [Series(v.name, traffic.share(v.name), colour=colours[v.name]) for v in served]
    latency = [
        Series(f"{v.name} {q}", getattr(v, q), colour=colours[v.name], dash=dash)
        for v in traffic.versions
        for q, dash in _QUANTILE_DASH.items()
    ]
    errors = [
        Series(
            v.name,
            [None if r is None else 100 * r for r in v.error_rate],
            colour=colours[v.name],
            dash=None if v.served else "4 3",
        )
        for v in traffic.versions
    ]
    times = traffic.times
    return [
        Chart(
            "Request rate",
            Markup(
                line_chart(
                    times,
                    rate,
                    title="Requests per minute, by version",
                    y_label="req/min",
                    **common,
                )
            ),
        ),
        Chart(
            "Share of traffic",
            Markup(
                line_chart(
                    times,
                    share,
                    title="Share of served requests, by version (%)",
                    y_label="%",
                    y_top=100,
                    **common,
                )
            ),
        ),
        Chart(
            "Latency",
            Markup(
                line_chart(
                    times,
                    latency,
                    title="Latency p50 / p95 / p99, by version (ms)",
                    y_label="ms",
                    **common,
                )
            ),
        ),
        Chart(
            "Error rate",
            Markup(
                line_chart(times, errors, title="Error rate, by version (%)", y_label="%", **common)
            ),
        ),
    ]


def guard_charts(
    traffic: SystemTraffic, annotations: Sequence[Annotation], *, span_words: str
) -> list[Chart]:
    """Return the guard's allowed / warned / blocked turns over time, or why there is none."""
    turns = traffic.guard_unchecked + sum(
        n or 0 for values in traffic.guard.values() for n in values
    )
    if not turns:
        return [Chart("Guard", None, f"No chat turns in {span_words}.")]
    if not traffic.guard:
        return [
            Chart(
                "Guard",
                None,
                f"The guard checked none of the {turns} chat turns in {span_words}: "
                f"{traffic.system} has no guard policy (systems.{traffic.system}.guard in "
                "airsoc.yaml).",
            )
        ]
    series = [
        Series(outcome, traffic.guard[outcome], colour=_GUARD_COLOURS[outcome])
        for outcome in GUARD_OUTCOMES
    ]
    note = f" ({traffic.guard_unchecked} turns were not checked)" if traffic.guard_unchecked else ""
    svg = line_chart(
        traffic.times,
        series,
        title=f"Guard decisions per {_step_words(traffic.step)}{note}",
        y_label="turns",
        width=_WIDTH,
        span=(traffic.start, traffic.end),
        annotations=annotations,
    )
    return [Chart("Guard", Markup(svg))]


def _step_words(step: timedelta) -> str:
    """Return a bucket's length in words.

    >>> _step_words(timedelta(minutes=1)), _step_words(timedelta(seconds=15))
    ('minute', '15 s')
    """
    seconds = step.total_seconds()
    if seconds == 60:
        return "minute"
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"
