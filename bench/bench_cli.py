"""Benchmark of the command line's start-up: how long ``airsoc`` takes before it does anything.

Each case is a fresh process, timed wall clock from start to exit, against a baseline measured
in the same run: ``python -c pass``, the interpreter alone. Cases run interleaved, one round at
a time, so load from other processes falls on all of them alike; the table shows the median
wall time and, less sensitive to that load, the median CPU time (user + system) of each run.

- ``airsoc --help``: the command list (target: at most 0.5 s more than the baseline);
- ``airsoc incidents list``: a command that opens the store (a scratch data dir, created and
  migrated before timing starts);
- ``airsoc check drift --help``: the help of a command whose work needs scipy;
- ``python -c "import airsoc"``: the package alone.

Run: ``python bench/bench_cli.py`` with the project's interpreter (``--quick`` for 5 rounds).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

TARGET_EXTRA_SECONDS = 0.5


def airsoc_command() -> list[str]:
    """Return how a user starts ``airsoc`` here: the console script beside this interpreter."""
    script = Path(sys.executable).with_name("airsoc")
    return [str(script)] if script.exists() else [sys.executable, "-m", "airsoc.cli"]


def children_cpu() -> float:
    """Return the CPU seconds (user + system) that finished child processes have used."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_once(argv: Sequence[str], env: Mapping[str, str]) -> tuple[float, float]:
    """Return the wall and CPU time of one run of ``argv``; fail loudly if it does not exit 0."""
    cpu, start = children_cpu(), time.perf_counter()
    result = subprocess.run(
        argv, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {result.returncode}: {result.stderr!r}")
    return elapsed, children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="Runs of each case (median)")
    parser.add_argument("--quick", action="store_true", help="5 rounds")
    args = parser.parse_args()
    rounds = 5 if args.quick else args.rounds
    airsoc = airsoc_command()
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "AIRSOC_DATA_DIR": str(Path(scratch) / "data"), "COLUMNS": "100"}
        env.pop("AIRSOC_DATABASE_URL", None)
        cases: dict[str, list[str]] = {
            "python -c pass (baseline)": [sys.executable, "-c", "pass"],
            "airsoc --help": [*airsoc, "--help"],
            "airsoc incidents list": [*airsoc, "incidents", "list"],
            "airsoc check drift --help": [*airsoc, "check", "drift", "--help"],
            'python -c "import airsoc"': [sys.executable, "-c", "import airsoc"],
        }
        # Create and migrate the data dir once, untimed: the cases measure a store in use.
        time_once([*airsoc, "init", "--config", str(Path(scratch) / "airsoc.yaml")], env)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for _ in range(rounds):
            for name, argv in cases.items():
                times[name].append(time_once(argv, env))
    medians = {name: statistics.median(w for w, _ in runs) for name, runs in times.items()}
    base = medians["python -c pass (baseline)"]
    print(f"CLI start-up, median of {rounds} rounds; airsoc is {' '.join(airsoc)}")
    print(
        f"{'case':30} {'wall (s)':>9} {'min (s)':>8} {'vs baseline':>12} {'extra (s)':>10}"
        f" {'cpu (s)':>8}"
    )
    for name, median in medians.items():
        cpu = statistics.median(c for _, c in times[name])
        print(
            f"{name:30} {median:9.3f} {min(w for w, _ in times[name]):8.3f} "
            f"{median / base:11.1f}x {median - base:+10.3f} {cpu:8.3f}"
        )
    extra = medians["airsoc --help"] - base
    verdict = "met" if extra <= TARGET_EXTRA_SECONDS else "MISSED"
    print(f"target: airsoc --help at most {TARGET_EXTRA_SECONDS} s over the baseline: {verdict}")


if __name__ == "__main__":
    main()
