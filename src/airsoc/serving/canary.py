"""Shadow and canary comparison: is a candidate version as good as the primary on live traffic?

:func:`shadow_compare` reads the gateway's event log while a candidate runs in shadow (its
answers logged, never returned) and pairs each of its rows with the primary's answer to the
same request: agreement, score distance, latency and, where delayed labels arrived, both
versions' error rates on the same rows.

:func:`canary_analysis` reads the two arms of a canary (the candidate's share of the traffic
and the primary's rest) and decides, as Argo Rollouts' and Kayenta's canary analysis do:
``promote`` (the candidate serves all traffic), ``abort`` (the canary ends, the candidate is
held) or ``continue``. Its performance test is sequential and anytime-valid, so it can be run
after every batch of traffic without inflating its error rates:

Each request goes to the candidate with probability ``share``, independently of everything
else. When both versions err equally often, each labelled error then falls in the candidate's
arm with probability ``share``; if the candidate errs ``r`` times as often, with
``theta(r) = share * r / (share * r + 1 - share)``. Two Wald likelihood ratios over the arms of
the errors seen so far, ``theta(1 + margin)`` against ``theta(1)``, are nonnegative
supermartingales under their null hypotheses, so by Ville's inequality each crosses
``1 / alpha`` with probability at most ``alpha`` however often it is looked at:

- ``abort`` when the ratio for "worse by the margin" against "no worse" crosses ``1 / alpha``;
- ``promote`` when the ratio for "no worse" against "worse by the margin" crosses ``1 / alpha``
  (non-inferiority), and the guards hold.

The guards are Kayenta-style metric checks: the candidate's failed-request rate (the same
allocation test, on gateway errors), its p95 latency against the primary's (medians while
an arm has served fewer than 20 requests, see :func:`latency_guard`), and the distance
between the two arms' score distributions (two-sample Kolmogorov-Smirnov statistic). A failed
guard aborts.

Every analysis is written on the system's audit timeline (``canary.shadow_compared``,
``canary.analysed``) with its numbers; a promotion or an abort changes the routing through
:mod:`airsoc.serving.control` in the same transaction, audited there too.

Example:
    >>> test = CanaryTest(share=0.5, margin=0.5, alpha=0.05)
    >>> test.update(candidate_errors=2, primary_errors=30).decision
    'promote'
    >>> CanaryTest(share=0.5, margin=0.5, alpha=0.05).update(
    ...     candidate_errors=30, primary_errors=2).decision
    'abort'
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel
from sqlalchemy.orm import Session

from airsoc import lineage
from airsoc.audit import append_entry
from airsoc.clock import Clock
from airsoc.errors import ConflictError, InputError
from airsoc.serving import control
from airsoc.settings import Settings
from airsoc.telemetry.readers import read_events
from airsoc.types import parse_duration

__all__ = [
    "ArmStats",
    "CanaryReport",
    "CanaryTest",
    "ShadowReport",
    "canary_analysis",
    "ks_distance",
    "latency_guard",
    "shadow_compare",
]

Verdict = Literal["promote", "abort", "continue"]

#: The latency guard compares p95 latencies only when both arms served at least this many
#: requests; below it an arm's p95 is its slowest request or two, which one stall (the new
#: version's first request, a busy machine) decides, so the guard compares medians.
MIN_P95_REQUESTS = 20


# --------------------------------------------------------------------------- statistics


def ks_distance(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Return the two-sample Kolmogorov-Smirnov statistic of ``a`` and ``b`` (None if one is
    empty): the largest gap between their empirical distribution functions, in [0, 1].

    >>> ks_distance([0.1, 0.2, 0.3], [0.1, 0.2, 0.3])
    0.0
    >>> ks_distance([0.1, 0.2], [0.8, 0.9])
    1.0
    """
    if len(a) == 0 or len(b) == 0:
        return None
    x, y = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
    grid = np.concatenate([x, y])
    fx = np.searchsorted(x, grid, side="right") / len(x)
    fy = np.searchsorted(y, grid, side="right") / len(y)
    return round(float(np.max(np.abs(fx - fy))), 6)


def _exposure(candidate: int, primary: int, share: float) -> float:
    """Return the candidate's share of the rows both arms saw (the route's ``share`` while
    either saw none), kept inside (0, 1).

    >>> _exposure(700, 350, 0.5), _exposure(0, 10, 0.5)
    (0.666667, 0.5)
    """
    if candidate <= 0 or primary <= 0:
        return share
    return round(min(max(candidate / (candidate + primary), 0.01), 0.99), 6)


@dataclass
class CanaryTest:
    """The sequential allocation test of a canary's errors (see the module docstring).

    ``share`` is the candidate's share of the traffic, ``margin`` how much more often (as a
    fraction) the candidate may err and still count as worse, ``alpha`` each decision's error
    probability. :meth:`update` takes the error counts of both arms so far (a running total,
    not increments) and returns the test.

    >>> t = CanaryTest(share=0.2, margin=0.5, alpha=0.05).update(candidate_errors=1,
    ...                                                          primary_errors=4)
    >>> t.decision, round(t.log_worse, 3), round(t.threshold, 3)
    ('continue', -0.071, 2.996)
    """

    share: float
    margin: float = 0.5
    alpha: float = 0.05
    decision: Verdict = "continue"
    log_worse: float = 0.0
    log_no_worse: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 < self.share < 1.0:
            raise InputError(f"the canary share must be in (0, 1), got {self.share}")
        if self.margin <= 0.0:
            raise InputError(f"the margin must be positive, got {self.margin}")
        if not 0.0 < self.alpha < 0.5:
            raise InputError(f"alpha must be in (0, 0.5), got {self.alpha}")

    @property
    def threshold(self) -> float:
        """Return the log-likelihood ratio either side must reach: ``log(1 / alpha)``."""
        return math.log(1.0 / self.alpha)

    def theta(self, ratio: float) -> float:
        """Return the chance an error falls in the candidate's arm when it errs ``ratio`` times
        as often as the primary."""
        return self.share * ratio / (self.share * ratio + 1.0 - self.share)

    def update(self, *, candidate_errors: int, primary_errors: int) -> CanaryTest:
        """Recompute the two likelihood ratios from the running error counts; return self."""
        if candidate_errors < 0 or primary_errors < 0:
            raise InputError("error counts cannot be negative")
        same, worse = self.theta(1.0), self.theta(1.0 + self.margin)
        x, y = candidate_errors, primary_errors
        step_worse = x * math.log(worse / same) + y * math.log((1 - worse) / (1 - same))
        self.log_worse = step_worse
        self.log_no_worse = -step_worse
        if self.log_worse >= self.threshold:
            self.decision = "abort"
        elif self.log_no_worse >= self.threshold:
            self.decision = "promote"
        else:
            self.decision = "continue"
        return self


# --------------------------------------------------------------------------- reports


class ArmStats(BaseModel):
    """What one version (one arm) did over the window."""

    version: str | None
    rows: int
    requests: int
    failed: int
    failure_rate: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    score_mean: float | None
    labelled: int
    errors: int
    error_rate: float | None


class ShadowReport(BaseModel):
    """A candidate run in shadow, compared with the primary on the same requests."""

    system: str
    primary: ArmStats
    candidate: ArmStats
    since: datetime
    until: datetime
    pairs: int
    agreement: float | None
    score_distance: float | None
    mean_score_difference: float | None
    labelled_pairs: int
    ready: bool
    reasons: list[str]


class CanaryReport(BaseModel):
    """A canary's analysis: both arms, the sequential test, the guards and the verdict."""

    system: str
    candidate_version: str
    primary: ArmStats
    candidate: ArmStats
    since: datetime
    until: datetime
    share: float
    margin: float
    alpha: float
    log_likelihood_worse: float
    log_likelihood_no_worse: float
    threshold: float
    failure_test: float
    score_distance: float | None
    latency_ratio: float | None
    checks: dict[str, bool]
    verdict: Verdict
    reasons: list[str]
    applied: bool


# --------------------------------------------------------------------------- reading the log


def _telemetry_dir(session: Session) -> Path:
    settings = session.info.get("airsoc_settings")
    if not isinstance(settings, Settings):
        raise InputError("this store session does not say where the telemetry lives")
    return settings.telemetry_dir


#: Texts already decoded to a scalar (outputs and labels repeat a few values a million times).
_SCALARS: dict[str, Any] = {}


def _decoded(value: Any) -> Any:
    """Return a logged JSON text decoded (the text itself when it is not JSON).

    >>> _decoded("1"), _decoded("[1, 2]"), _decoded("fraud"), _decoded(None)
    (1, [1, 2], 'fraud', None)
    """
    if isinstance(value, str):
        if value in _SCALARS:
            return _SCALARS[value]
        try:
            out = json.loads(value)
        except ValueError:
            out = value
        if (out is None or isinstance(out, int | float | str)) and len(_SCALARS) < 10_000:
            _SCALARS[value] = out  # immutable: safe to share
        return out
    return value


def _same(a: Any, b: Any) -> bool:
    return a is not None and b is not None and str(a) == str(b)


@dataclass
class _Rows:
    """Prediction rows of one arm, keyed by (request id, row index)."""

    version: str | None
    rows: dict[tuple[str, int], dict[str, Any]]

    def stats(self, labels: Mapping[tuple[str, int], Any]) -> ArmStats:
        rows = list(self.rows.values())
        latencies = np.array([r["latency_ms"] for r in rows], dtype=float)
        per_request = {r["request_id"]: r for r in rows}
        failed = sum(1 for r in per_request.values() if r["status"] == "error")
        scores = [r["score"] for r in rows if r["score"] is not None]
        labelled = [(k, r) for k, r in self.rows.items() if k in labels and r["status"] == "ok"]
        errors = sum(1 for k, r in labelled if not _same(_decoded(r["output"]), labels[k]))

        def pct(q: float) -> float | None:
            return round(float(np.percentile(latencies, q)), 3) if len(latencies) else None

        return ArmStats(
            version=self.version,
            rows=len(rows),
            requests=len(per_request),
            failed=failed,
            failure_rate=round(failed / len(per_request), 6) if per_request else None,
            latency_p50_ms=pct(50),
            latency_p95_ms=pct(95),
            score_mean=round(float(np.mean(scores)), 6) if scores else None,
            labelled=len(labelled),
            errors=errors,
            error_rate=round(errors / len(labelled), 6) if labelled else None,
        )


#: The fields of a prediction row an arm keeps (what :class:`_Rows` and the comparisons read).
_ARM_FIELDS = ("request_id", "row_index", "status", "latency_ms", "score", "output")
#: The fields that pick an arm's rows.
_ARM_KEYS = ("role", "version", "mode")


def _arm(table: pa.Table, *, role: str, version: str | None, mode: str | None) -> _Rows:
    # The arm's rows picked in Arrow; only they become Python rows.
    mask = pc.equal(table["role"], role)
    if version is not None:
        mask = pc.and_(mask, pc.equal(table["version"], version))
    if mode is not None:
        mask = pc.and_(mask, pc.equal(table["mode"], mode))
    out: dict[tuple[str, int], dict[str, Any]] = {}
    # Only the fields an arm's statistics read become Python values (not the inputs).
    for r in table.select(list(_ARM_FIELDS)).filter(mask).to_pylist():
        out[(r["request_id"], int(r["row_index"]))] = r
    return _Rows(version=version, rows=out)


def _labels(root: Path, system: str, since: datetime) -> dict[tuple[str, int], Any]:
    table = read_events(
        root, "label", system=system, start=since, columns=["request_id", "row_index", "label"]
    )
    ids, rows, labels = (table.column(c).to_pylist() for c in ("request_id", "row_index", "label"))
    return {(i, int(r)): _decoded(y) for i, r, y in zip(ids, rows, labels, strict=True)}


def _window(route: control.RouteView, clock: Clock, window: timedelta | str | None) -> datetime:
    if window is None:
        return route.updated_at
    return clock.now() - (window if isinstance(window, timedelta) else parse_duration(window))


def _candidate(route: control.RouteView, mode: str, version: str | None) -> str:
    if route.mode != mode or route.candidate_version is None:
        raise ConflictError(
            f"system {route.system} runs no {mode} now (mode {route.mode}); "
            f"start one with set_{mode} first"
        )
    if version is not None and version != route.candidate_version:
        raise ConflictError(
            f"system {route.system}: the {mode} runs {route.candidate_version}, not {version}"
        )
    return route.candidate_version


# --------------------------------------------------------------------------- services


def shadow_compare(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    reason: str,
    system: str,
    version: str | None = None,
    window: timedelta | str | None = None,
    min_pairs: int = 100,
    min_agreement: float = 0.9,
) -> ShadowReport:
    """Return how the candidate in shadow compares with the primary on the same requests.

    ``window`` reaches back from now (default: since the shadow started). The candidate is
    ``ready`` for a canary when at least ``min_pairs`` rows were answered by both, the two agree
    on at least ``min_agreement`` of them or the labels show the candidate errs no more often,
    and the candidate failed no more requests than the primary. The comparison is written on
    the system's audit timeline.

    >>> from airsoc.testing import scratch_operations
    >>> store, clock = scratch_operations()
    >>> with store.transaction() as s:
    ...     _ = control.set_shadow(s, clock=clock, actor="ana", system="fraud", version="v1",
    ...                            share=1.0, reason="try v1")
    ...     report = shadow_compare(s, clock=clock, actor="ana", reason="check", system="fraud")
    >>> report.pairs, report.ready, report.reasons
    (0, False, ['0 paired rows, fewer than the 100 needed'])
    >>> store.close()
    """
    route = control.get_route(session, system=system)
    candidate = _candidate(route, "shadow", version)
    since, until = _window(route, clock, window), clock.now()
    root = _telemetry_dir(session)
    table = read_events(
        root, "prediction", system=system, start=since, columns=[*_ARM_FIELDS, *_ARM_KEYS]
    )
    primary = _arm(table, role="primary", version=None, mode="shadow")
    shadow = _arm(table, role="shadow", version=candidate, mode="shadow")
    labels = _labels(root, system, since)
    keys = [k for k in shadow.rows if k in primary.rows and shadow.rows[k]["status"] == "ok"]
    keys = [k for k in keys if primary.rows[k]["status"] == "ok"]
    paired_primary = _Rows(route.primary_version, {k: primary.rows[k] for k in keys})
    paired_shadow = _Rows(candidate, {k: shadow.rows[k] for k in keys})
    agree = sum(
        1
        for k in keys
        if _same(_decoded(primary.rows[k]["output"]), _decoded(shadow.rows[k]["output"]))
    )
    both = [
        (primary.rows[k]["score"], shadow.rows[k]["score"])
        for k in keys
        if primary.rows[k]["score"] is not None and shadow.rows[k]["score"] is not None
    ]
    p_stats, c_stats = paired_primary.stats(labels), paired_shadow.stats(labels)
    c_all = shadow.stats(labels)
    c_stats = c_stats.model_copy(
        update={
            "failed": c_all.failed,
            "requests": c_all.requests,
            "failure_rate": c_all.failure_rate,
        }
    )
    agreement = round(agree / len(keys), 6) if keys else None
    reasons: list[str] = []
    if len(keys) < min_pairs:
        reasons.append(f"{len(keys)} paired rows, fewer than the {min_pairs} needed")
    better = (
        p_stats.error_rate is not None
        and c_stats.error_rate is not None
        and c_stats.labelled >= min_pairs
        and c_stats.error_rate <= p_stats.error_rate
    )
    if agreement is not None and agreement < min_agreement and not better:
        reasons.append(
            f"agreement {agreement:.3f} is under {min_agreement} and the labels do not show "
            "the candidate errs less"
        )
    if c_stats.failed > primary.stats(labels).failed:
        reasons.append(f"the candidate failed {c_stats.failed} requests")
    report = ShadowReport(
        system=system,
        primary=p_stats,
        candidate=c_stats,
        since=since,
        until=until,
        pairs=len(keys),
        agreement=agreement,
        score_distance=ks_distance([a for a, _ in both], [b for _, b in both]),
        mean_score_difference=(
            round(float(np.mean([b - a for a, b in both])), 6) if both else None
        ),
        labelled_pairs=c_stats.labelled,
        ready=not reasons,
        reasons=reasons,
    )
    append_entry(
        session,
        clock=clock,
        chain=lineage.system_chain(system),
        actor=actor,
        action="canary.shadow_compared",
        reason=reason,
        data=report.model_dump(mode="json"),
    )
    return report


def latency_guard(
    primary: ArmStats, candidate: ArmStats, *, max_ratio: float = 2.0, slack_ms: float = 50.0
) -> tuple[bool, str]:
    """Return whether the candidate's latency is within ``max_ratio`` times the primary's
    plus ``slack_ms``, and why: p95 against p95 when both arms served
    :data:`MIN_P95_REQUESTS` requests or more, else median against median.

    >>> def arm(requests: int, p50: float, p95: float) -> ArmStats:
    ...     return ArmStats(version="v", rows=requests, requests=requests, failed=0,
    ...                     failure_rate=0.0, latency_p50_ms=p50, latency_p95_ms=p95,
    ...                     score_mean=None, labelled=0, errors=0, error_rate=None)
    >>> ok, why = latency_guard(arm(9, 1.0, 1.5), arm(11, 2.0, 180.0))  # one stall in 11
    >>> ok, why
    (True, "the candidate's p50 latency 2.0 ms is within 2x the primary's 1.0 ms + 50 ms")
    >>> latency_guard(arm(40, 1.0, 1.5), arm(40, 2.0, 180.0))[0]
    False
    """
    p95 = min(primary.requests, candidate.requests) >= MIN_P95_REQUESTS
    name = "p95" if p95 else "p50"
    mine, theirs = (
        (candidate.latency_p95_ms, primary.latency_p95_ms)
        if p95
        else (candidate.latency_p50_ms, primary.latency_p50_ms)
    )
    if mine is None or theirs is None:
        return True, "no latency to compare"
    ok = mine <= theirs * max_ratio + slack_ms
    verb = "is within" if ok else "exceeds"
    return ok, (
        f"the candidate's {name} latency {mine} ms {verb} {max_ratio:g}x the primary's "
        f"{theirs} ms + {slack_ms:g} ms"
    )


def canary_analysis(
    session: Session,
    *,
    clock: Clock,
    actor: str,
    reason: str,
    system: str,
    version: str | None = None,
    window: timedelta | str | None = None,
    margin: float = 0.5,
    alpha: float = 0.05,
    max_labelled: int = 20_000,
    max_latency_ratio: float = 2.0,
    latency_slack_ms: float = 50.0,
    max_score_distance: float = 0.5,
    min_rows: int = 50,
    apply: bool = True,
) -> CanaryReport:
    """Return the verdict on the canary of ``system``: ``promote``, ``abort`` or ``continue``.

    See the module docstring for the test and the guards. With ``apply`` (the default) a
    ``promote`` makes the candidate the primary and an ``abort`` ends the canary and holds the
    candidate's promotion; ``continue`` changes nothing. A canary that reaches
    ``max_labelled`` labelled candidate rows without a decision is aborted: it could not show
    the candidate is no worse. Every analysis is written on the system's audit timeline.

    >>> from airsoc.testing import scratch_operations
    >>> store, clock = scratch_operations()
    >>> with store.transaction() as s:
    ...     canary_analysis(s, clock=clock, actor="ana", reason="check", system="fraud")
    Traceback (most recent call last):
    ...
    airsoc.errors.ConflictError: system fraud runs no canary now (mode primary); ...
    >>> with store.transaction() as s:
    ...     _ = control.set_canary(s, clock=clock, actor="ana", system="fraud", version="v1",
    ...                            share=0.1, reason="try v1")
    ...     report = canary_analysis(s, clock=clock, actor="ana", reason="check", system="fraud")
    >>> report.verdict, report.applied
    ('continue', False)
    >>> store.close()
    """
    route = control.get_route(session, system=system)
    candidate = _candidate(route, "canary", version)
    since, until = _window(route, clock, window), clock.now()
    root = _telemetry_dir(session)
    table = read_events(
        root, "prediction", system=system, start=since, columns=[*_ARM_FIELDS, *_ARM_KEYS]
    )
    labels = _labels(root, system, since)
    primary_rows = _arm(table, role="primary", version=None, mode="canary")
    canary_rows = _arm(table, role="canary", version=candidate, mode="canary")
    primary, canary = primary_rows.stats(labels), canary_rows.stats(labels)
    primary = primary.model_copy(update={"version": route.primary_version})
    # Requests, not rows, are routed: over a short window the arms' exposure drifts from the
    # route's share, so the errors are weighed by the share each arm actually got.
    test = CanaryTest(
        share=_exposure(canary.labelled, primary.labelled, route.candidate_share),
        margin=margin,
        alpha=alpha,
    ).update(candidate_errors=canary.errors, primary_errors=primary.errors)
    failures = CanaryTest(
        share=_exposure(canary.rows, primary.rows, route.candidate_share),
        margin=margin,
        alpha=alpha,
    ).update(candidate_errors=canary.failed, primary_errors=primary.failed)

    def scores(rows: _Rows) -> list[float]:
        return [r["score"] for r in rows.rows.values() if r["score"] is not None]

    distance = ks_distance(scores(primary_rows), scores(canary_rows))
    latency_ratio = (
        round(canary.latency_p95_ms / primary.latency_p95_ms, 6)
        if canary.latency_p95_ms is not None and primary.latency_p95_ms
        else None
    )
    enough = canary.rows >= min_rows and primary.rows >= min_rows
    latency_ok, latency_reason = latency_guard(
        primary, canary, max_ratio=max_latency_ratio, slack_ms=latency_slack_ms
    )
    checks = {
        "errors_no_worse": test.decision != "abort",
        "failures_no_worse": failures.decision != "abort",
        "latency": latency_ok,
        "score_distribution": not enough or distance is None or distance <= max_score_distance,
    }
    reasons: list[str] = []
    if test.decision == "abort":
        reasons.append(
            f"the candidate errs more often: {canary.errors}/{canary.labelled} labelled rows "
            f"against the primary's {primary.errors}/{primary.labelled}"
        )
    if failures.decision == "abort":
        reasons.append(f"the candidate failed {canary.failed}/{canary.requests} requests")
    if not checks["latency"]:
        reasons.append(latency_reason)
    if not checks["score_distribution"]:
        reasons.append(
            f"the score distributions differ by {distance} (Kolmogorov-Smirnov), "
            f"over {max_score_distance}"
        )
    verdict: Verdict
    if reasons:
        verdict = "abort"
    elif test.decision == "promote" and enough:
        verdict = "promote"
        reasons.append(
            f"the candidate errs no more than {1 + margin:g}x as often as the primary "
            f"({canary.errors}/{canary.labelled} against {primary.errors}/{primary.labelled}; "
            f"alpha {alpha})"
        )
    elif canary.labelled >= max_labelled:
        verdict = "abort"
        reasons.append(f"no decision after {canary.labelled} labelled candidate rows")
    else:
        verdict = "continue"
        reasons.append(
            f"not decided yet: {canary.labelled} labelled candidate rows, "
            f"{canary.errors + primary.errors} errors in both arms"
        )
    report = CanaryReport(
        system=system,
        candidate_version=candidate,
        primary=primary,
        candidate=canary,
        since=since,
        until=until,
        share=route.candidate_share,
        margin=margin,
        alpha=alpha,
        log_likelihood_worse=round(test.log_worse, 6),
        log_likelihood_no_worse=round(test.log_no_worse, 6),
        threshold=round(test.threshold, 6),
        failure_test=round(failures.log_worse, 6),
        score_distance=distance,
        latency_ratio=latency_ratio,
        checks=checks,
        verdict=verdict,
        reasons=reasons,
        applied=apply and verdict != "continue",
    )
    append_entry(
        session,
        clock=clock,
        chain=lineage.system_chain(system),
        actor=actor,
        action="canary.analysed",
        reason=reason,
        data=report.model_dump(mode="json"),
    )
    if apply and verdict == "promote":
        control.promote(
            session,
            clock=clock,
            actor=actor,
            system=system,
            version=candidate,
            reason=f"canary analysis: promote ({reasons[-1]})",
        )
    elif apply and verdict == "abort":
        why = f"canary analysis: abort ({'; '.join(reasons)})"
        control.restore(session, clock=clock, actor=actor, system=system, reason=why)
        lineage.hold_promotion(
            session, clock=clock, actor=actor, system=system, version=candidate, reason=why
        )
    return report
