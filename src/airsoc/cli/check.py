"""``airsoc check drift|fairness|quality``: the daily batch checks, for people and for scripts.

``--format json`` prints one entry per column (name, method, statistic, p-value, effect size,
threshold, decision, reason) plus the dataset verdict; ``--format html`` writes a report with a
chart of both distributions per column. ``--fail-on-drift`` makes a drifted window exit 1, so a
scheduler can stop the pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from airsoc.cli import output as ui
from airsoc.cli.output import print_table
from airsoc.errors import InputError

if TYPE_CHECKING:
    from airsoc.detection.verdict import Verdict

__all__ = ["app", "parse_kinds", "progress_steps", "reference_source"]

app = typer.Typer(no_args_is_help=True)


class Format(StrEnum):
    """Output formats of the check commands."""

    text = "text"
    json = "json"
    html = "html"


class Engine(StrEnum):
    """Where the profiles are computed."""

    local = "local"
    spark = "spark"


class CalibrationMethod(StrEnum):
    """Ways to calibrate effect thresholds on the reference."""

    chunks = "chunks"
    bootstrap = "bootstrap"


class Correction(StrEnum):
    """Multiple-testing corrections."""

    bh = "bh"
    bonferroni = "bonferroni"


def parse_kinds(items: Sequence[str] | None) -> dict[str, str] | None:
    """Return ``{"col": "kind"}`` from ``col=kind`` strings (None when none given)."""
    if not items:
        return None
    out = {}
    for item in items:
        name, sep, kind = item.partition("=")
        if not sep or not name or not kind:
            raise InputError(f"--kind expects COLUMN=KIND, got {item!r}")
        out[name] = kind
    return out


def _columns(items: Sequence[str] | None) -> list[str] | None:
    if not items:
        return None
    return [c.strip() for item in items for c in item.split(",") if c.strip()]


def reference_source(path: Path) -> Any:
    """Return the saved profile at ``path`` if it is one, else the path (a data file)."""
    from airsoc.detection.profiles import is_profile_file, load_profile

    return load_profile(path) if is_profile_file(path) else path


@contextmanager
def progress_steps(enabled: bool = True) -> Iterator[Any]:
    """Yield a callback that shows each named step with a spinner on stderr (a terminal only)."""
    if not enabled or not ui.err_console.is_terminal:
        yield lambda _msg: None
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=ui.err_console,
        transient=True,
    ) as progress:
        spinner = progress.add_task("starting", total=None)

        def step(message: str) -> None:
            progress.update(spinner, description=message)

        yield step


def _emit(text: str, output: Path | None) -> None:
    if output is None:
        print(text)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        ui.err_console.print(f"wrote {output}")


def _verdict_rows(verdicts: Sequence[Verdict]) -> list[tuple[Any, ...]]:
    def num(x: float | None) -> str:
        return "" if x is None else f"{x:.4g}"

    return [
        (
            v.subject,
            v.method,
            num(v.statistic),
            num(v.q_value if v.q_value is not None else v.p_value),
            num(v.effect_size),
            num(v.threshold),
            v.decision,
            v.reason,
        )
        for v in verdicts
    ]


_HEADERS = ["column", "method", "statistic", "q", "effect", "threshold", "decision", "reason"]


@app.command()
def drift(
    reference: Annotated[Path, typer.Argument(help="Reference data file or saved profile")],
    current: Annotated[
        Path, typer.Argument(help="Current data file (CSV or Parquet; a Parquet folder on Spark)")
    ],
    columns: Annotated[
        list[str] | None, typer.Option("--columns", help="Columns to check (comma-separated)")
    ] = None,
    kind: Annotated[
        list[str] | None, typer.Option("--kind", help="Override a column kind: COLUMN=KIND")
    ] = None,
    engine: Annotated[
        Engine,
        typer.Option(
            "--engine",
            help="local: profile in this process; spark: profile Parquet files or folders "
            "on Spark (needs the spark extra and Java)",
        ),
    ] = Engine.local,
    fmt: Annotated[Format, typer.Option("--format", help="Output format")] = Format.text,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here")] = None,
    fail_on_drift: Annotated[
        bool, typer.Option("--fail-on-drift", help="Exit 1 when the dataset drifted")
    ] = False,
    alpha: Annotated[float, typer.Option(help="False discovery rate (or FWER)")] = 0.05,
    min_effect: Annotated[float, typer.Option(help="Smallest effect that counts")] = 0.05,
    correction: Annotated[
        Correction, typer.Option(help="Multiple-testing correction")
    ] = Correction.bh,
    calibrate_on: Annotated[
        CalibrationMethod | None,
        typer.Option("--calibrate", help="Calibrate thresholds on the reference data"),
    ] = None,
) -> None:
    """Compare CURRENT with REFERENCE column by column and print the drift verdicts.

    With ``--engine spark`` both sides are profiled on Spark (a saved profile is used as it is)
    and compared as profiles; the verdicts are those of the local engine.
    """
    from airsoc.detection.drift import calibrate, check_drift
    from airsoc.detection.html import render_drift_html
    from airsoc.detection.inputs import read_table
    from airsoc.detection.profiles import DatasetProfile

    with progress_steps(fmt == Format.text or output is not None) as step:
        ref_source, cur_source = reference_source(reference), reference_source(current)
        if engine == Engine.spark:
            if calibrate_on is not None:
                raise InputError("--calibrate needs --engine local (it resamples the data)")
            ref_source, cur_source = _spark_profiles(
                ref_source, cur_source, kinds=parse_kinds(kind), step=step
            )
        calibration = None
        if calibrate_on is not None:
            if isinstance(ref_source, DatasetProfile) or isinstance(cur_source, DatasetProfile):
                raise InputError("--calibrate needs the reference and current data, not profiles")
            step(f"calibrating thresholds ({calibrate_on.value})")
            cur_source = read_table(cur_source)
            calibration = calibrate(
                ref_source,
                n_current=max(cur_source.n_rows, 1),
                method=calibrate_on.value,
                columns=_columns(columns),
                kinds=parse_kinds(kind),
            )
        report = check_drift(
            ref_source,
            cur_source,
            columns=_columns(columns),
            kinds=parse_kinds(kind),
            alpha=alpha,
            min_effect=min_effect,
            correction=correction.value,
            calibration=calibration,
            on_step=step,
        )
    if fmt == Format.json:
        _emit(json.dumps(report.to_json_dict(), indent=2), output)
    elif fmt == Format.html:
        _emit(render_drift_html(report, title=f"Drift: {current.name} vs {reference.name}"), output)
    else:
        print_table("Drift", _HEADERS, _verdict_rows(report.columns))
        ui.console.print(
            f"dataset: {report.dataset.decision}: {report.dataset.reason}", markup=False
        )
        if report.quality:
            print_table("Data quality", _HEADERS, _verdict_rows(report.quality))
        if report.diagnosis is not None:
            ui.console.print(f"diagnosis: {report.diagnosis.reason}", markup=False)
    if fail_on_drift and report.dataset.decision == "drift":
        raise typer.Exit(code=1)


def _spark_profiles(
    reference: Any, current: Any, *, kinds: dict[str, str] | None, step: Any
) -> tuple[Any, Any]:
    """Return both sides as profiles computed on Spark (the current on the reference's grid)."""
    from airsoc.detection import spark as on_spark
    from airsoc.detection.profiles import DatasetProfile

    step("starting Spark")
    session = on_spark.spark_session()
    if not isinstance(reference, DatasetProfile):
        step(f"profiling {reference} on Spark")
        reference = on_spark.profile(
            on_spark.read_parquet(session, reference), kinds=kinds, source=str(reference)
        )
    if not isinstance(current, DatasetProfile):
        step(f"profiling {current} on Spark")
        current = on_spark.profile(
            on_spark.read_parquet(session, current),
            grid_from=reference,
            kinds=kinds,
            source=str(current),
        )
    return reference, current


@app.command()
def quality(
    reference: Annotated[Path, typer.Argument(help="Reference data file or saved profile")],
    current: Annotated[Path, typer.Argument(help="Current data file (CSV or Parquet)")],
    expected_rows: Annotated[
        int | None, typer.Option(help="Rows a normal window holds (for volume drops)")
    ] = None,
    fmt: Annotated[Format, typer.Option("--format", help="text or json")] = Format.text,
    fail_on_fault: Annotated[
        bool, typer.Option("--fail-on-fault", help="Exit 1 when a pipeline fault is found")
    ] = False,
) -> None:
    """Check CURRENT for pipeline faults against REFERENCE (schema, nulls, units, volume, ...)."""
    from airsoc.detection.quality import check_quality

    with progress_steps(fmt == Format.text):
        report = check_quality(reference_source(reference), current, expected_rows=expected_rows)
    if fmt == Format.json:
        print(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        print_table("Data quality", _HEADERS, _verdict_rows(report.verdicts))
        ui.console.print(f"diagnosis: {report.diagnosis.reason}", markup=False)
    if fail_on_fault and report.diagnosis.failure_mode == "pipeline_fault":
        raise typer.Exit(code=1)


@app.command()
def fairness(
    data: Annotated[Path, typer.Argument(help="Data file with group and prediction columns")],
    group: Annotated[str, typer.Option(help="Protected-group column")],
    prediction: Annotated[str, typer.Option(help="Prediction column")],
    label: Annotated[str | None, typer.Option(help="Label column (for opportunity/odds)")] = None,
    positive: Annotated[str, typer.Option(help="The favourable value")] = "1",
    threshold: Annotated[float, typer.Option(help="Disparate impact threshold")] = 0.8,
    fmt: Annotated[Format, typer.Option("--format", help="text or json")] = Format.text,
    fail_on_alert: Annotated[
        bool, typer.Option("--fail-on-alert", help="Exit 1 when a group is flagged")
    ] = False,
) -> None:
    """Check selection rates and error rates across protected groups."""
    from airsoc.detection.fairness import check_fairness

    report = check_fairness(
        data,
        group=group,
        prediction=prediction,
        label=label,
        positive=positive,
        threshold=threshold,
    )
    if fmt == Format.json:
        print(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        print_table(
            f"Fairness by {group} (reference group {report.reference_group})",
            ["group", "rows", "selection rate", "disparate impact", "q", "decision", "reason"],
            [
                (
                    v.subject,
                    v.n_current,
                    f"{v.evidence['selection_rate']:.1%}",
                    f"{v.statistic:.3f}" if v.statistic is not None else "",
                    f"{v.q_value:.3g}" if v.q_value is not None else "",
                    v.decision,
                    v.reason,
                )
                for v in report.groups
            ],
        )
        ui.console.print(
            f"overall: {report.overall.decision}: {report.overall.reason}", markup=False
        )
    if fail_on_alert and report.overall.decision == "drift":
        raise typer.Exit(code=1)
