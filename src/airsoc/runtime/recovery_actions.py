"""Playbook actions for fairness forensics and recovery from the system's own telemetry:

- ``forensics.fairness`` reads the decisions the system served before the incident's monitor
  window and in the last ``window``, and names the group that lost, whether the data or the
  model explains it, the features that moved within the group and the segments hit
  (:func:`airsoc.forensics.investigate_fairness`); findings and evidence go on the incident.
  Its output (``group``, ``group_column``, ``favored_group``, ``source``) is what a retrain step
  reweighs by.
- ``collect_labelled_data`` registers the system's answered requests of the last ``window``
  whose delayed labels came back as a training batch (its file in the data dir, its ground truth
  in a ``label`` column), for a retrain on recent data. It is new training data for the system,
  so it respects a paused pipeline (only the incident that paused it may collect).
- ``record_sla`` measures the time to restore: from the incident's detection to the first run
  of the incident's monitor that no longer alarms after its last alarm, and compares it with the
  system's ``restore_sla`` for the incident's failure mode (``airsoc.yaml``). It fails while the
  monitor still alarms (a playbook retries it); the measure goes on the incident's labels and
  timeline.

Each writes in one transaction that also records the step's effect.

Example:
    >>> from airsoc.response.actions import ActionRegistry
    >>> registry = ActionRegistry()
    >>> register_recovery_actions(registry)
    >>> sorted(registry.names())
    ['collect_labelled_data', 'forensics.fairness', 'record_sla']
    >>> registry.get("collect_labelled_data").params_model().min_rows
    200
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from pydantic import Field

from airsoc import lineage
from airsoc.clock import ensure_utc
from airsoc.errors import ActionError, AirsocError
from airsoc.forensics import investigate_fairness
from airsoc.forensics.fairness import record_fairness_findings
from airsoc.incidents.service import IncidentUpdate, add_note, get_incident, update_incident
from airsoc.lineage.pipelines import check_pipeline_open
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.signals import list_signals
from airsoc.response.actions import Action, ActionContext, ActionRegistry, ActionResult
from airsoc.runtime.forensics_actions import (
    _NOT_FEATURES,
    _monitor,
    _Params,
    _record,
    _rows,
    _telemetry,
    _WindowParams,
)
from airsoc.types import Duration

__all__ = [
    "RECOVERY_ACTIONS",
    "CollectLabelledData",
    "InvestigateFairness",
    "RecordSla",
    "register_recovery_actions",
]

#: The decision a monitor records when it alarms.
ALARM = "drift"
#: Signals of one monitor read when measuring the time to restore.
_SIGNALS = 10_000


class InvestigateFairness(Action):
    """Name the group that lost, and whether the data or the model explains the gap, from the
    decisions the system served before the monitor's window and in the last ``window``."""

    name = "forensics.fairness"
    summary = "investigate a fairness regression"

    class Params(_WindowParams):
        group_column: str | None = Field(
            None, description="The protected group column (default: the monitor's group)"
        )
        favorable: Any = Field(
            None, description="The favourable decision (default: the monitor's positive)"
        )
        reference_window: Duration = Field(
            timedelta(days=1), description="How much served traffic before the gap to compare"
        )
        label_column: str = Field("label", description="The delayed label column")

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Read both windows, investigate, record findings with the effect."""
        params: InvestigateFairness.Params = ctx.params
        try:
            monitor = _monitor(
                ctx, self.name, ("fairness_regression",), "fairness", needs_reference=False
            )
            group = params.group_column or monitor.params.get("group")
            if not group:
                raise ActionError(f"{self.name}: say which column holds the protected group")
            favorable = (
                params.favorable
                if params.favorable is not None
                else monitor.params.get("positive", 1)
            )
            source = _telemetry(ctx)
            end = ctx.clock.now()
            detected = ensure_utc(datetime.fromisoformat(str(ctx.incident["detected_at"])))
            # The gap opened within the monitor's window before the detection.
            ref_end = detected - monitor.window
            reference = _rows(
                source.window(monitor, ref_end - params.reference_window, ref_end),
                self.name,
                "reference window (traffic served before the gap)",
            )
            current = _rows(
                source.window(monitor, end - params.window, end), self.name, "current window"
            )
            frames = []
            for frame in (reference, current):
                keep = [c for c in frame.columns if c not in _NOT_FEATURES or c == "prediction"]
                out = frame[keep].copy()
                if (
                    params.label_column in frame.columns
                    and frame[params.label_column].notna().any()
                ):
                    out[params.label_column] = pd.to_numeric(
                        frame[params.label_column], errors="coerce"
                    )
                frames.append(out)
            labelled = all(params.label_column in f.columns for f in frames)
            reference, current = frames
            if group not in current.columns:
                raise ActionError(f"{self.name}: the served rows have no column {group!r}")
            found = investigate_fairness(
                reference,
                current,
                group_column=str(group),
                outcome_column="prediction",
                favorable=favorable,
                label_column=params.label_column if labelled else None,
                features=[
                    c
                    for c in current.columns
                    if c not in {group, "prediction", params.label_column}
                ],
            )
            output = {
                "monitor": monitor.name,
                "group_column": str(group),
                "group": found.group,
                "favored_group": found.favored_group,
                "source": found.source,
                "gap_reference": found.gap_reference,
                "gap_current": found.gap_current,
                "moved_features": [f.feature for f in found.features if f.moved],
                "recommendation": found.recommendation,
            }
            return _record(ctx, self.name, record_fairness_findings, found, output)
        except AirsocError as exc:
            raise ActionError(f"{self.name} failed: {exc}") from exc

    def describe(self, ctx: ActionContext) -> str:
        """Say what would be compared."""
        return (
            f"compare the decisions served in the last {ctx.params.window} with those before "
            "the monitor's window, by group; record findings"
        )


class CollectLabelledData(Action):
    """Register the system's recently answered requests whose labels came back as a batch."""

    name = "collect_labelled_data"
    summary = "register recent labelled traffic as a training batch"

    class Params(_Params):
        window: Duration = Field(timedelta(days=1), description="How far back, up to now")
        min_rows: int = Field(200, ge=1, description="Labelled rows needed")
        source: str = Field("labelled-traffic", description="The batch's source")
        monitor: str | None = Field(
            None, description="The monitor whose telemetry to read (default: the system's first)"
        )

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Read the window's labelled rows, write them to a file and register the batch."""
        params: CollectLabelledData.Params = ctx.params
        system = str(ctx.incident["system"])
        ref = str(ctx.incident.get("ref") or f"INC-{ctx.incident['id']}")
        monitors = [m for m in ctx.services.monitors if m.system == system]
        monitor = next((m for m in monitors if m.name == params.monitor), None)
        if params.monitor is not None and monitor is None:
            raise ActionError(f"{self.name}: no monitor {params.monitor!r} of {system}")
        monitor = monitor or (
            monitors[0]
            if monitors
            else MonitorConfig(
                name=f"{self.name}:{system}",
                system=system,
                detector="threshold",
                window=params.window,
                every=params.window,
            )
        )
        end = ctx.clock.now()
        start = end - params.window
        try:
            with ctx.services.store.read() as s:
                check_pipeline_open(s, system=system, incident=ref, what="new training data")
            window = _telemetry(ctx).window(monitor, start, end)
        except AirsocError as exc:
            raise ActionError(f"{self.name} failed: {exc}") from exc
        if not isinstance(window, pd.DataFrame) or "label" not in window.columns:
            raise ActionError(f"{self.name}: the telemetry of {system} carries no labels")
        rows = window[window["label"].notna()]
        if len(rows) < params.min_rows:
            raise ActionError(
                f"{self.name}: {len(rows)} labelled rows of {system} in the last "
                f"{params.window}; {params.min_rows} needed"
            )
        data = rows[[c for c in rows.columns if c not in _NOT_FEATURES or c == "label"]]
        data = data.drop(columns=[c for c in ("prediction",) if c in data.columns])
        data = data.reset_index(drop=True)
        stamp = end.strftime("%Y%m%dT%H%M%S")
        batch_id = f"{params.source}/{system}/{ref}-{stamp}"
        folder = ctx.services.settings.data_dir / "batches" / params.source / system
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{ref}-{stamp}.parquet"
        data.to_parquet(path, index=False)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        with ctx.transaction() as s:
            lineage.register_batch(
                s,
                clock=ctx.clock,
                actor=ctx.actor,
                batch_id=batch_id,
                source=params.source,
                rows=len(data),
                sha256=digest,
                time_start=start,
                time_end=end,
                uri=str(path),
                reason=f"labelled traffic of {system} for the remediation of {ref}",
            )
            result = ActionResult(
                output={"batch": batch_id, "rows": len(data), "uri": str(path)},
                summary=f"registered {len(data)} labelled rows of {system} as {batch_id}",
            )
            ctx.record_effect(s, result)
        return result

    def describe(self, ctx: ActionContext) -> str:
        """Say what would be collected."""
        return f"register the labelled traffic of the last {ctx.params.window} as a batch"


class RecordSla(Action):
    """Measure the time to restore against the system's SLA and record it on the incident."""

    name = "record_sla"
    summary = "measure and record the time to restore"

    class Params(_Params):
        monitor: str | None = Field(
            None,
            description="The monitor whose runs say the incident is restored (default: the "
            "system's monitor of the incident's failure mode)",
        )

    params_model = Params

    def execute(self, ctx: ActionContext) -> ActionResult:
        """Measure; fail while the monitor still alarms; record the measure and the SLA."""
        params: RecordSla.Params = ctx.params
        system = str(ctx.incident["system"])
        mode = str(ctx.incident["failure_mode"])
        monitors = [m for m in ctx.services.monitors if m.system == system]
        monitor = (
            next((m for m in monitors if m.name == params.monitor), None)
            if params.monitor
            else next((m for m in monitors if m.failure_mode == mode), None)
        )
        if monitor is None:
            raise ActionError(
                f"{self.name}: no monitor "
                + (repr(params.monitor) if params.monitor else f"of {mode}")
                + f" on {system} says when it is restored"
            )
        config = ctx.services.systems.get(system)
        slas: dict[str, timedelta] = dict(getattr(config, "restore_sla", None) or {})
        sla = slas.get(mode)
        detected = ensure_utc(datetime.fromisoformat(str(ctx.incident["detected_at"])))
        with ctx.services.store.read() as s:
            signals = [
                x
                for x in list_signals(s, monitor=monitor.name, limit=_SIGNALS)
                if ensure_utc(x.at) >= detected
            ]
        alarms = [x for x in signals if x.decision == ALARM]
        last_alarm = ensure_utc(alarms[-1].at) if alarms else detected
        clean = [x for x in signals if x.decision != ALARM and ensure_utc(x.at) > last_alarm]
        if not clean:
            raise ActionError(
                f"{self.name}: {monitor.name} still alarms (last at "
                f"{last_alarm.isoformat()}); {system} is not restored yet"
            )
        restored = ensure_utc(clean[0].at)
        took = (restored - detected).total_seconds()
        met = None if sla is None else took <= sla.total_seconds()
        labels = {
            "restore_monitor": monitor.name,
            "restored_at": restored.isoformat(),
            "time_to_restore_s": f"{took:g}",
        }
        if sla is not None:
            labels |= {"restore_sla_s": f"{sla.total_seconds():g}", "restore_sla_met": str(met)}
        sla_text = (
            f"SLA {sla} {'met' if met else 'MISSED'}" if sla is not None else "no SLA configured"
        )
        text = (
            f"{mode} on {system} restored at {restored.isoformat()} ({monitor.name} no longer "
            f"alarms): {timedelta(seconds=took)} after detection; {sla_text}"
        )
        with ctx.transaction() as s:
            current = get_incident(s, incident_id=ctx.incident_id).labels
            update_incident(
                s,
                clock=ctx.clock,
                incident_id=ctx.incident_id,
                changes=IncidentUpdate(labels={**current, **labels}),
                actor=ctx.actor,
                reason="time to restore measured",
            )
            add_note(s, clock=ctx.clock, incident_id=ctx.incident_id, actor=ctx.actor, text=text)
            result = ActionResult(
                output={
                    "monitor": monitor.name,
                    "restored_at": restored.isoformat(),
                    "time_to_restore_s": took,
                    "sla_s": sla.total_seconds() if sla is not None else None,
                    "met": met,
                },
                summary=text[:300],
            )
            ctx.record_effect(s, result)
        return result

    def describe(self, ctx: ActionContext) -> str:
        """Say what would be measured."""
        return "measure the time to restore against the system's SLA; record it on the incident"


#: The recovery actions the runtime registers, in order.
RECOVERY_ACTIONS: tuple[Action, ...] = (
    InvestigateFairness(),
    CollectLabelledData(),
    RecordSla(),
)


def register_recovery_actions(registry: ActionRegistry) -> None:
    """Add the fairness forensics and recovery actions to ``registry``."""
    for action in RECOVERY_ACTIONS:
        registry.register(action)
