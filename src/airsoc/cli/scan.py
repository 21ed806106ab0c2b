"""``airsoc scan`` and ``airsoc calibrate``: the LLM detectors on a team's own traffic."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from airsoc.cli.output import console
from airsoc.errors import DataFileError, InputError

__all__ = ["calibrate", "register", "scan"]


class ScanKindChoice(StrEnum):
    """The detectors ``airsoc scan`` runs."""

    injection = "injection"
    harmful = "harmful"
    grounding = "grounding"


class SourceChoice(StrEnum):
    """Where the scanned texts came from (each has its own threshold)."""

    user = "user"
    retrieved = "retrieved"
    tool = "tool"


def scan(
    kind: Annotated[ScanKindChoice, typer.Argument(help="injection, harmful or grounding")],
    file: Annotated[
        Path, typer.Argument(help="JSON lines: {text} (grounding: {answer, retrieved})")
    ],
    source: Annotated[SourceChoice, typer.Option(help="Where the texts came from")] = (
        SourceChoice.user
    ),
    index: Annotated[
        Path | None,
        typer.Option(help="The document index, YAML or JSON (required for grounding)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON verdict per line")] = False,
) -> None:
    """Score every line of a JSON-lines file offline: one verdict per input line, in order,
    with line, status, decision, score, issues and ms. Exit 0 whatever the verdicts."""
    from airsoc.detection.llm.scan import scan_file

    if kind is ScanKindChoice.grounding and index is None:
        raise InputError("grounding needs the document index (--index FILE)", loc="index")
    rows = scan_file(file, kind=kind.value, source=source.value, index=index)
    alarms = total = 0
    for row in rows:
        total += 1
        alarms += row["decision"] == "drift"
        if as_json:
            typer.echo(json.dumps(row, default=str))
        else:
            issues = ", ".join(str(i) for i in row.get("issues") or [])
            console.print(
                f"line {row['line']}: {row['status']} {row['decision']} "
                f"score {row['score']} {issues}".rstrip(),
                markup=False,
            )
    if not as_json:
        console.print(f"{total} lines, {alarms} alarms")


def calibrate(
    documents: Annotated[
        Path, typer.Option(help="The system's approved documents (YAML or JSON index)")
    ],
    turns: Annotated[
        Path | None,
        typer.Option(help="Benign sample turns, JSON lines of {user, retrieved, tools}"),
    ] = None,
    max_fpr: Annotated[float, typer.Option(help="False-positive rate to allow per source")] = (
        0.005
    ),
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the thresholds here as JSON")
    ] = None,
) -> None:
    """Fit the prompt-injection thresholds per source (user, retrieved, tool) on a system's
    own approved documents and benign turns; a monitor takes them as ``params.thresholds``."""
    from airsoc.detection.llm.calibration import calibrate_injection
    from airsoc.detection.llm.grounding import load_document_index

    samples = []
    if turns is not None:
        try:
            lines = turns.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise DataFileError(f"{turns}: cannot read ({exc.strerror})") from None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                samples.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataFileError(f"{turns}:{number}: not JSON ({exc.msg})") from None
    result = calibrate_injection(
        documents=load_document_index(documents).documents.values(),
        turns=samples,
        max_fpr=max_fpr,
    )
    text = json.dumps(result.to_dict(), indent=2, default=str)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        console.print(f"wrote {output}: thresholds {result.thresholds}", markup=False)


def register(app: typer.Typer) -> None:
    """Add ``scan`` and ``calibrate`` to ``app``."""
    app.command()(scan)
    app.command()(calibrate)
