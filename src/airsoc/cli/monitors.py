"""``airsoc monitors list|run``: the configured monitors, and running them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from airsoc.cli.output import console, print_json, print_table
from airsoc.cli.routes import ConfigOpt
from airsoc.cli.state import state
from airsoc.clock import ensure_utc
from airsoc.errors import DataFileError

if TYPE_CHECKING:
    from airsoc.monitoring.monitors import MonitorRun
    from airsoc.runtime.loop import LoopReport

__all__ = ["app", "read_jsonl_telemetry"]

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_(
    config: ConfigOpt = Path("airsoc.yaml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List the monitors of the configuration with their last and next run."""
    from airsoc.monitoring.monitors import monitor_status
    from airsoc.runtime.config import load_checked_config

    cfg, _ = load_checked_config(config)
    with state.store().read() as s:
        status = monitor_status(s)
    rows: list[dict[str, Any]] = []
    for m in cfg.monitors:
        st = status.get(m.name)
        rows.append(
            {
                "name": m.name,
                "system": m.system,
                "detector": m.detector,
                "window": f"{int(m.window.total_seconds())}s {m.window_kind}",
                "schedule": m.cron or f"every {int(m.every.total_seconds() if m.every else 0)}s",
                "last_run_at": st.last_run_at.isoformat() if st and st.last_run_at else None,
                "next_run_at": st.next_run_at.isoformat() if st else None,
                "last_decision": st.last_decision if st else None,
            }
        )
    if as_json:
        print_json(rows)
        return
    print_table(
        "Monitors",
        ["name", "system", "detector", "window", "schedule", "last", "next"],
        [
            (
                r["name"],
                r["system"],
                r["detector"],
                r["window"],
                r["schedule"],
                r["last_decision"] or "never run",
                r["next_run_at"] or "now",
            )
            for r in rows
        ],
    )


def read_jsonl_telemetry(path: Path, *, reference: bool = False) -> list[dict[str, Any]]:
    """Return the records of a JSON-lines file (each with ``system``; ``ts`` unless reference)."""
    records = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataFileError(f"cannot read {path}: {exc}") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict) or "system" not in record:
                raise ValueError("each line must be an object with a system")
            if not reference:
                record["ts"] = ensure_utc(datetime.fromisoformat(str(record["ts"])))
        except (ValueError, KeyError) as exc:
            raise DataFileError(f"{path}, line {number}: {exc}") from None
        records.append(record)
    return records


def _alert_state(run: MonitorRun) -> str:
    """Return what a run did to its alert: firing, resolved, pending (an alarm not yet
    confirmed by enough runs in a row) or nothing."""
    if run.alert:
        return "firing"
    return "resolved" if run.resolved else "pending" if run.pending else ""


def _print_report(report: LoopReport) -> None:
    print_table(
        "Monitor runs",
        ["monitor", "window", "verdicts", "decision", "alert"],
        [
            (
                r.monitor,
                f"{r.window[0].isoformat(timespec='minutes')} .. "
                f"{r.window[1].isoformat(timespec='minutes')}",
                len(r.verdicts),
                r.error or ("drift" if r.breached else "ok"),
                _alert_state(r),
            )
            for r in report.monitor_runs
        ],
    )
    if report.notifications:
        console.print(f"{len(report.notifications)} notification(s) sent", markup=False)


@app.command()
def run(
    config: ConfigOpt = Path("airsoc.yaml"),
    telemetry: Annotated[Path | None, typer.Option(help="Telemetry as JSON lines")] = None,
    reference: Annotated[Path | None, typer.Option(help="Reference records as JSON lines")] = None,
    once: Annotated[bool, typer.Option("--once", help="One round, then exit")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between rounds")] = 5.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (with --once)")] = False,
) -> None:
    """Run due monitors, route their alerts, declare incidents and advance playbooks.

    Monitors read the gateway's event log and the registry (training batches of the serving
    version); ``--telemetry``/``--reference`` read JSON-lines files instead.
    """
    from airsoc.monitoring.monitors import InMemoryTelemetry, TelemetrySource
    from airsoc.monitoring.sources import EventLogTelemetry
    from airsoc.runtime.config import load_checked_config
    from airsoc.runtime.loop import ResponseLoop

    cfg, playbooks = load_checked_config(config)
    source: TelemetrySource
    if telemetry is None and reference is None:
        source = EventLogTelemetry(store=state.store(), base_dir=config.parent)
    else:
        memory = InMemoryTelemetry()
        if telemetry is not None:
            memory.extend(read_jsonl_telemetry(telemetry))
        if reference is not None:
            for record in read_jsonl_telemetry(reference, reference=True):
                memory.references.setdefault(record["system"], []).append(record)
        source = memory
    loop = ResponseLoop(
        config=cfg, playbooks=playbooks, store=state.store(), clock=state.clock, source=source
    )
    if once:
        report = loop.tick(flush_now=True)
        if as_json:
            print_json(
                [
                    {
                        "monitor": r.monitor,
                        "breached": r.breached,
                        "pending": r.pending,
                        "error": r.error,
                        "verdicts": [v.model_dump(mode="json") for v in r.verdicts],
                    }
                    for r in report.monitor_runs
                ]
            )
        else:
            _print_report(report)
        return
    console.print(f"running {len(cfg.monitors)} monitor(s); Ctrl-C to stop", markup=False)
    try:
        while True:
            report = loop.tick()
            if report.monitor_runs:
                _print_report(report)
            state.clock.sleep(interval)
    except KeyboardInterrupt:
        console.print("stopped", markup=False)
