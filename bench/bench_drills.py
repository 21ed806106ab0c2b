"""Drills benchmark: every built-in scenario in chaos mode at full scale, each scorecard's times
and its wall time, against the targets and a baseline measured in the same run.

Targets: all scenarios together in under 5 minutes; ``fraud-vendor-poisoning`` (7 simulated
days, about a million transactions) in under 60 s.

Baseline, measured in this run: the wall time of scoring the same number of transactions
straight with the fraud model (the fleet's v1, its generator, no platform: no gateway, no
event log, no monitors), in the same batch size. The ratio says what the whole platform costs
over the bare model for the drill's traffic.

Each scenario's line shows its wall time and its CPU time (the process's, all threads): on a
shared machine the wall time also counts the time other programs held the cores.

Each drill runs in a fresh data dir (kept with ``--keep``); ``--only NAME`` runs some
scenarios, ``--scale S`` reduces the traffic (default 1: full scale).

One command: ``python bench/bench_drills.py``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from airsoc.drills.runner import DrillOptions, run_drill
from airsoc.drills.scenario import builtin_scenario_names, load_scenario
from airsoc.fleet.systems import FRAUD_FEATURES, fraud_transactions, train_fraud_detector
from airsoc.settings import Settings
from airsoc.store import Store

ALL_TARGET_S = 300.0
TARGETS_S = {"fraud-vendor-poisoning": 60.0}
TIMES = ("time_to_detect_s", "time_to_declare_s", "time_to_contain_s", "time_to_recover_s")


def baseline(rows: int, batch: int) -> float:
    """Return the wall seconds to generate and score ``rows`` transactions with the fleet's
    fraud model directly, ``batch`` rows at a time."""
    model = train_fraud_detector(fraud_transactions(6000, seed=1))
    started = time.perf_counter()
    for i, start in enumerate(range(0, rows, batch)):
        data = fraud_transactions(min(batch, rows - start), seed=i)
        features = data[FRAUD_FEATURES].assign(
            country_mismatch=data["country_mismatch"].astype(float)
        )
        model.predict_proba(features)
    return time.perf_counter() - started


def run_one(name: str, scale: float, keep: bool) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix=f"drill-{name}-"))
    store = Store.open(Settings.resolve(data_dir=folder / "data", environ={}))
    started = time.perf_counter()
    cpu_started = time.process_time()
    try:
        card = run_drill(load_scenario(name), store=store, options=DrillOptions(scale=scale))
    finally:
        store.close()
    wall = time.perf_counter() - started
    out = card.to_json()
    out["bench_wall_s"] = round(wall, 2)
    # CPU seconds of the process (all its threads): what the drill costs on a shared machine,
    # where its wall time also counts the time other programs held the cores.
    out["bench_cpu_s"] = round(time.process_time() - cpu_started, 2)
    if not keep:
        shutil.rmtree(folder, ignore_errors=True)
    else:
        out["kept"] = str(folder)
    return out


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="run only this scenario (repeatable)")
    parser.add_argument("--scale", type=float, default=1.0, help="traffic scale (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep each drill's data dir")
    parser.add_argument("--json", action="store_true", help="print the scorecards as JSON")
    args = parser.parse_args(argv)
    names = args.only or builtin_scenario_names()
    cards = []
    total_started = time.perf_counter()
    with threadpool_limits(limits=1):
        for name in names:
            card = run_one(name, args.scale, args.keep)
            cards.append(card)
            print(
                f"{name:<36} passed={card['passed']!s:<5} wall {card['bench_wall_s']:>7.1f}s  "
                f"cpu {card['bench_cpu_s']:>7.1f}s  "
                f"rows {card['rows_sent']:>8} labels {card['labels_sent']:>8}  "
                + "  ".join(f"{t.removesuffix('_s')}={_fmt(card[t])}" for t in TIMES),
                flush=True,
            )
            for reason in card["reasons"]:
                print(f"    reason: {reason}")
        total = time.perf_counter() - total_started
        rows = max((c["rows_sent"] for c in cards), default=0)
        base = baseline(rows, 500) if rows else 0.0
    print()
    print(f"all scenarios: {total:.1f}s (target < {ALL_TARGET_S:g}s at full scale)")
    for card in cards:
        target = TARGETS_S.get(card["scenario"])
        if target is not None:
            print(
                f"{card['scenario']}: {card['bench_wall_s']:.1f}s (target < {target:g}s at full "
                f"scale) for {card['rows_sent']} transactions and {card['labels_sent']} labels"
            )
    if rows:
        biggest = max(cards, key=lambda c: c["rows_sent"])
        print(
            f"baseline: the same {rows} transactions generated and scored by the model alone, "
            f"500 at a time: {base:.2f}s; the drill ({biggest['scenario']}) takes "
            f"{biggest['bench_wall_s'] / base:.1f}x that"
        )
    if args.json:
        print(json.dumps(cards, indent=2, default=str))
    return 0 if all(c["passed"] for c in cards) else 1


if __name__ == "__main__":
    raise SystemExit(main())
