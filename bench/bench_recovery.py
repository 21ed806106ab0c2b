"""Recovery benchmark: does the canary analysis promote good candidates and abort bad ones, and
how much canary traffic does its sequential test need against a fixed-horizon test?

On the fraud system, for each seed: a primary trained with one vendor's fraud labels flipped
(the poisoned release), a candidate retrained on the clean rows, a candidate retrained on the
clean rows with another seed (as good as a clean primary), and a candidate trained with every
label flipped (worse). Live traffic (a fraud wave: 25% fraud) is split between primary and
candidate by the gateway's own request bucketing (:func:`airsoc.serving.gateway.canary_bucket`)
at a 50% share; every request gets its delayed label, 5% of them wrong (disputed chargebacks),
so that even a perfect model errs now and then.

- **sequential**: :class:`airsoc.serving.canary.CanaryTest` (the test ``canary_analysis`` runs),
  looked at after every 50 requests, as a playbook polling the canary would; undecided at the
  budget, it aborts.
- **fixed horizon**, measured on the same traffic: a one-sided two-proportion z-test looked at
  once, after the number of candidate requests a power calculation asks for (80% power to see
  the margin at the primary's error rate measured in shadow, alpha 0.05): promote if the
  candidate's error rate is significantly under ``(1 + margin)`` times the primary's, abort
  otherwise.

One command: ``python bench/bench_recovery.py`` (``--seeds N``, default 10). The numbers are
measured in this run on seeded data.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from airsoc.fleet.systems import (
    FRAUD_FEATURES,
    flip_labels,
    fraud_transactions,
    train_fraud_detector,
)
from airsoc.serving.canary import CanaryTest
from airsoc.serving.gateway import canary_bucket

SHARE = 0.5
MARGIN = 0.5
ALPHA = 0.05
LOOK_EVERY = 50
BUDGET = 8000  # requests in all
LABEL_NOISE = 0.05  # disputed chargebacks: delayed labels are not all right


@dataclass
class Outcome:
    verdict: str
    canary_requests: int


def _features(data: pd.DataFrame) -> pd.DataFrame:
    return data[FRAUD_FEATURES].assign(country_mismatch=data["country_mismatch"].astype(float))


def _noisy(data: pd.DataFrame, seed: int) -> pd.DataFrame:
    flip = np.random.default_rng(seed).random(len(data)) < LABEL_NOISE
    return data.assign(is_fraud=np.where(flip, 1 - data["is_fraud"], data["is_fraud"]))


def _errors(model: Any, data: pd.DataFrame) -> np.ndarray:
    return np.asarray(model.predict(_features(data)) != data["is_fraud"].to_numpy())


def sequential(primary_err: np.ndarray, cand_err: np.ndarray, arm: np.ndarray) -> Outcome:
    test = CanaryTest(share=SHARE, margin=MARGIN, alpha=ALPHA)
    for end in range(LOOK_EVERY, len(arm) + 1, LOOK_EVERY):
        canary = arm[:end]
        test.update(
            candidate_errors=int(cand_err[:end][canary].sum()),
            primary_errors=int(primary_err[:end][~canary].sum()),
        )
        if test.decision != "continue":
            return Outcome(test.decision, int(canary.sum()))
    return Outcome("abort", int(arm.sum()))


def horizon(primary_rate: float) -> int:
    """Return the candidate requests a fixed-horizon test needs for 80% power at the margin."""
    z_a, z_b = 1.645, 0.8416
    p0, p1 = primary_rate, primary_rate * (1 + MARGIN)
    var = p0 * (1 - p0) + p1 * (1 - p1)
    return math.ceil(((z_a + z_b) ** 2) * var / (p1 - p0) ** 2)


def fixed(primary_err: np.ndarray, cand_err: np.ndarray, arm: np.ndarray, n: int) -> Outcome:
    order = np.cumsum(arm)
    stop = int(np.searchsorted(order, n)) + 1
    if order[-1] < n:
        return Outcome("abort", int(order[-1]))
    canary, pc_err, pp_err = arm[:stop], cand_err[:stop], primary_err[:stop]
    nc, npr = int(canary.sum()), int((~canary).sum())
    pc, pp = pc_err[canary].mean(), pp_err[~canary].mean()
    se = math.sqrt(pc * (1 - pc) / nc + (1 + MARGIN) ** 2 * pp * (1 - pp) / npr) or 1e-9
    z = (pc - (1 + MARGIN) * pp) / se
    return Outcome("promote" if z < -1.645 else "abort", nc)


def run_seed(seed: int) -> list[dict[str, Any]]:
    clean = pd.concat([fraud_transactions(3000, seed=10 * seed + k) for k in (1, 2)])
    vendor = fraud_transactions(3000, seed=10 * seed + 3, fraud_rate=0.05)
    poisoned, _ = flip_labels(vendor, "is_fraud", share=1.0, seed=seed, only_positive=True)
    flipped = clean.assign(is_fraud=1 - clean["is_fraud"])
    primary_poisoned = train_fraud_detector(pd.concat([clean, poisoned]), seed=seed)
    primary_clean = train_fraud_detector(clean, seed=seed)
    retrained = train_fraud_detector(
        pd.concat([clean, vendor[vendor["is_fraud"] == 0]]), seed=seed + 1
    )
    worse = train_fraud_detector(flipped, seed=seed)
    shadow = _noisy(fraud_transactions(500, seed=10 * seed + 7, fraud_rate=0.25), seed)
    live = _noisy(fraud_transactions(BUDGET, seed=10 * seed + 8, fraud_rate=0.25), seed + 1)
    arm = np.array([canary_bucket(f"s{seed}-r{i}") < SHARE for i in range(len(live))])
    cases = [
        ("retrained vs poisoned primary", primary_poisoned, retrained, "promote"),
        ("retrained vs clean primary", primary_clean, retrained, "promote"),
        ("flipped labels vs clean primary", primary_clean, worse, "abort"),
    ]
    rows = []
    for name, primary, candidate, expected in cases:
        p_err, c_err = _errors(primary, live), _errors(candidate, live)
        n = horizon(max(float(_errors(primary, shadow).mean()), 0.005))
        seq, fix = sequential(p_err, c_err, arm), fixed(p_err, c_err, arm, n)
        rows.append(
            {
                "case": name,
                "expected": expected,
                "primary_error": float(p_err[~arm].mean()),
                "candidate_error": float(c_err[arm].mean()),
                "seq": seq,
                "fixed": fix,
                "horizon": n,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    started = time.perf_counter()
    results: dict[str, list[dict[str, Any]]] = {}
    with threadpool_limits(1):
        for seed in range(args.seeds):
            for row in run_seed(seed):
                results.setdefault(row["case"], []).append(row)
    print(
        f"canary analysis over {args.seeds} seeds (share {SHARE}, margin {MARGIN}, "
        f"alpha {ALPHA}, looks every {LOOK_EVERY} requests)\n"
    )
    header = (
        f"{'case':34} {'expect':8} {'err p/c':>13} {'seq ok':>7} {'fixed ok':>8} "
        f"{'seq req (median, max)':>22} {'fixed req':>10} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for case, rows in results.items():
        expected = rows[0]["expected"]
        seq_ok = sum(r["seq"].verdict == expected for r in rows)
        fix_ok = sum(r["fixed"].verdict == expected for r in rows)
        seq_n = [r["seq"].canary_requests for r in rows]
        fix_n = [r["fixed"].canary_requests for r in rows]
        errs = (
            f"{statistics.mean(r['primary_error'] for r in rows):.3f}/"
            f"{statistics.mean(r['candidate_error'] for r in rows):.3f}"
        )
        ratio = statistics.mean(seq_n) / statistics.mean(fix_n)
        print(
            f"{case:34} {expected:8} {errs:>13} {seq_ok:>4}/{len(rows):<2} "
            f"{fix_ok:>5}/{len(rows):<2} "
            f"{statistics.median(seq_n):>13.0f}, {max(seq_n):>6} {statistics.mean(fix_n):>10.0f} "
            f"{ratio:>6.2f}"
        )
    print(f"\n{time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
