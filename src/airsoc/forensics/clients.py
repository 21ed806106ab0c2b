"""Client abuse root cause (model extraction and evasion): which clients, from when, how many
queries, what they obtained, and whether blocking them stopped it.

:func:`investigate_clients` reads a prediction log (one row per answered query: the client, the
time, the input features and, where logged, the model's score) and judges every client against
the population of clients:

* **Volume.** Queries and queries per hour, as a robust z-score (median and MAD of the log of
  the clients' query counts).
* **Coverage of the input space.** The population's first three principal components are cut
  at their quantiles (tails included); the distinct cells a client's queries visit are
  compared with the cells the same number of queries drawn from the population visit.
  Extraction sweeps the space (ratio well above 1).
* **Decision-boundary probing.** The share of the client's queries whose score lies near the
  decision threshold, against the population's share; and the share of queries that nearly
  repeat an earlier query of the same client (tiny perturbations: evasion search).
* **Blocking.** For each blocked client: queries answered after the block, and clients first
  seen after it that behave the same (a rotated identity).

Example:
    >>> import numpy as np, pandas as pd
    >>> from datetime import datetime, timedelta, timezone
    >>> rng = np.random.default_rng(0)
    >>> t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> rows = []
    >>> for c in range(30):
    ...     for i in range(60):
    ...         x = rng.normal(0, 1, 2)
    ...         rows.append({"client": f"c{c}", "at": t0 + timedelta(minutes=i + c),
    ...                      "x0": x[0], "x1": x[1]})
    >>> for i in range(2000):
    ...     x = rng.uniform(-4, 4, 2)
    ...     rows.append({"client": "thief", "at": t0 + timedelta(seconds=5 * i),
    ...                  "x0": x[0], "x1": x[1]})
    >>> found = investigate_clients(pd.DataFrame(rows), client_column="client", time_column="at")
    >>> found.suspects[0].client, found.suspects[0].kind
    ('thief', 'extraction')
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from sqlalchemy.orm import Session

from airsoc.clock import Clock, ensure_utc
from airsoc.errors import InputError
from airsoc.forensics.record import Found, InvestigationRecord, record_investigation
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.findings import FindingKind

__all__ = [
    "BlockCheck",
    "ClientInvestigation",
    "ClientSuspicion",
    "client_findings",
    "investigate_clients",
    "record_client_findings",
]

METHOD = "forensics.clients[volume,coverage,boundary,near_duplicates,block_check]"


class ClientSuspicion(BaseModel):
    """One client judged against the population."""

    client: str
    score: float
    suspect: bool
    kind: Literal["extraction", "evasion", "none"]
    queries: int
    first_at: str
    last_at: str
    per_hour: float
    volume_z: float
    coverage_ratio: float
    boundary_share: float | None
    boundary_lift: float | None
    near_duplicate_share: float
    reasons: list[str]


class BlockCheck(BaseModel):
    """Whether blocking a client stopped the abuse."""

    client: str
    blocked_at: str
    answered_after: int
    successors: list[str]
    stopped: bool


class ClientInvestigation(BaseModel):
    """The client-abuse root cause."""

    clients: int
    queries: int
    suspects: list[ClientSuspicion]
    blocks: list[BlockCheck]
    recommendation: str
    method: str = METHOD
    notes: list[str] = []
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """Return the investigation as JSON-able data."""
        return self.model_dump(mode="json")


def investigate_clients(
    log: pd.DataFrame,
    *,
    client_column: str = "client_id",
    time_column: str = "at",
    score_column: str | None = None,
    features: Sequence[str] | None = None,
    threshold: float = 0.5,
    margin: float = 0.1,
    blocked: Mapping[str, datetime] | None = None,
    min_queries: int = 20,
    random_state: int = 0,
    flagged: Mapping[str, Literal["extraction", "evasion"]] | None = None,
) -> ClientInvestigation:
    """Return the clients that abuse the model, ranked, and whether blocking held.

    Parameters
    ----------
    log
        One row per answered query.
    client_column, time_column
        Who asked, and when.
    score_column
        The model's score (probability of the positive class); needed for boundary probing.
    features
        The numeric input features (default: every other numeric column).
    threshold, margin
        A score within ``margin`` of ``threshold`` lies near the decision boundary.
    blocked
        Clients that were blocked, and when.
    min_queries
        Clients with fewer queries are counted but not judged.
    flagged
        Clients a per-client monitor alarmed on (what its alert named), and the abuse it saw:
        each is a suspect of that kind even when its queries sit far from the boundary (an
        evasion against a model whose scores jump from 0 to 1 leaves no score near it).

    Raises
    ------
    InputError
        When the log is empty, a column is missing, or no numeric feature is left.

    Examples
    --------
    >>> investigate_clients(pd.DataFrame({"client_id": []}))
    Traceback (most recent call last):
    airsoc.errors.InputError: log: no query to investigate
    """
    started = time.perf_counter()
    if log.empty:
        raise InputError("no query to investigate", loc="log")
    special = [c for c in (client_column, time_column, score_column) if c is not None]
    for column in [*special, *(features or [])]:
        if column not in log.columns:
            raise InputError(f"no column {column!r}", loc="log")
    if features is None:
        features = [
            c for c in log.columns if c not in special and pd.api.types.is_numeric_dtype(log[c])
        ]
    if not features:
        raise InputError("no numeric feature to judge", loc="features")
    frame = log.copy()
    frame[time_column] = pd.to_datetime(frame[time_column], utc=True)
    frame = frame.sort_values(time_column, kind="stable")
    x = frame[list(features)].to_numpy(float)
    clients = frame[client_column].astype(str).to_numpy()
    counts = pd.Series(clients).value_counts()
    rng = np.random.default_rng(random_state)
    # The population: every client weighs the same (at most the median count of rows each),
    # so a client that sends half the traffic cannot become the norm it is judged against.
    cap = max(int(counts.median()), min_queries)
    population = np.concatenate(
        [rng.permutation(np.flatnonzero(clients == c))[:cap] for c in counts.index]
    )
    cells = _cells(x, population)
    log_counts = np.log(counts.to_numpy(float))
    med = float(np.median(log_counts))
    mad = float(np.median(np.abs(log_counts - med))) * 1.4826 or 0.5
    scores = frame[score_column].to_numpy(float) if score_column else None
    near = np.abs(scores - threshold) < margin if scores is not None else None
    base_near = float(near[population].mean()) if near is not None else None
    dup_scale = _duplicate_scale(x[population], rng)
    times = frame[time_column]
    out: list[ClientSuspicion] = []
    for client, n in counts.items():
        mask = clients == client
        when = times[mask]
        first, last = when.iloc[0], when.iloc[-1]
        hours = max((last - first).total_seconds() / 3600, 1 / 60)
        if n < min_queries:
            continue
        volume_z = (float(np.log(n)) - med) / mad
        visited = len(np.unique(cells[mask]))
        draws = [len(np.unique(cells[rng.choice(population, n)])) for _ in range(5)]
        coverage = visited / max(float(np.mean(draws)), 1.0)
        boundary_share = float(near[mask].mean()) if near is not None else None
        boundary_lift = (
            boundary_share / max(base_near or 0.0, 1e-3) if boundary_share is not None else None
        )
        dup = _near_duplicates(x[mask], dup_scale)
        parts = {
            "volume": _squash((volume_z - 2.0) / 2.0),
            "coverage": _squash((coverage - 1.5) / 0.3),
            "boundary": _squash(((boundary_lift or 0.0) - 2.0) / 1.5),
            "near_duplicates": _squash((dup - 0.2) / 0.2),
        }
        alarmed = (flagged or {}).get(str(client))
        if alarmed is not None:
            parts["monitor"] = 0.75
        score = max(parts.values())
        reasons = []
        if parts["volume"] >= 0.5:
            reasons.append(f"{n} queries, {volume_z:.1f} robust sd above the clients' median")
        if parts["coverage"] >= 0.5:
            reasons.append(f"visits {coverage:.1f}x the input cells typical traffic would")
        if parts["boundary"] >= 0.5 and boundary_share is not None:
            reasons.append(
                f"{boundary_share:.0%} of its queries score near the threshold "
                f"({boundary_lift:.1f}x the population)"
            )
        if parts["near_duplicates"] >= 0.5:
            reasons.append(f"{dup:.0%} of its queries nearly repeat an earlier one")
        if alarmed is not None:
            reasons.append(f"the {alarmed} monitor alarmed on its queries")
        kind: Literal["extraction", "evasion", "none"] = "none"
        if alarmed is not None:
            kind = alarmed  # the monitor's calibrated judgement names the abuse
        elif score >= 0.5:
            evasion = max(parts["boundary"], parts["near_duplicates"])
            kind = "evasion" if evasion > max(parts["coverage"], parts["volume"]) else "extraction"
        out.append(
            ClientSuspicion(
                client=str(client),
                score=round(score, 6),
                suspect=score >= 0.5,
                kind=kind,
                queries=int(n),
                first_at=first.isoformat(),
                last_at=last.isoformat(),
                per_hour=round(n / hours, 3),
                volume_z=round(volume_z, 3),
                coverage_ratio=round(coverage, 4),
                boundary_share=None if boundary_share is None else round(boundary_share, 4),
                boundary_lift=None if boundary_lift is None else round(boundary_lift, 4),
                near_duplicate_share=round(dup, 4),
                reasons=reasons,
            )
        )
    out.sort(key=lambda c: (-c.score, c.client))
    suspects = [c for c in out if c.suspect]
    blocks = _blocks(blocked or {}, clients, times, suspects)
    notes = []
    if len(counts) < 5:
        notes.append(f"only {len(counts)} clients: the population baseline is weak")
    if scores is None:
        notes.append("no score column: boundary probing not judged")
    failed = [b for b in blocks if not b.stopped]
    if failed:
        recommendation = "blocking did not stop it: " + "; ".join(
            f"{b.client} ({b.answered_after} answered after the block"
            + (f", continued as {', '.join(b.successors)}" if b.successors else "")
            + ")"
            for b in failed
        )
        recommendation += ": block by key and network, rate-limit new clients"
    elif suspects:
        recommendation = "block " + ", ".join(c.client for c in suspects[:10])
        if any(c.kind == "extraction" for c in suspects):
            recommendation += "; the model may be copied: rotate it and watermark its outputs"
    else:
        recommendation = "no client stands out from the population"
    return ClientInvestigation(
        clients=len(counts),
        queries=len(frame),
        suspects=suspects,
        blocks=blocks,
        recommendation=recommendation,
        notes=notes,
        duration_s=round(time.perf_counter() - started, 3),
    )


def _squash(z: float) -> float:
    """Map a margin above a rule's line to [0, 1]: 0.5 on the line, towards 1 far above."""
    return float(1.0 / (1.0 + np.exp(-4.0 * z)))


def _cells(x: np.ndarray[Any, Any], population: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """Return each row's cell: the population's first three principal components, each cut at
    its 1, 10, 25, 50, 75, 90 and 99 % quantiles (the tails are cells of their own)."""
    x = np.nan_to_num(x)
    ref = x[population]
    scale = ref.std(axis=0)
    z = (x - ref.mean(axis=0)) / np.where(scale == 0, 1.0, scale)
    k = min(3, z.shape[1])
    if z.shape[1] > k:
        z = PCA(n_components=k, random_state=0).fit(z[population]).transform(z)
    codes = np.zeros(len(z), dtype=np.int64)
    for j in range(k):
        qs = [0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99]
        edges = np.unique(np.quantile(z[population, j], qs))
        codes = codes * 9 + np.searchsorted(edges, z[:, j], side="right")
    return codes


def _duplicate_scale(x: np.ndarray[Any, Any], rng: np.random.Generator) -> float:
    """Return the distance below which two queries are near-duplicates: a small quantile of the
    population's nearest-neighbour distances."""
    sample = x[rng.choice(len(x), min(len(x), 3000), replace=False)]
    scale = np.nanstd(sample, axis=0)
    scale[scale == 0] = 1.0
    z = np.nan_to_num(sample / scale)
    if len(z) < 3:
        return 0.0
    dist, _ = NearestNeighbors(n_neighbors=2).fit(z).kneighbors(z)
    return float(np.quantile(dist[:, 1], 0.01)) * float(np.mean(scale)) or 1e-9


def _near_duplicates(x: np.ndarray[Any, Any], scale: float) -> float:
    if len(x) < 3 or scale <= 0:
        return 0.0
    x = np.nan_to_num(x[-2000:])
    dist, _ = NearestNeighbors(n_neighbors=2).fit(x).kneighbors(x)
    return float((dist[:, 1] <= scale).mean())


def _blocks(
    blocked: Mapping[str, datetime],
    clients: np.ndarray[Any, Any],
    times: pd.Series[Any],
    suspects: Sequence[ClientSuspicion],
) -> list[BlockCheck]:
    out = []
    for client, at in blocked.items():
        at = ensure_utc(at)
        after = int(((clients == client) & (times >= at).to_numpy()).sum())
        own = next((s for s in suspects if s.client == client), None)
        successors = [
            s.client
            for s in suspects
            if s.client != client
            and datetime.fromisoformat(s.first_at) >= at
            and (own is None or s.kind == own.kind)
        ]
        out.append(
            BlockCheck(
                client=client,
                blocked_at=at.isoformat(),
                answered_after=after,
                successors=successors,
                stopped=after == 0 and not successors,
            )
        )
    return out


def client_findings(found: ClientInvestigation) -> list[Found]:
    """Return the findings: each suspect client, then each block that did not hold."""
    out = []
    for rank, c in enumerate(found.suspects[:20]):
        out.append(
            Found(
                kind=FindingKind.ROOT_CAUSE if rank == 0 else FindingKind.CONTRIBUTING_FACTOR,
                subject_type="client",
                subject=c.client,
                score=c.score,
                title=(
                    f"Client {c.client}: {c.kind}, {c.queries} queries from {c.first_at[:16]} "
                    f"({c.per_hour:.0f}/h)"
                ),
                detail="; ".join(c.reasons),
                recommendation=found.recommendation if rank == 0 else "",
                window={"start": c.first_at, "end": c.last_at},
                data={
                    "coverage_ratio": c.coverage_ratio,
                    "boundary_lift": c.boundary_lift,
                    "near_duplicate_share": c.near_duplicate_share,
                },
            )
        )
    for b in found.blocks:
        if b.stopped:
            continue
        out.append(
            Found(
                kind=FindingKind.OBSERVATION,
                subject_type="client",
                subject=b.client,
                score=1.0,
                title=(
                    f"Blocking {b.client} at {b.blocked_at[:16]} did not stop it: "
                    f"{b.answered_after} answered after"
                    + (f"; continued as {', '.join(b.successors)}" if b.successors else "")
                ),
            )
        )
    return out


def record_client_findings(
    session: Session,
    *,
    clock: Clock,
    blobs: BlobStore,
    incident_id: int,
    investigation: ClientInvestigation,
    actor: str,
) -> InvestigationRecord:
    """Attach the client investigation (as evidence) and its findings to the incident."""
    return record_investigation(
        session,
        clock=clock,
        blobs=blobs,
        incident_id=incident_id,
        actor=actor,
        name="clients-investigation.json",
        body=investigation.to_json(),
        method=investigation.method,
        findings=client_findings(investigation),
    )
