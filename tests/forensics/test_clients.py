"""The client-abuse investigation: an extraction sweep, an evasion search at the decision
boundary, and a block that a rotated identity walks around."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from airsoc.clock import SimulatedClock
from airsoc.errors import InputError
from airsoc.forensics.clients import investigate_clients, record_client_findings
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.findings import list_findings
from airsoc.incidents.service import declare_incident
from airsoc.store import Store

T0 = datetime(2026, 11, 20, tzinfo=UTC)
WEIGHTS = np.array([1.5, -1.0, 0.8, 0.0])


def _score(x: np.ndarray) -> np.ndarray:
    scores: np.ndarray = 1 / (1 + np.exp(-(x @ WEIGHTS - 1.0)))
    return scores


def prediction_log(seed: int = 0, *, rotate: bool = True) -> tuple[pd.DataFrame, datetime]:
    """Forty ordinary clients, an extraction sweep (blocked after 12 h, and back under a new
    name when ``rotate``) and an evasion search near the boundary; return the log and the block
    time."""
    rng = np.random.default_rng(seed)
    rows: list[dict[str, object]] = []

    def add(client: str, x: np.ndarray, start: datetime, step: timedelta) -> None:
        for i, (row, s) in enumerate(zip(x, _score(x), strict=True)):
            rows.append({"client_id": client, "at": start + i * step, "score": float(s),
                         **{f"f{j}": float(v) for j, v in enumerate(row)}})  # fmt: skip

    for c in range(40):
        n = int(rng.integers(40, 300))
        x = rng.normal(0, 1, (n, 4))
        add(f"shop-{c:02d}", x, T0 + timedelta(minutes=int(rng.integers(0, 600))),
            timedelta(minutes=7))  # fmt: skip
    blocked_at = T0 + timedelta(hours=12)
    add("scraper", rng.uniform(-4, 4, (4000, 4)), T0 + timedelta(hours=2), timedelta(seconds=10))
    if rotate:
        add("scraper-2", rng.uniform(-4, 4, (2500, 4)), blocked_at + timedelta(minutes=30),
            timedelta(seconds=10))  # fmt: skip
    # Evasion: start from a few fraud-like points and nudge them towards the boundary.
    seeds = rng.normal(0, 1, (8, 4)) + np.array([1.5, -1.0, 0.0, 0.0])
    probes = np.repeat(seeds, 40, axis=0) + rng.normal(0, 0.02, (320, 4))
    probes -= np.outer((probes @ WEIGHTS - 1.0) * 0.9, WEIGHTS) / (WEIGHTS @ WEIGHTS)
    add("prober", probes, T0 + timedelta(hours=5), timedelta(seconds=45))
    # Queries the scraper sent after the block were refused: they are not in the answered log.
    log = pd.DataFrame(rows)
    log = log[~((log["client_id"] == "scraper") & (log["at"] >= blocked_at))]
    return log.reset_index(drop=True), blocked_at


def test_extraction_evasion_and_a_rotated_identity_are_found() -> None:
    log, blocked_at = prediction_log()
    found = investigate_clients(log, score_column="score", blocked={"scraper": blocked_at})
    kinds = {c.client: c.kind for c in found.suspects}
    assert kinds == {"scraper": "extraction", "scraper-2": "extraction", "prober": "evasion"}
    scraper = next(c for c in found.suspects if c.client == "scraper")
    assert scraper.first_at.startswith("2026-11-20T02:00")
    assert scraper.coverage_ratio > 1.3
    prober = next(c for c in found.suspects if c.client == "prober")
    assert prober.boundary_lift is not None
    assert prober.boundary_lift > 2
    (block,) = found.blocks
    assert block.answered_after == 0
    assert block.successors == ["scraper-2"]
    assert not block.stopped
    assert "did not stop" in found.recommendation


def test_a_block_that_held_is_said_to_have_held() -> None:
    log, blocked_at = prediction_log(rotate=False)
    found = investigate_clients(log, score_column="score", blocked={"scraper": blocked_at})
    (block,) = found.blocks
    assert block.stopped
    assert all(c.client.startswith(("scraper", "prober")) for c in found.suspects)


def test_ordinary_traffic_has_no_suspect() -> None:
    log, _ = prediction_log()
    ordinary = log[log["client_id"].str.startswith("shop-")]
    found = investigate_clients(ordinary, score_column="score")
    assert not found.suspects


def test_a_client_the_monitor_flagged_is_a_suspect_without_boundary_scores() -> None:
    # Scores that jump from 0 to 1 leave no query near the boundary: the per-client
    # monitor's alarm still makes its client a suspect, of the kind the monitor saw.
    log, _ = prediction_log()
    ordinary = log[log["client_id"].str.startswith("shop-")].copy()
    ordinary["score"] = (ordinary["score"] > 0.5).astype(float)
    found = investigate_clients(ordinary, score_column="score", flagged={"shop-07": "evasion"})
    assert [(c.client, c.kind) for c in found.suspects] == [("shop-07", "evasion")]
    assert "monitor alarmed" in found.suspects[0].reasons[-1]
    assert not investigate_clients(ordinary, score_column="score").suspects


def test_findings_and_bad_input(sqlite_store: Store) -> None:
    log, blocked_at = prediction_log()
    found = investigate_clients(log, score_column="score", blocked={"scraper": blocked_at})
    clock = SimulatedClock()
    with sqlite_store.transaction() as s:
        inc = declare_incident(s, clock=clock, actor="a", system="fraud",
                               failure_mode="model_extraction", summary="volume")  # fmt: skip
        blobs = BlobStore(sqlite_store.settings.evidence_dir)
        record_client_findings(s, clock=clock, blobs=blobs, incident_id=inc.id,
                               investigation=found, actor="forensics")  # fmt: skip
    with sqlite_store.read() as s:
        findings = list_findings(s, incident_id=inc.id)
    assert findings[0].kind.value == "root_cause"
    assert findings[0].data["subject"]["type"] == "client"
    assert any("did not stop" in f.title for f in findings)
    with pytest.raises(InputError, match="log: no column 'score'"):
        investigate_clients(log.drop(columns="score"), score_column="score")
