"""Forensics benchmark: poisoning root cause on a registered fraud system, evidence capture of a
1M-row telemetry window, an ART pixel-pattern backdoor on digits, a vendor label flip on
breast_cancer, the drift root cause (a logging bug, a shift in one segment) and the RAG root
cause on the demo support bot with one corrupted policy document.

One command: ``python bench/bench_forensics.py`` (``--quick`` skips the ART and breast_cancer
rows; ``--only drift --only rag`` runs just those). Every number is measured in this run on
seeded data; the investigations only see the registered batch files and the logs, the
generators' truth grades them. Baselines, measured on the same data: the ingestion screen's
row flags (every confident-learning flag of every batch, no failing slice, no false-discovery
control); for capture, reading the window alone; for drift, a pooled check with no measurement
step and a per-feature ranking; for RAG, the most-retrieved document. The ART row
needs ``adversarial-robustness-toolbox`` (the ``bench`` extra); without it the row says so.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.forensics.drift_generators import event_log
from tests.forensics.generators import (
    FEATURES,
    VENDOR_SHARES,
    fraud_world,
    transactions,
)
from tests.forensics.rag_generators import rag_world
from tests.forensics.registry import register_world

from airsoc.clock import SimulatedClock
from airsoc.detection.attacks import PoisoningScreen
from airsoc.fleet.rag.policies import policy_index
from airsoc.forensics import BatchData, capture_evidence, investigate_batches, investigate_poisoning
from airsoc.forensics.drift import investigate_drift
from airsoc.forensics.rag import investigate_rag
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.service import declare_incident
from airsoc.lineage import register_system
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.telemetry import EVENT_SCHEMAS, partition_dir, read_events

HAVE_ART = importlib.util.find_spec("art") is not None
ROWS: list[tuple[str, str, str, str, str]] = []
T0 = datetime(2026, 1, 5, tzinfo=UTC)


def row(check: str, target: str, measured: str, baseline: str, met: bool | None) -> None:
    """Add one line to the table."""
    ROWS.append((check, target, measured, baseline, "-" if met is None else "yes" if met else "NO"))


def prf(listed: set[Any], truth: set[Any]) -> tuple[float, float]:
    """Return (precision, recall) of a listed set against the truth."""
    hits = len(listed & truth)
    return hits / max(len(listed), 1), hits / max(len(truth), 1)


def fnr(train: pd.DataFrame, test: pd.DataFrame) -> float:
    """Return the false-negative rate on ``test`` of the fraud recipe trained on ``train``."""
    with threadpool_limits(limits=1):
        model = HistGradientBoostingClassifier(
            max_iter=60, learning_rate=0.2, early_stopping=False, random_state=0
        ).fit(train[FEATURES], train["label"])
    positives = test["label"].to_numpy() == 1
    return float((model.predict(test.loc[positives, FEATURES]) == 0).mean())


def fraud(folder: Path) -> None:
    world = fraud_world()
    store = Store.open(Settings.resolve(data_dir=folder / "data", environ={}))
    register_world(store, world, folder / "batches")
    started = time.perf_counter()
    with store.read() as s:
        found = investigate_poisoning(s, system="fraud", model_version="v3")
    took = time.perf_counter() - started
    store.close()
    truth = {(b, int(r)) for b, rows in world.flipped.items() for r in rows}
    top = found.suspect_sources[0].source if found.suspect_sources else "none"
    second = found.sources[1] if len(found.sources) > 1 else None
    row(
        "fraud: 30 weeks x 3 vendors, vendor named first",
        "bolt first",
        f"{top} ({found.suspect_sources[0].score:.2f})" if found.suspect_sources else "none",
        f"next: {second.source} ({second.score:.2f})" if second else "-",
        top == "bolt",
    )
    first, last = world.span
    w = found.window
    ok = (
        w.first_batch is not None
        and w.last_batch is not None
        and abs(world.week(w.first_batch) - first) <= 1
        and abs(world.week(w.last_batch) - last) <= 1
    )
    row(
        "fraud: window (first, last suspect batch)",
        f"weeks {first}..{last} +-1",
        f"{w.first_batch}..{w.last_batch} ({w.start:%Y-%m-%d}..{w.end:%Y-%m-%d})"
        if w.start and w.end
        else "none",
        f"{len(found.suspect_batches)} suspect batches",
        ok,
    )
    listed = {(s.batch, s.row) for s in found.suspect_samples}
    p, r = prf(listed, truth)
    # Baseline: the ingestion screen's own flags on every batch (no slice, no FDR control).
    trusted = pd.concat(world.batches[b] for b in world.batches if world.week(b) < 10)
    screen = PoisoningScreen().fit(trusted[FEATURES].to_numpy(), trusted["label"].to_numpy())
    flagged: set[Any] = set()
    for b, frame in world.batches.items():
        if world.week(b) < 10:
            continue
        res = screen.screen(frame[FEATURES].to_numpy(), frame["label"].to_numpy(), batch_id=b)
        flagged |= {(b, int(i)) for i in np.flatnonzero(res.flagged)}
    bp, br = prf(flagged, truth)
    row(
        f"fraud: flipped rows listed ({len(truth)} flipped, {world.flipped_share():.1%} of fraud)",
        "P>=0.9, R>=0.9",
        f"P {p:.3f} R {r:.3f} ({len(listed)} listed)",
        f"screen flags P {bp:.3f} R {br:.3f}",
        p >= 0.9 and r >= 0.9,
    )
    excluded = {c.batch: c.excluded_rows for c in found.clean_training_set}
    clean = pd.concat(world.batches[b].drop(index=excluded[b]) for b in world.batches)
    unpoisoned = pd.concat(world.truth.values())
    poisoned = pd.concat(world.batches.values())
    test = pd.concat(
        transactions(int(200_000 * share), seed=90_000 + i, shift=0.1 * i)
        for i, share in enumerate(VENDOR_SHARES.values())
    )
    ref, bad, fixed = fnr(unpoisoned, test), fnr(poisoned, test), fnr(clean, test)
    row(
        "fraud: FNR retrained on the clean set (200k held-out rows)",
        "<= 1.1 x unpoisoned",
        f"{fixed:.4f} ({fixed / ref:.2f} x unpoisoned {ref:.4f})",
        f"poisoned {bad:.4f} ({bad / ref:.2f} x)",
        fixed <= 1.1 * ref,
    )
    options = {o.action: o for o in found.options}
    rb, rt = options["rollback"], options["retrain_without_suspects"]
    row(
        "fraud: rollback vs retrain (trusted validation slice)",
        "numbers + recommendation",
        f"FNR rollback {rb.metrics['false_negative_rate']:.4f}, retrain "
        f"{rt.metrics['false_negative_rate']:.4f} (fit {rt.cost['fit_seconds']:.2f}s); "
        f"-> {found.recommendation.action}",
        f"degraded {found.failing_slice.degraded['false_negative_rate']:.4f}",
        None,
    )
    row("fraud: investigation time", "-", f"{took:.1f}s", "-", None)


def capture(folder: Path, n: int = 1_000_000) -> None:
    store = Store.open(Settings.resolve(data_dir=folder / "data", environ={}))
    root = store.settings.telemetry_dir
    schema = EVENT_SCHEMAS["prediction"]
    rng = np.random.default_rng(0)
    end = T0 + timedelta(days=7)
    for day, per_day in enumerate(len(part) for part in np.array_split(np.arange(n), 7)):
        ts = pd.date_range(T0 + timedelta(days=day), periods=per_day, freq="80ms", tz="UTC")
        amounts = rng.lognormal(3.6, 0.9, per_day).round(2)
        table = pa.table(
            {
                "request_id": [f"r{day}-{i}" for i in range(per_day)],
                "ts": pa.array(ts, type=schema.field("ts").type),
                "system": ["fraud"] * per_day,
                "version": ["v3"] * per_day,
                "mode": ["primary"] * per_day,
                "role": ["primary"] * per_day,
                "client_id": [f"c{i % 500}" for i in range(per_day)],
                "row_index": np.zeros(per_day, dtype=np.int32),
                "inputs": [f'{{"amount": {a}}}' for a in amounts],
                "output": (rng.random(per_day) < 0.05).astype(int).astype(str),
                "score": rng.random(per_day),
                "latency_ms": rng.gamma(2.0, 3.0, per_day),
                "status": ["ok"] * per_day,
            },
            schema=schema,
        )
        target = partition_dir(root, "prediction", "fraud", f"{T0 + timedelta(days=day):%Y-%m-%d}")
        target.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target / "part-bench-0.parquet")
    clock = SimulatedClock(end)
    with store.transaction() as s:
        register_system(
            s, clock=clock, actor="a", name="fraud", kind="tabular-classifier", owner="r"
        )
    read_events(root, "prediction", system="fraud")  # warm the file cache for both timings
    reads, takes = [], []
    for attempt in range(3):
        started = time.perf_counter()
        baseline = read_events(root, "prediction", system="fraud", start=T0, end=end).num_rows
        reads.append(time.perf_counter() - started)
        # A fresh evidence folder each time: a blob already stored is never written again.
        blobs = BlobStore(folder / f"evidence-{attempt}")
        started = time.perf_counter()
        with store.transaction() as s:
            inc = declare_incident(
                s,
                clock=clock,
                actor="a",
                system="fraud",
                failure_mode="data_poisoning",
                summary="x",
            )
            manifest = capture_evidence(
                s,
                clock=clock,
                blobs=blobs,
                incident_id=inc.id,
                actor="bench",
                telemetry_root=root,
                window=timedelta(days=7),
                config_text="systems: {}\n",
            )
        takes.append(time.perf_counter() - started)
    store.close()
    took, read_s = statistics.median(takes), statistics.median(reads)
    rows = next(i for i in manifest.items if i.name == "telemetry/prediction.parquet")
    row(
        f"capture_evidence: {rows.detail['rows']:,}-row window + manifest (median of 3)",
        "< 2 s",
        f"{took:.2f}s (max {max(takes):.2f}s; {len(manifest.items)} items)",
        f"read window alone {read_s:.2f}s ({baseline:,} rows; {took / read_s:.1f} x)",
        took < 2.0 and rows.detail["rows"] == n,
    )


def _batches(
    x: np.ndarray, y: np.ndarray, vendors: list[str], per_vendor: int
) -> list[tuple[str, str, np.ndarray]]:
    """Split rows into ``per_vendor`` consecutive weekly batches per vendor (row indices)."""
    parts = np.array_split(np.arange(len(x)), len(vendors) * per_vendor)
    out = []
    for k, rows in enumerate(parts):
        vendor, week = vendors[k % len(vendors)], k // len(vendors)
        out.append((f"{vendor}-w{week:02d}", vendor, rows))
    return out


def _frames(
    x: np.ndarray, y: np.ndarray, split: list[tuple[str, str, np.ndarray]]
) -> list[BatchData]:
    cols = [f"f{j}" for j in range(x.shape[1])]
    return [
        BatchData(
            name,
            vendor,
            T0 + timedelta(weeks=int(name.rsplit("-w", 1)[1])),
            None,
            pd.DataFrame(x[rows], columns=cols).assign(label=y[rows]),
        )
        for name, vendor, rows in split
    ]


def digits_backdoor() -> None:
    if not HAVE_ART:
        row("ART pixel backdoor on digits", "P,R >= 0.9", "n/a (ART not installed)", "-", None)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ART warns that PyTorch is absent; it is not needed
        from art.attacks.poisoning import PoisoningAttackBackdoor
        from art.attacks.poisoning.perturbations import add_pattern_bd

    rng = np.random.default_rng(0)
    digits = load_digits()
    order = rng.permutation(len(digits.target))
    images, y = digits.images[order] / 16.0, digits.target[order].copy()
    vendors = ["acme", "bolt", "cobalt"]
    split = _batches(images.reshape(len(y), -1), y, vendors, per_vendor=4)
    trusted = [name for name, _, _ in split if int(name.rsplit("-w", 1)[1]) < 2]
    truth: set[Any] = set()
    attack = PoisoningAttackBackdoor(lambda x: add_pattern_bd(x, pixel_value=1.0))
    for name, vendor, rows in split:
        if vendor != "bolt" or name in trusted:
            continue
        chosen = rng.choice(np.flatnonzero(y[rows] != 0), 50, replace=False)
        target = rows[chosen]
        poisoned, _ = attack.poison(images[target], y=np.eye(10)[np.zeros(len(target), int)])
        images[target] = poisoned
        y[target] = 0
        truth |= {(name, int(c)) for c in chosen}
    flat = images.reshape(len(y), -1)
    data = _frames(flat, y, split)
    recipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = investigate_batches(
            data, trusted=trusted, positive_label=0, estimator=recipe, validation_share=0.5
        )
    took = time.perf_counter() - started
    p, r = prf({(s.batch, s.row) for s in found.suspect_samples}, truth)
    share = len(truth) / len(y)
    top = found.suspect_sources[0].source if found.suspect_sources else "none"
    row(
        f"ART pixel backdoor on digits ({len(truth)} rows, {share:.1%}, target 0)",
        "P,R >= 0.9",
        f"P {p:.3f} R {r:.3f}; vendor {top}",
        f"{took:.1f}s",
        p >= 0.9 and r >= 0.9,
    )


def breast_cancer_flip() -> None:
    rng = np.random.default_rng(1)
    bc = load_breast_cancer()
    order = rng.permutation(len(bc.target))
    x, y = bc.data[order], bc.target[order].copy()
    vendors = ["acme", "bolt", "cobalt", "delta"]
    split = _batches(x, y, vendors, per_vendor=3)
    trusted = [name for name, _, _ in split if name.endswith("-w00")]
    flipped = 0
    for name, vendor, rows in split:
        if vendor == "cobalt" and name not in trusted:
            # 0 = malignant: the vendor hides malignant cases as benign.
            malignant = rows[y[rows] == 0]
            hide = rng.choice(malignant, len(malignant) // 2, replace=False)
            y[hide] = 1
            flipped += len(hide)
    data = _frames(x, y, split)
    recipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = investigate_batches(data, trusted=trusted, positive_label=0, estimator=recipe)
    ranked = [f"{s.source} {s.score:.2f}" for s in found.sources]
    top = found.sources[0].source
    row(
        f"breast_cancer: vendor hides {flipped} malignant as benign",
        "cobalt first",
        ", ".join(ranked),
        "-",
        top == "cobalt",
    )


def drift(seeds: int = 5, n: int = 30_000) -> None:
    """A logging bug that halves clicks, and an age shift in one region, over ``seeds`` seeds."""
    features = ["region", "price", "dwell", "age"]
    faults = 0
    naive = 0
    took: list[float] = []
    for seed in range(seeds):
        ref, cur = event_log(n, seed=100 + seed), event_log(n, seed=200 + seed, click_kept=0.5)
        started = time.perf_counter()
        found = investigate_drift(
            ref, cur, features=features, event_column="event",
            label_column="label", prediction_column="prediction",
        )  # fmt: skip
        took.append(time.perf_counter() - started)
        anomalies = [(m.check, m.subject) for m in found.measurement_anomalies]
        faults += found.classification == "pipeline_fault" and anomalies == [
            ("event_count", "click")
        ]
        # Baseline: a drift check with no measurement step, features pooled over events.
        pooled = investigate_drift(ref.drop(columns="event"), cur.drop(columns="event"),
                                   features=features)  # fmt: skip
        naive += pooled.classification == "no_drift"
    row(
        f"drift: clicks halved by a logging bug ({seeds} seeds, {n} events)",
        "pipeline fault, not drift",
        f"{faults}/{seeds} pipeline_fault (click), median {statistics.median(took):.2f} s",
        f"pooled check, no measurement step: {naive}/{seeds} no_drift (fault missed)",
        faults == seeds,
    )
    localised = 0
    purity: list[float] = []
    naive_top = 0
    for seed in range(seeds):
        ref = event_log(n, seed=100 + seed)
        cur = event_log(n, seed=300 + seed, region_shift=("north", 12.0))
        found = investigate_drift(
            ref, cur, features=features, event_column="event",
            label_column="label", prediction_column="prediction",
        )  # fmt: skip
        top = found.segments[0] if found.segments else None
        ok = (
            top is not None
            and "region == north" in top.conditions
            and found.classification == "covariate_shift"
        )
        localised += ok
        purity.append(sum(s.score for s in found.segments if "region == north" in s.conditions))
        # Baseline: the feature ranking alone (which feature moved most), no segment search.
        naive_top += bool(found.features) and found.features[0].feature == "region"
    row(
        f"drift: age +12 y in region north only ({seeds} seeds)",
        "localised to region == north",
        f"{localised}/{seeds} top segment region == north; "
        f"share of the shift in north segments {min(purity):.2f}-{max(purity):.2f}",
        f"per-feature ranking names region first: {naive_top}/{seeds}",
        localised == seeds,
    )


def rag(seeds: int = 3, sessions: int = 240) -> None:
    """The demo support bot with one corrupted policy document, over ``seeds`` traffic seeds."""
    approved = policy_index()
    first = 0
    bounded = 0
    widths: list[float] = []
    precision: list[float] = []
    recall: list[float] = []
    took: list[float] = []
    naive_first = 0
    for seed in range(seeds):
        world = rag_world(sessions=sessions, seed=10 + seed, reingest_share=0.2)
        started = time.perf_counter()
        found = investigate_rag(world.turns, approved=approved)
        took.append(time.perf_counter() - started)
        top = found.documents[0]
        first += top.doc_id == world.corrupted and top.changed
        if top.last_seen_approved and top.changed_at:
            low = datetime.fromisoformat(top.last_seen_approved)
            high = datetime.fromisoformat(top.changed_at)
            bounded += low < world.changed_at <= high
            widths.append((high - low).total_seconds() / 60)
        p, r = prf({s.session_id for s in found.affected_sessions}, world.exposed_sessions)
        precision.append(p)
        recall.append(r)
        # Baseline: the document retrieved most often (no grounding, no lift, no hash).
        counts: dict[str, int] = {}
        for t in world.turns:
            for c in t.retrieved:
                counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
        naive_first += max(counts, key=lambda d: counts[d]) == world.corrupted
    row(
        f"RAG: one corrupted policy document ({seeds} seeds, {sessions} sessions)",
        "named first, with the time it changed",
        f"{first}/{seeds} first; change bounded {bounded}/{seeds}, "
        f"window {max(widths or [0]):.1f} min at most; median {statistics.median(took):.1f} s",
        f"most-retrieved document: {naive_first}/{seeds} first (no change time)",
        first == seeds and bounded == seeds,
    )
    row(
        "RAG: affected sessions for the customer notice",
        "precision, recall 1.0",
        f"precision {min(precision):.3f}, recall {min(recall):.3f} (worst seed)",
        "-",
        min(precision) == 1.0 and min(recall) == 1.0,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="skip ART and breast_cancer")
    parser.add_argument(
        "--only",
        choices=["fraud", "capture", "digits", "breast_cancer", "drift", "rag"],
        action="append",
        help="run only these rows (repeat)",
    )
    args = parser.parse_args()
    only = set(args.only or ["fraud", "capture", "digits", "breast_cancer", "drift", "rag"])
    if args.quick:
        only -= {"digits", "breast_cancer"}
    with tempfile.TemporaryDirectory() as tmp:
        if "fraud" in only:
            fraud(Path(tmp) / "fraud")
        if "capture" in only:
            capture(Path(tmp) / "capture")
    if "digits" in only:
        digits_backdoor()
    if "breast_cancer" in only:
        breast_cancer_flip()
    if "drift" in only:
        drift()
    if "rag" in only:
        rag()
    header = ("check", "target", "measured", "baseline (same run)", "met")
    widths = [max(len(h), *(len(r[i]) for r in ROWS)) for i, h in enumerate(header)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in ROWS:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
