"""Tabletop exercises: a scenario played in the terminal, step by step, by people.

The session reveals each stop of the scenario in time order (its injects, the log excerpts and
charts of that stretch, the incident state), asks the prompts due by then, and records every
answer and decision with its time. It ends with a debrief comparing the decisions with the
playbook of the failure mode the scenario expects, and with the scenario's ideal timeline; the
debrief is stored (``drill_debriefs``) so a review board can pick it up
(:func:`list_debriefs`), and exported as Markdown and HTML.

What a stop shows of the platform (log excerpts, charts, incident state) comes from a
:class:`Reveal`; :class:`StoreReveal` reads it from the store of a chaos run of the same
scenario, so the players see what the platform recorded, never what the scenario expects.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.testing import scratch_store
    >>> plan = TabletopPlan(
    ...     scenario="demo", title="A poisoned vendor batch",
    ...     stops=[Stop(at_s=0, lines=["message: the vendor calls"],
    ...                 prompts=[Prompt(id="p1", text="What do you do first?",
    ...                                 options=("capture_evidence", "rollback"))])],
    ...     playbook=PlaybookOutline(name="poisoned-training-data",
    ...                              steps=[("evidence", "capture_evidence"),
    ...                                     ("contain", "rollback")]),
    ...     ideal=[IdealStep(expected="containment rollback", decision="rollback", by_s=3600)],
    ... )
    >>> store = scratch_store()
    >>> debrief = run_tabletop(plan, answers=ScriptedAnswers([
    ...     {"answer": "Capture evidence first.", "decision": "capture_evidence"}]),
    ...     store=store, clock=SimulatedClock(), players=["dana"], out=None)
    >>> [(s["action"], s["decided"]) for s in debrief.comparison["playbook"]]
    [('capture_evidence', True), ('rollback', False)]
    >>> debrief.markdown.splitlines()[0]
    '# Tabletop debrief: A poisoned vendor batch (DRL-1)'
    >>> with store.read() as s:
    ...     [(d.kind, d.ref, d.status) for d in list_debriefs(s)]
    [('tabletop_debrief', 'DRL-1', 'open')]
    >>> store.close()
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import yaml
from markdown_it import MarkdownIt
from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.markup import escape
from sqlalchemy import select
from sqlalchemy.orm import Session

from airsoc.audit import append_entry, list_entries
from airsoc.clock import Clock
from airsoc.drills.injectors import builtin_injectors
from airsoc.drills.models import DebriefRow
from airsoc.drills.scenario import Scenario
from airsoc.errors import DataFileError, InputError, NotFoundError
from airsoc.incidents.service import list_incidents
from airsoc.incidents.taxonomy import failure_mode
from airsoc.monitoring.signals import list_signals
from airsoc.reporting.review_queue import file_review_item
from airsoc.response import default_playbooks
from airsoc.runtime.registries import build_action_registry
from airsoc.store import Store

__all__ = [
    "DEBRIEF_KIND",
    "AnswerSource",
    "Debrief",
    "DebriefItem",
    "IdealStep",
    "PlaybookOutline",
    "Prompt",
    "RecordedAnswer",
    "Reveal",
    "ScriptedAnswers",
    "Stop",
    "StoreReveal",
    "TabletopPlan",
    "TerminalAnswers",
    "debrief_html",
    "get_debrief",
    "list_debriefs",
    "load_answers",
    "plan_from_scenario",
    "run_tabletop",
    "sparkline",
]

DEBRIEF_KIND = "tabletop_debrief"
"""The kind a debrief has in a review queue."""

_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float]) -> str:
    """Return ``values`` as a one-line text chart.

    Example:
        >>> sparkline([0, 1, 2, 3, 4, 5, 6, 7])
        '▁▂▃▄▅▆▇█'
        >>> sparkline([2, 2]), sparkline([])
        ('▄▄', '')
    """
    if not values:
        return ""
    low, high = min(values), max(values)
    if high == low:
        return _BARS[3] * len(values)
    span = high - low
    return "".join(_BARS[min(7, int((v - low) / span * 8))] for v in values)


@dataclass(frozen=True)
class Prompt:
    """A question to the players; ``options`` are the decisions offered (empty: free text),
    ``ideal`` the answer the debrief shows beside theirs, ``playbook_step`` the step it is
    about."""

    id: str
    text: str
    options: tuple[str, ...] = ()
    ideal: str | None = None
    playbook_step: str | None = None


@dataclass
class Stop:
    """A point of the exercise: what is revealed at ``at_s`` and the prompts asked then."""

    at_s: float
    lines: list[str]
    prompts: list[Prompt] = field(default_factory=list)


@dataclass
class PlaybookOutline:
    """The playbook the decisions are compared with: its name and (step id, action) pairs."""

    name: str
    steps: list[tuple[str, str]]


@dataclass(frozen=True)
class IdealStep:
    """One step of the ideal timeline: what should happen, the decision that makes it, by when."""

    expected: str
    decision: str | None = None
    by_s: float | None = None


@dataclass
class TabletopPlan:
    """A tabletop exercise: its stops, the playbook to compare with, and the ideal timeline."""

    scenario: str
    title: str
    stops: list[Stop]
    playbook: PlaybookOutline | None = None
    ideal: list[IdealStep] = field(default_factory=list)


class Reveal(Protocol):
    """What the platform recorded, shown at each stop."""

    def excerpts(self, start_s: float, end_s: float) -> list[str]:
        """Return log lines recorded between two exercise times."""
        ...

    def charts(self, end_s: float) -> list[str]:
        """Return one-line charts of what was measured up to ``end_s``."""
        ...

    def state(self, at_s: float) -> list[str]:
        """Return the incident state at ``at_s``."""
        ...


class RecordedAnswer(BaseModel):
    """An answer and decision, with the exercise time it was asked at and when it was given."""

    model_config = ConfigDict(extra="forbid")

    prompt_id: str
    prompt: str
    answer: str
    decision: str | None = None
    ideal: str | None = None
    playbook_step: str | None = None
    at_s: float
    answered_at: datetime


class AnswerSource(Protocol):
    """Where answers come from: the players at the terminal, or a script."""

    def answer(self, prompt: Prompt) -> tuple[str, str | None]:
        """Return the answer to ``prompt`` and the decision it makes (or ``None``)."""
        ...


class ScriptedAnswers:
    """Answers given in advance, in prompt order or by prompt id; each is a text or a mapping
    with ``answer`` and ``decision``."""

    def __init__(self, answers: Sequence[Any] | dict[str, Any], *, source: str = "answers") -> None:
        self.answers = answers
        self.source = source
        self._next = 0

    def answer(self, prompt: Prompt) -> tuple[str, str | None]:
        """Return the scripted answer to ``prompt``; a missing one raises naming the prompt."""
        if isinstance(self.answers, dict):
            if prompt.id not in self.answers:
                raise DataFileError(f"{self.source}: no answer for prompt {prompt.id!r}")
            item, where = self.answers[prompt.id], f"{self.source}: {prompt.id}"
        else:
            if self._next >= len(self.answers):
                raise DataFileError(
                    f"{self.source}: {len(self.answers)} answers, but prompt {prompt.id!r} is "
                    f"number {self._next + 1}"
                )
            item, where = self.answers[self._next], f"{self.source}: [{self._next}]"
            self._next += 1
        if isinstance(item, str):
            return item, None
        if not isinstance(item, dict) or not isinstance(item.get("answer", ""), str):
            raise DataFileError(f"{where} must be a text or a mapping with 'answer', 'decision'")
        decision = item.get("decision")
        unknown = sorted(set(item) - {"answer", "decision"})
        if unknown:
            raise DataFileError(f"{where}: unknown key {unknown[0]!r}")
        if prompt.options and decision is not None and str(decision) not in prompt.options:
            raise DataFileError(
                f"{where}: decision {decision!r} is not one of {', '.join(prompt.options)}"
            )
        return str(item.get("answer", "")), None if decision is None else str(decision)


def load_answers(path: Path) -> ScriptedAnswers:
    """Read scripted answers from a YAML or JSON file (a list, or a mapping by prompt id,
    optionally under an ``answers`` key)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFileError(f"answers file {path} not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataFileError(f"cannot read answers file {path}: {exc}") from None
    if isinstance(data, dict) and "answers" in data:
        data = data["answers"]
    if not isinstance(data, list | dict):
        raise DataFileError(f"{path}: answers must be a list or a mapping by prompt id")
    return ScriptedAnswers(data, source=str(path))


class TerminalAnswers:
    """Asks the players at the terminal; with options, the decision is chosen by number."""

    def __init__(self, console: Console, ask: Callable[[str], str] | None = None) -> None:
        self.console = console
        self.ask = ask or (lambda text: console.input(text))

    def answer(self, prompt: Prompt) -> tuple[str, str | None]:
        """Return what the players typed, and the option they chose."""
        decision: str | None = None
        if prompt.options:
            for i, option in enumerate(prompt.options, 1):
                self.console.print(f"    {i}. {escape(option)}")
            while decision is None:
                choice = self.ask("  decision (number, or empty for none): ").strip()
                if not choice:
                    break
                if choice.isdigit() and 1 <= int(choice) <= len(prompt.options):
                    decision = prompt.options[int(choice) - 1]
                else:
                    self.console.print(f"  choose 1 to {len(prompt.options)}")
        return self.ask("  answer: ").strip(), decision


class DebriefItem(BaseModel):
    """A debrief as a review queue lists it."""

    model_config = ConfigDict(extra="forbid")

    kind: str
    id: int
    ref: str
    title: str
    status: str
    scenario: str
    created_at: datetime


class Debrief(BaseModel):
    """A stored debrief: the answers, the comparison and its Markdown."""

    model_config = ConfigDict(extra="forbid")

    id: int
    ref: str
    scenario: str
    title: str
    status: str
    players: list[str]
    answers: list[RecordedAnswer]
    comparison: dict[str, Any]
    started_at: datetime
    finished_at: datetime
    markdown: str


def plan_from_scenario(scenario: Scenario) -> TabletopPlan:
    """Return the tabletop exercise of ``scenario``: a stop at each inject (with the prompts
    asked right after it) and at each prompt's own time, the playbook of the failure mode the
    scenario expects, and its ideal timeline from the expectations (times from the first fault).

    Example:
        >>> from airsoc.drills.scenario import load_scenario
        >>> plan = plan_from_scenario(load_scenario("live-demo"))
        >>> [(s.at_s, len(s.prompts)) for s in plan.stops]
        [(30.0, 1), (60.0, 2), (600.0, 0)]
        >>> plan.stops[-1].lines
        ['end of the exercise']
        >>> plan.playbook.name if plan.playbook else None
        'poisoned-training-data'
        >>> [i.expected for i in plan.ideal][-1]
        'root cause names brightline-data'
        >>> plan_from_scenario(load_scenario("benign-week")).ideal[0].expected
        'no incident is declared'
    """
    injectors = builtin_injectors()
    stops: dict[float, Stop] = {}
    by_inject: dict[str, float] = {}
    for inject in scenario.injects:
        at = inject.at.total_seconds()
        by_inject[str(inject.id)] = at
        stop = stops.setdefault(at, Stop(at_s=at, lines=[]))
        if inject.kind == "message":
            stop.lines.append(f"message: {inject.params.get('text', '')}")
        else:
            injector = injectors[inject.kind]
            what = "benign change" if inject.benign else "fault"
            stop.lines.append(
                f"{what} {inject.id}: {injector.describe(injector.validate(dict(inject.params)))}"
            )
        if inject.message:
            stop.lines.append(f"message: {inject.message}")
    end = scenario.traffic.duration.total_seconds()
    stops.setdefault(end, Stop(at_s=end, lines=[])).lines.append("end of the exercise")
    for i, prompt in enumerate(scenario.tabletop):
        if prompt.after is not None:
            at = by_inject[prompt.after]
        elif prompt.at is not None:
            at = prompt.at.total_seconds()
        else:
            at = end
        stop = stops.setdefault(at, Stop(at_s=at, lines=[]))
        stop.prompts.append(
            Prompt(
                id=prompt.id or f"prompt-{i + 1}",
                text=prompt.prompt,
                options=tuple(prompt.choices),
                ideal=prompt.ideal,
                playbook_step=prompt.playbook_step,
            )
        )
    expected = scenario.expectations
    playbook = None
    ideal: list[IdealStep] = []
    fault_at = scenario.faults[0].at.total_seconds() if scenario.faults else 0.0

    def by(within: timedelta | None) -> float | None:
        return None if within is None else fault_at + within.total_seconds()

    if expected.no_incident:
        ideal.append(IdealStep(expected="no incident is declared"))
    if expected.incident is not None:
        mode = failure_mode(expected.incident.failure_mode)
        shipped = default_playbooks(registry=build_action_registry(plugins=False))
        found = next((p for p in shipped if p.name == mode.default_playbook), None)
        if found is not None:
            playbook = PlaybookOutline(
                name=found.name, steps=[(step.id, step.action) for step in found.steps]
            )
        severity = expected.incident.severity or mode.default_severity
        ideal.append(
            IdealStep(
                expected=f"declare {mode.name} at {severity} or worse",
                decision="declare_incident",
                by_s=by(expected.incident.within),
            )
        )
    for step in [*expected.containment, *expected.steps]:
        ideal.append(
            IdealStep(
                expected=("never " if step.forbidden else "") + step.action,
                decision=None if step.forbidden else step.action,
                by_s=by(step.within),
            )
        )
    if expected.root_cause is not None:
        ideal.append(IdealStep(expected=f"root cause names {expected.root_cause.subject}"))
    if expected.recovery is not None:
        what = expected.recovery.action or f"incident {expected.recovery.phase}"
        ideal.append(
            IdealStep(
                expected=f"recovery: {what}",
                decision=expected.recovery.action,
                by_s=by(expected.recovery.within),
            )
        )
    return TabletopPlan(
        scenario=scenario.name,
        title=scenario.name,
        stops=sorted(stops.values(), key=lambda s: s.at_s),
        playbook=playbook,
        ideal=ideal,
    )


class StoreReveal:
    """What the platform recorded in a chaos run of the scenario, from its store: the audit
    entries of the fleet's systems and of its incidents, the monitors' statistics as text
    charts, and each incident's phase at the time of the stop.

    ``started_at`` is when the run started (exercise time 0)."""

    def __init__(
        self, store: Store, *, started_at: datetime, systems: Sequence[str], limit: int = 12
    ) -> None:
        self.store = store
        self.started_at = started_at
        self.systems = list(systems)
        self.limit = limit

    def _at(self, seconds: float) -> datetime:
        return self.started_at + timedelta(seconds=seconds)

    def _chains(self, session: Session) -> list[str]:
        return [f"system/{s}" for s in self.systems] + [
            f"incident/{i.id}" for i in list_incidents(session)
        ]

    def excerpts(self, start_s: float, end_s: float) -> list[str]:
        """Return the last audit entries recorded after ``start_s`` (from the beginning when it
        is 0), up to ``end_s``."""
        low = self._at(start_s) if start_s > 0 else datetime.min.replace(tzinfo=UTC)
        high = self._at(end_s)
        with self.store.read() as s:
            entries = [
                (e.at, chain, e)
                for chain in self._chains(s)
                for e in list_entries(s, chain=chain)
                if low < e.at <= high
            ]
        entries.sort(key=lambda t: t[0])
        return [
            f"T+{_clock_text((at - self.started_at).total_seconds())} {chain} {e.actor}: "
            f"{e.action} {e.reason}".rstrip()[:200]
            for at, chain, e in entries[-self.limit :]
        ]

    def charts(self, end_s: float) -> list[str]:
        """Return each monitor's statistic up to ``end_s`` as a sparkline (last 24 runs)."""
        high = self._at(end_s)
        with self.store.read() as s:
            signals = [
                v
                for system in self.systems
                for v in list_signals(s, system=system)
                if v.at <= high and v.statistic is not None
            ]
        series: dict[str, list[float]] = {}
        for v in sorted(signals, key=lambda v: v.at):
            series.setdefault(f"{v.monitor} {v.subject}".strip(), []).append(
                float(v.statistic or 0)
            )
        return [
            f"{name[:40]:<40} {sparkline(values[-24:])} last {values[-1]:.3g}"
            for name, values in sorted(series.items())
        ][: self.limit]

    def state(self, at_s: float) -> list[str]:
        """Return each incident declared by ``at_s`` with its phase then."""
        high = self._at(at_s)
        out = []
        with self.store.read() as s:
            for incident in list_incidents(s):
                timeline = [e for e in list_entries(s, chain=f"incident/{incident.id}")
                            if e.at <= high]  # fmt: skip
                if not timeline:
                    continue
                phase = "detected"
                for e in timeline:
                    if e.action == "incident.transitioned":
                        phase = str(e.data.get("to", phase))
                out.append(
                    f"{incident.ref} {incident.failure_mode} on {incident.system} "
                    f"({incident.severity}): {phase}"
                )
        return out


def run_tabletop(
    plan: TabletopPlan,
    *,
    answers: AnswerSource,
    store: Store,
    clock: Clock,
    players: Sequence[str],
    out: Console | None,
    reveal: Reveal | None = None,
) -> Debrief:
    """Play ``plan``: reveal each stop, ask its prompts, store and return the debrief."""
    if not plan.stops:
        raise InputError(f"scenario {plan.scenario} has nothing to reveal", loc="injects")
    started = clock.now()
    recorded: list[RecordedAnswer] = []
    previous = 0.0
    for stop in sorted(plan.stops, key=lambda s: s.at_s):
        _show(out, f"\n[bold]T+{_clock_text(stop.at_s)}[/bold]")
        for line in stop.lines:
            _show(out, f"  {escape(line)}")
        if reveal is not None:
            for title, lines in (
                ("log", reveal.excerpts(previous, stop.at_s)),
                ("charts", reveal.charts(stop.at_s)),
                ("incident state", reveal.state(stop.at_s)),
            ):
                if lines:
                    _show(out, f"  [dim]{title}[/dim]")
                    for line in lines:
                        _show(out, f"    {escape(line)}")
        previous = stop.at_s
        for prompt in stop.prompts:
            _show(out, f"  [yellow]? {escape(prompt.text)}[/yellow]")
            text, decision = answers.answer(prompt)
            recorded.append(
                RecordedAnswer(
                    prompt_id=prompt.id,
                    prompt=prompt.text,
                    answer=text,
                    decision=decision,
                    ideal=prompt.ideal,
                    playbook_step=prompt.playbook_step,
                    at_s=stop.at_s,
                    answered_at=clock.now(),
                )
            )
    comparison = compare(plan, recorded)
    actor = ",".join(players) or "players"
    with store.transaction() as s:
        row = DebriefRow(
            scenario=plan.scenario,
            title=plan.title,
            status="open",
            players=list(players),
            answers=[a.model_dump(mode="json") for a in recorded],
            comparison=comparison,
            started_at=started,
            finished_at=clock.now(),
            created_by=actor,
        )
        s.add(row)
        s.flush()
        append_entry(
            s,
            clock=clock,
            chain=f"drill/{row.id}",
            actor=actor,
            action="drill.debrief_recorded",
            reason=f"tabletop exercise of {plan.scenario}: {len(recorded)} answers",
            data={
                "scenario": plan.scenario,
                "decisions": [a.decision for a in recorded if a.decision],
                "matched": comparison["matched"],
                "missed": comparison["missed"],
            },
        )
        debrief = _view(row)
        # The debrief joins the review board's queue in the same transaction.
        file_review_item(
            s,
            clock=clock,
            kind="tabletop_debrief",
            reference=debrief.ref,
            title=debrief.title,
            actor=actor,
        )
    _show(out, "\n" + escape(debrief.markdown))
    return debrief


def compare(plan: TabletopPlan, answers: Sequence[RecordedAnswer]) -> dict[str, Any]:
    """Return how the decisions compare with the playbook (each step decided or not, and when)
    and with the ideal timeline (each step made in time, late or never); no answer is judged
    on its words, only its decision."""
    decided: dict[str, float] = {}
    for a in answers:
        if a.decision:
            decided.setdefault(a.decision.lower(), a.at_s)

    def when(*names: str | None) -> float | None:
        times = [decided[n.lower()] for n in names if n and n.lower() in decided]
        return min(times) if times else None

    steps = plan.playbook.steps if plan.playbook else []
    taken = {step: when(action, step) for step, action in steps}
    playbook: list[dict[str, Any]] = [
        {"step": step, "action": action, "decided": taken[step] is not None, "at_s": taken[step]}
        for step, action in steps
    ]
    ideal = []
    for item in plan.ideal:
        at = when(item.decision)
        if item.decision is None:
            verdict = "discussed"
        elif at is None:
            verdict = "missed"
        elif item.by_s is not None and at > item.by_s:
            verdict = "late"
        else:
            verdict = "in time"
        ideal.append(
            {"expected": item.expected, "decision": item.decision, "by_s": item.by_s,
             "at_s": at, "verdict": verdict}
        )  # fmt: skip
    known = {a.lower() for _, a in steps} | {s.lower() for s, _ in steps}
    known |= {str(i.decision).lower() for i in plan.ideal if i.decision}
    decided_steps = [(step, action) for step, action in steps if taken[step] is not None]
    order = [a for _, a in sorted(decided_steps, key=lambda sa: taken[sa[0]] or 0.0)]
    expected_order = [a for _, a in decided_steps]
    return {
        "playbook_name": plan.playbook.name if plan.playbook else None,
        "playbook": playbook,
        "ideal": ideal,
        "extra_decisions": sorted({d for d in decided if d not in known}),
        "in_playbook_order": order == expected_order,
        "matched": sum(1 for s in playbook if s["decided"])
        + sum(1 for i in ideal if i["verdict"] == "in time"),
        "missed": sum(1 for s in playbook if not s["decided"])
        + sum(1 for i in ideal if i["verdict"] in ("missed", "late")),
    }


def debrief_markdown(
    *,
    ref: str,
    title: str,
    scenario: str,
    players: Iterable[str],
    answers: Sequence[RecordedAnswer],
    comparison: dict[str, Any],
) -> str:
    """Return a debrief as Markdown: the answers, then the playbook and timeline comparisons."""
    lines = [
        f"# Tabletop debrief: {title} ({ref})",
        "",
        f"Scenario `{scenario}`; players: {', '.join(players) or 'not named'}.",
        "",
        "## Answers and decisions",
        "",
        "| at | prompt | decision | answer | ideal | answered at |",
        "|---|---|---|---|---|---|",
    ]
    for a in answers:
        lines.append(
            f"| T+{_clock_text(a.at_s)} | {_cell(a.prompt)} | {_cell(a.decision or '-')} | "
            f"{_cell(a.answer)} | {_cell(a.ideal or '-')} | {a.answered_at:%Y-%m-%d %H:%M:%S} |"
        )
    if comparison.get("playbook_name"):
        lines += [
            "",
            f"## Compared with the playbook `{comparison['playbook_name']}`",
            "",
            "| step | action | decided | at |",
            "|---|---|---|---|",
        ]
        for s in comparison["playbook"]:
            at = "-" if s["at_s"] is None else f"T+{_clock_text(float(s['at_s']))}"
            lines.append(
                f"| {s['step']} | {s['action']} | {'yes' if s['decided'] else 'no'} | {at} |"
            )
        order = "in" if comparison["in_playbook_order"] else "not in"
        lines += ["", f"The decisions taken were {order} the playbook's order."]
    if comparison.get("ideal"):
        lines += [
            "",
            "## Compared with the ideal timeline",
            "",
            "| expected | decision | by | decided at | verdict |",
            "|---|---|---|---|---|",
        ]
        for i in comparison["ideal"]:
            by = "-" if i["by_s"] is None else f"T+{_clock_text(float(i['by_s']))}"
            at = "-" if i["at_s"] is None else f"T+{_clock_text(float(i['at_s']))}"
            lines.append(
                f"| {_cell(i['expected'])} | {_cell(i['decision'] or '-')} | {by} | {at} | "
                f"{i['verdict']} |"
            )
    if comparison.get("extra_decisions"):
        lines += [
            "",
            "Decisions outside the playbook and the timeline: "
            + ", ".join(comparison["extra_decisions"]),
        ]
    return "\n".join(lines) + "\n"


def debrief_html(debrief: Debrief) -> str:
    """Return a debrief as a standalone HTML page, rendered from its Markdown.

    Example:
        >>> from datetime import datetime, timezone
        >>> now = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> d = Debrief(id=1, ref="DRL-1", scenario="x", title="X", status="open", players=[],
        ...             answers=[], comparison={}, started_at=now, finished_at=now,
        ...             markdown="# Tabletop debrief: X (DRL-1)\\n")
        >>> "<h1>Tabletop debrief: X (DRL-1)</h1>" in debrief_html(d)
        True
    """
    body = str(MarkdownIt("commonmark", {"html": False}).enable("table").render(debrief.markdown))
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(debrief.ref)}: {html.escape(debrief.title)}</title>"
        "<style>body{font-family:sans-serif;max-width:60rem;margin:2rem auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .5rem}"
        "</style></head>\n<body>\n" + body + "</body></html>\n"
    )


def list_debriefs(session: Session, *, status: str | None = None) -> list[DebriefItem]:
    """Return the stored debriefs, newest first, as a review queue lists them (kind, ref,
    title, status)."""
    query = select(DebriefRow).order_by(DebriefRow.id.desc())
    if status is not None:
        query = query.where(DebriefRow.status == status)
    return [
        DebriefItem(
            kind=DEBRIEF_KIND,
            id=row.id,
            ref=_ref(row.id),
            title=f"Tabletop debrief: {row.title}",
            status=row.status,
            scenario=row.scenario,
            created_at=row.finished_at,
        )
        for row in session.scalars(query)
    ]


def get_debrief(session: Session, *, debrief_id: int) -> Debrief:
    """Return debrief ``debrief_id`` with its answers, comparison and Markdown."""
    row = session.get(DebriefRow, debrief_id)
    if row is None:
        raise NotFoundError(f"debrief {debrief_id} not found")
    return _view(row)


def _view(row: DebriefRow) -> Debrief:
    answers = [RecordedAnswer.model_validate(a) for a in row.answers]
    ref = _ref(row.id)
    return Debrief(
        id=row.id,
        ref=ref,
        scenario=row.scenario,
        title=row.title,
        status=row.status,
        players=list(row.players),
        answers=answers,
        comparison=dict(row.comparison),
        started_at=row.started_at,
        finished_at=row.finished_at,
        markdown=debrief_markdown(
            ref=ref,
            title=row.title,
            scenario=row.scenario,
            players=row.players,
            answers=answers,
            comparison=row.comparison,
        ),
    )


def _ref(debrief_id: int) -> str:
    return f"DRL-{debrief_id}"


def _show(out: Console | None, text: str) -> None:
    if out is not None:
        out.print(text)


def _clock_text(seconds: float) -> str:
    """Return exercise time as ``1d 02:03`` or ``02:03`` (hours and minutes), with seconds
    when it is not on a minute (``00:01:30``)."""
    days, rest = divmod(int(seconds), 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}"
    if rest % 60:
        text += f":{rest % 60:02d}"
    return f"{days}d {text}" if days else text


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")
