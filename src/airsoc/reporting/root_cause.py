"""The post-mortem's root-cause section, computed from the findings forensics recorded.

Forensics records each conclusion as a finding whose ``data`` follows the ``Finding`` contract:
a subject (``{"type", "name"}``), a score in [0, 1], a rank, a time window, the evidence it
rests on and the method. This module groups those findings into the section a reader needs:
the top suspects of each kind (sources, batches, documents, clients, features, segments,
groups), the window, the methods, and the poisoning investigation's rollback-or-patch options
with their measured numbers and its recommendation. Findings written by people (no method or
no subject) are left to the report's lists as they are.

Example:
    >>> from datetime import datetime, timezone
    >>> from airsoc.incidents.findings import FindingKind, FindingView
    >>> def finding(id, kind, subject, score, **extra):
    ...     return FindingView(id=id, incident_id=1, title=f"{subject[1]} suspect", kind=kind,
    ...         detail="", recommendation="", chart=None, author="forensics",
    ...         created_at=datetime(2026, 3, 1, tzinfo=timezone.utc),
    ...         data={"subject": {"type": subject[0], "name": subject[1]}, "score": score,
    ...               "rank": 1, "method": "forensics.poisoning", **extra})
    >>> window = {"first_batch": "bolt-w04", "last_batch": "bolt-w06",
    ...           "start": "2026-02-02T00:00:00Z", "end": "2026-02-23T00:00:00Z"}
    >>> section = root_cause_section([
    ...     finding(1, FindingKind.ROOT_CAUSE, ("source", "bolt"), 0.98, window=window),
    ...     finding(2, FindingKind.OBSERVATION, ("segment", "fraud"), 0.9, window=window,
    ...             options=[{"action": "rollback", "metrics": {"recall": 0.81},
    ...                       "cost": {"retrain_s": 0}, "detail": ""}],
    ...             recommendation={"action": "rollback", "reason": "recall 0.81 vs 0.79"}),
    ... ])
    >>> [(g.label, [s.name for s in g.suspects]) for g in section.groups]
    [('Sources', ['bolt']), ('Segments', ['fraud'])]
    >>> section.windows[0].describe()
    'batches bolt-w04 to bolt-w06, 2026-02-02 00:00 to 2026-02-23 00:00 UTC'
    >>> section.recommendation.action, section.options[0].metric_text()
    ('rollback', 'recall 0.81')
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from airsoc.incidents.findings import FindingKind, FindingView

__all__ = [
    "SUBJECT_LABELS",
    "RecoveryOption",
    "RootCauseRecommendation",
    "RootCauseSection",
    "Suspect",
    "SuspectGroup",
    "SuspectWindow",
    "root_cause_section",
]

#: Subject types in the order the section lists them, with their headings.
SUBJECT_LABELS: dict[str, str] = {
    "source": "Sources",
    "batch": "Batches",
    "document": "Documents",
    "client": "Clients",
    "feature": "Features",
    "segment": "Segments",
    "group": "Groups",
    "session": "Sessions",
    "channel": "Channels",
}


class Suspect(BaseModel):
    """One suspect: what it is, how suspect (score in [0, 1], rank), by which method, and why."""

    name: str
    score: float
    rank: int
    method: str
    kind: str
    title: str


class SuspectGroup(BaseModel):
    """The top suspects of one subject type (sources, batches, ...), most suspect first."""

    subject_type: str
    label: str
    suspects: list[Suspect]
    total: int = Field(description="How many suspects of this type forensics recorded")


class SuspectWindow(BaseModel):
    """The time (and, for poisoning, the batches) a method bounds the cause to."""

    method: str
    first_batch: str | None = None
    last_batch: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def describe(self) -> str:
        """Return the window as a phrase ("batches a to b, <start> to <end> UTC")."""
        parts = []
        if self.first_batch:
            parts.append(
                f"batch {self.first_batch}"
                if self.first_batch == self.last_batch or not self.last_batch
                else f"batches {self.first_batch} to {self.last_batch}"
            )
        if self.start or self.end:
            start = f"{self.start:%Y-%m-%d %H:%M}" if self.start else "?"
            end = f"{self.end:%Y-%m-%d %H:%M}" if self.end else "?"
            parts.append(f"{start} to {end} UTC")
        return ", ".join(parts) or "not bounded"


class RecoveryOption(BaseModel):
    """A recovery option with the metrics measured on the trusted validation slice and its cost."""

    action: str
    metrics: dict[str, float]
    cost: dict[str, float | int]
    detail: str = ""

    @property
    def label(self) -> str:
        """Return the action as words ("retrain without suspects")."""
        return self.action.replace("_", " ")

    def metric_text(self) -> str:
        """Return the metrics as ``name value`` pairs."""
        return ", ".join(f"{k.replace('_', ' ')} {_number(v)}" for k, v in self.metrics.items())

    def cost_text(self) -> str:
        """Return the cost as ``name value`` pairs."""
        return ", ".join(f"{k.replace('_', ' ')} {_number(v)}" for k, v in self.cost.items())


class RootCauseRecommendation(BaseModel):
    """The option an investigation recommends, and why, in numbers."""

    action: str
    reason: str
    method: str

    @property
    def label(self) -> str:
        """Return the action as words."""
        return self.action.replace("_", " ")


class RootCauseSection(BaseModel):
    """The computed root-cause section: suspects by kind, windows, methods, options and the
    recommendation, and the ids of the findings it covers."""

    headlines: list[str] = Field(
        default_factory=list, description="The root-cause findings' sentences, most suspect first"
    )
    groups: list[SuspectGroup] = Field(default_factory=list)
    windows: list[SuspectWindow] = Field(default_factory=list)
    methods: list[str] = Field(
        default_factory=list, description="Each method in full, with the signals it combined"
    )
    options: list[RecoveryOption] = Field(default_factory=list)
    recommendation: RootCauseRecommendation | None = None
    covered: list[int] = Field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Return whether forensics recorded nothing this section could show."""
        return not self.groups and not self.options and self.recommendation is None


def _number(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _forensic(f: FindingView) -> bool:
    subject = f.data.get("subject")
    return bool(f.data.get("method")) and isinstance(subject, dict) and bool(subject.get("name"))


def _score(f: FindingView) -> float:
    try:
        return float(f.data.get("score", 0.0))
    except (TypeError, ValueError):
        return 0.0


def _window(method: str, raw: Any) -> SuspectWindow | None:
    if not isinstance(raw, dict):
        return None
    window = SuspectWindow(
        method=method,
        first_batch=raw.get("first_batch"),
        last_batch=raw.get("last_batch"),
        start=raw.get("start"),
        end=raw.get("end"),
    )
    if not (window.first_batch or window.start or window.end):
        return None
    return window


def root_cause_section(findings: Sequence[FindingView], *, top: int = 5) -> RootCauseSection:
    """Return the root-cause section computed from an incident's ``findings`` (top ``top``
    suspects of each subject type). See the module docstring for an example."""
    forensic = [f for f in findings if _forensic(f)]
    by_type: dict[str, list[Suspect]] = {}
    windows: dict[str, SuspectWindow] = {}
    methods: list[str] = []
    options: list[RecoveryOption] = []
    recommendation: RootCauseRecommendation | None = None
    for f in forensic:
        # "forensics.poisoning[screen,shift,...]": the tables name the investigation, the list
        # of methods keeps what it combined.
        full = str(f.data["method"])
        method = full.split("[", 1)[0]
        subject = f.data["subject"]
        if full not in methods:
            methods.append(full)
        by_type.setdefault(str(subject.get("type", "other")), []).append(
            Suspect(
                name=str(subject["name"]),
                score=_score(f),
                rank=int(f.data.get("rank", 0) or 0),
                method=method,
                kind=f.kind.value,
                title=f.title,
            )
        )
        window = _window(method, f.data.get("window"))
        if window is not None and method not in windows:
            windows[method] = window
        if isinstance(f.data.get("options"), list) and not options:
            options = [RecoveryOption.model_validate(o) for o in f.data["options"]]
        rec = f.data.get("recommendation")
        if isinstance(rec, dict) and rec.get("action") and recommendation is None:
            recommendation = RootCauseRecommendation(
                action=str(rec["action"]), reason=str(rec.get("reason", "")), method=method
            )
    order = list(SUBJECT_LABELS)
    groups = []
    for subject_type in sorted(
        by_type, key=lambda t: (order.index(t) if t in order else len(order), t)
    ):
        # One line per subject: the highest score any method gave it.
        best: dict[str, Suspect] = {}
        for s in by_type[subject_type]:
            if s.name not in best or s.score > best[s.name].score:
                best[s.name] = s
        ranked = sorted(best.values(), key=lambda s: (-s.score, s.rank, s.name))
        groups.append(
            SuspectGroup(
                subject_type=subject_type,
                label=SUBJECT_LABELS.get(subject_type, subject_type.capitalize() + "s"),
                suspects=ranked[:top],
                total=len(ranked),
            )
        )
    roots = sorted(
        (f for f in forensic if f.kind == FindingKind.ROOT_CAUSE), key=lambda f: -_score(f)
    )
    return RootCauseSection(
        headlines=[f.title for f in roots[:3]],
        groups=groups,
        windows=list(windows.values()),
        methods=methods,
        options=options,
        recommendation=recommendation,
        covered=[f.id for f in forensic],
    )
