"""Benchmark: tabular drift detection, airsoc against plain scipy (and peers with ``--peers``).

One command, one table::

    python bench/bench_drift.py            # N = 10k, 100k, 1M
    python bench/bench_drift.py --quick    # N = 10k, 100k
    python bench/bench_drift.py --peers    # also evidently, nannyml, river (own virtualenvs)

Data (the same for every library, generated from fixed seeds): reference and current windows
of N rows each; 20 numerical columns (normal, lognormal and exponential shapes), the first 10
shifted by 0.2 standard deviations in the current window; 5 categorical columns of 10 levels,
the first with 8% of its mass moved from the most to the least common level. A library is right
on a column when it flags exactly the shifted ones; the best score is 25.

Every case runs in its own subprocess, so import time and peak RSS are its own; with
``--repeat R`` each drift call is timed R times and the best time is shown (the machine may be
shared; the best run is the least disturbed one). "import s" is
the import plus one call on a 200-row window (lazy imports, first-call set-up), the same for
every library. Peak RSS is sampled from /proc during the drift call; "RSS/input" is (peak -
RSS of the interpreter with the library imported, before the data existed) divided by the bytes
of the two input windows (with a stored profile the reference window is never built, so its
ratio is lower still). "lib MB" is what the interpreter and the imported library held before
any data. Cases:

* ``airsoc``: ``check_drift(reference_df, current_df)`` with a fresh reference;
* ``airsoc (profile)``: ``check_drift(load_profile(saved), current_df)``, the daily job against
  a reference profiled once (``airsoc profile``);
* ``scipy``: ``ks_2samp`` per numerical column, ``chi2_contingency`` per categorical column,
  flag at p < 0.05 (the baseline present in every run);
* peers, with ``--peers``: each in a throw-away virtualenv under ``bench/.venvs/`` because their
  pins conflict with each other and with airsoc. Evidently: ``DataDriftPreset`` (its defaults);
  NannyML: KS and chi2 over 10 chunks (its thresholds come from the spread between reference
  chunks), flagged when most current chunks alert; river: one ADWIN per column fed the
  reference then the current values; frouros: ``KSTest`` / ``ChiSquareTest`` at p < 0.05;
  Alibi Detect: ``TabularDrift`` per feature (its defaults, Bonferroni-corrected). Peers that
  send usage data are told not to.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venvs"
N_NUM, N_SHIFTED, N_CAT, LEVELS = 20, 10, 5, 10
SHIFTED = {f"num{i}" for i in range(N_SHIFTED)} | {"cat0"}
COLUMNS = [f"num{i}" for i in range(N_NUM)] + [f"cat{j}" for j in range(N_CAT)]

# Peers: pip requirements and the snippet that judges the columns (runs in the peer's venv).
PEERS: dict[str, list[str]] = {
    "evidently": ["evidently<0.6", "pandas<3", "numpy<2"],
    "nannyml": ["nannyml", "statsmodels", "pandas<3"],
    "river": ["river", "pandas<3"],
    "frouros": ["frouros", "pandas<3"],
    "alibi-detect": ["alibi-detect", "pandas<3"],
}


# --------------------------------------------------------------------------- data


def make_window(n: int, *, current: bool, chunk: int = 0) -> Any:
    """Return the reference (``current=False``) or current window as a pandas DataFrame.

    ``chunk`` selects independent seeds, so a long window can be generated piece by piece.
    """
    import numpy as np
    import pandas as pd

    data: dict[str, Any] = {}
    for i in range(N_NUM):
        rng = np.random.default_rng([chunk, (2 if current else 1) * 1000 + i])
        shape = i % 3
        if shape == 0:
            x, sd = rng.normal(0.0, 1.0, n), 1.0
        elif shape == 1:
            x, sd = rng.lognormal(0.0, 0.5, n), float(np.sqrt((np.exp(0.25) - 1) * np.exp(0.25)))
        else:
            x, sd = rng.exponential(1.0, n), 1.0
        if current and i < N_SHIFTED:
            x += 0.2 * sd
        data[f"num{i}"] = x
    base = 1.0 / np.arange(1, LEVELS + 1)
    base /= base.sum()
    labels = [f"L{k}" for k in range(LEVELS)]
    for j in range(N_CAT):
        rng = np.random.default_rng([chunk, (2 if current else 1) * 1000 + 100 + j])
        p = base.copy()
        if current and j == 0:
            p[0] -= 0.08
            p[-1] += 0.08
        codes = rng.choice(LEVELS, size=n, p=p).astype(np.int8)
        data[f"cat{j}"] = pd.Categorical.from_codes(codes, labels)
    return pd.DataFrame(data, copy=False)


def input_bytes(df: Any) -> int:
    """Return the bytes of a window's arrays (float64 columns and categorical codes)."""
    return int(df.memory_usage(index=False, deep=False).sum())


# --------------------------------------------------------------------------- measuring


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux: fall back to the lifetime peak
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PeakRss:
    """Sample this process's RSS every few milliseconds while the block runs."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss_mb())
            self._stop.wait(0.003)

    def __enter__(self) -> PeakRss:
        self.peak = _rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


def _score(flagged: set[str]) -> int:
    return sum((c in flagged) == (c in SHIFTED) for c in COLUMNS)


# --------------------------------------------------------------------------- cases


def _case_airsoc(n: int, profile_path: str | None) -> tuple[Callable[[Any, Any], set[str]], Any]:
    t0 = time.perf_counter()
    from airsoc.detection import check_drift, load_profile

    import_s = time.perf_counter() - t0

    def run(ref: Any, cur: Any) -> set[str]:
        reference = load_profile(profile_path) if profile_path and len(cur) == n else ref
        return set(check_drift(reference, cur, quality=False).drifted)

    return run, import_s


def _case_scipy(n: int, profile_path: str | None) -> tuple[Callable[[Any, Any], set[str]], Any]:
    t0 = time.perf_counter()
    import numpy as np
    from scipy import stats

    import_s = time.perf_counter() - t0

    def run(ref: Any, cur: Any) -> set[str]:
        flagged = set()
        for col in COLUMNS:
            if col.startswith("num"):
                p = stats.ks_2samp(ref[col].to_numpy(), cur[col].to_numpy()).pvalue
            else:
                a = np.bincount(ref[col].cat.codes.to_numpy(), minlength=LEVELS)
                b = np.bincount(cur[col].cat.codes.to_numpy(), minlength=LEVELS)
                p = stats.chi2_contingency(np.vstack([a, b])).pvalue
            if p < 0.05:
                flagged.add(col)
        return flagged

    return run, import_s


def _case_evidently(n: int, profile_path: str | None) -> tuple[Callable[[Any, Any], set[str]], Any]:
    t0 = time.perf_counter()
    from evidently.metric_preset import DataDriftPreset
    from evidently.report import Report

    import_s = time.perf_counter() - t0

    def run(ref: Any, cur: Any) -> set[str]:
        report = Report(metrics=[DataDriftPreset()])
        report.run(reference_data=ref, current_data=cur)
        result = report.as_dict()["metrics"][1]["result"]["drift_by_columns"]
        return {c for c, r in result.items() if r["drift_detected"]}

    return run, import_s


def _case_nannyml(n: int, profile_path: str | None) -> tuple[Callable[[Any, Any], set[str]], Any]:
    t0 = time.perf_counter()
    import nannyml as nml

    import_s = time.perf_counter() - t0

    def run(ref: Any, cur: Any) -> set[str]:
        calc = nml.UnivariateDriftCalculator(
            column_names=COLUMNS,
            continuous_methods=["kolmogorov_smirnov"],
            categorical_methods=["chi2"],
            # NannyML's thresholds come from the spread over reference chunks, so it needs
            # several; a column counts as flagged when most current chunks alert.
            chunk_number=10,
        )
        calc.fit(ref)
        res = calc.calculate(cur).filter(period="analysis").to_df()
        flagged = set()
        for col in COLUMNS:
            method = "kolmogorov_smirnov" if col.startswith("num") else "chi2"
            if float(res[(col, method, "alert")].mean()) >= 0.5:
                flagged.add(col)
        return flagged

    return run, import_s


def _case_river(n: int, profile_path: str | None) -> tuple[Callable[[Any, Any], set[str]], Any]:
    t0 = time.perf_counter()
    from river import drift

    import_s = time.perf_counter() - t0

    def run(ref: Any, cur: Any) -> set[str]:
        flagged = set()
        for col in COLUMNS:
            detector = drift.ADWIN()
            series = ref[col].cat.codes if col.startswith("cat") else ref[col]
            now = cur[col].cat.codes if col.startswith("cat") else cur[col]
            for value in series.to_numpy():
                detector.update(float(value))
            hit = False
            for value in now.to_numpy():
                detector.update(float(value))
                hit = hit or detector.drift_detected
            if hit:
                flagged.add(col)
        return flagged

    return run, import_s


def _case_frouros(n: int, profile_path: str | None) -> tuple[Callable[[Any, Any], set[str]], Any]:
    t0 = time.perf_counter()
    from frouros.detectors.data_drift import ChiSquareTest, KSTest

    import_s = time.perf_counter() - t0

    def run(ref: Any, cur: Any) -> set[str]:
        flagged = set()
        for col in COLUMNS:
            numeric = col.startswith("num")
            detector = KSTest() if numeric else ChiSquareTest()
            a = ref[col].to_numpy() if numeric else ref[col].astype(str).to_numpy()
            b = cur[col].to_numpy() if numeric else cur[col].astype(str).to_numpy()
            detector.fit(X=a)
            result, _ = detector.compare(X=b)
            if result.p_value < 0.05:
                flagged.add(col)
        return flagged

    return run, import_s


def _case_alibi(n: int, profile_path: str | None) -> tuple[Callable[[Any, Any], set[str]], Any]:
    t0 = time.perf_counter()
    import numpy as np
    from alibi_detect.cd import TabularDrift

    import_s = time.perf_counter() - t0

    def matrix(df: Any) -> Any:
        cols = [
            df[c].to_numpy() if c.startswith("num") else df[c].cat.codes.to_numpy() for c in COLUMNS
        ]
        return np.column_stack(cols).astype(np.float32)

    def run(ref: Any, cur: Any) -> set[str]:
        cats = {i: None for i, c in enumerate(COLUMNS) if c.startswith("cat")}
        detector = TabularDrift(matrix(ref), p_val=0.05, categories_per_feature=cats)
        preds = detector.predict(matrix(cur), drift_type="feature")
        return {c for c, hit in zip(COLUMNS, preds["data"]["is_drift"], strict=True) if hit}

    return run, import_s


CASES: dict[str, Callable[[int, str | None], tuple[Callable[[Any, Any], set[str]], Any]]] = {
    "airsoc": _case_airsoc,
    "airsoc (profile)": _case_airsoc,
    "scipy": _case_scipy,
    "evidently": _case_evidently,
    "nannyml": _case_nannyml,
    "river": _case_river,
    "frouros": _case_frouros,
    "alibi-detect": _case_alibi,
}


def worker(case: str, n: int, profile_path: str | None, repeat: int = 1) -> dict[str, Any]:
    """Run one case in this process and return its measurements."""
    start_rss = _rss_mb()
    t0 = time.perf_counter()
    run, _ = CASES[case](n, profile_path)
    # One call on a tiny window pays for lazy imports and first-call set-up; it counts as import.
    run(make_window(200, current=False), make_window(200, current=True))
    import_s = time.perf_counter() - t0
    base_rss = _rss_mb()
    ref = None if profile_path else make_window(n, current=False)
    cur = make_window(n, current=True)
    size = input_bytes(cur) * 2  # both windows, also when the reference is a stored profile
    data_rss = _rss_mb()
    times = []
    with PeakRss() as peak:
        for _ in range(repeat):
            t0 = time.perf_counter()
            flagged = run(ref, cur)
            times.append(time.perf_counter() - t0)
    drift_s = min(times)
    return {
        "case": case,
        "n": n,
        "import_s": import_s,
        "drift_s": drift_s,
        "peak_rss_mb": peak.peak,
        "start_rss_mb": start_rss,
        "base_rss_mb": base_rss,
        "data_rss_mb": data_rss,
        "input_mb": size / 2**20,
        "correct": _score(flagged),
        "flagged": sorted(flagged),
    }


def sketch_worker(rows: int, chunk_rows: int = 1_000_000) -> dict[str, Any]:
    """Profile ``rows`` x 25 reference and current rows chunk by chunk; judge the columns."""
    from airsoc.detection import check_drift, profile

    chunks = max(rows // chunk_rows, 1)
    with PeakRss() as peak:
        t0 = time.perf_counter()
        ref = profile(make_window(chunk_rows, current=False, chunk=c) for c in range(chunks))
        cur = profile(
            (make_window(chunk_rows, current=True, chunk=c) for c in range(chunks)),
            grid_from=ref,
            sketches=False,
        )
        flagged = set(check_drift(ref, cur, quality=False).drifted)
        seconds = time.perf_counter() - t0
    return {
        "rows": chunks * chunk_rows,
        "seconds": seconds,
        "peak_rss_mb": peak.peak,
        "correct": _score(flagged),
    }


# --------------------------------------------------------------------------- driver


def _python_for(case: str) -> Path | None:
    if case.startswith("airsoc") or case == "scipy":
        return Path(sys.executable)
    venv = VENVS / case
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    if stamp.exists():
        return python
    print(f"creating virtualenv for {case} under {venv} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *PEERS[case]],
        check=False,
    )
    if done.returncode != 0:
        print(f"could not install {case}; skipped", file=sys.stderr)
        return None
    stamp.touch()
    return python


#: Peers that phone home are told not to (there is no network for them here anyway).
NO_TELEMETRY = {"NML_DISABLE_USAGE_LOGGING": "1", "DO_NOT_TRACK": "1"}


def _spawn(
    python: Path, case: str, n: int, profile_path: str | None, repeat: int = 1
) -> dict[str, Any] | None:
    cmd = [str(python), str(Path(__file__).resolve()), "--worker", case, "--n", str(n)]
    cmd += ["--repeat", str(repeat)]
    if profile_path:
        cmd += ["--profile", profile_path]
    env = {**os.environ, **NO_TELEMETRY}
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        print(f"{case} at N={n} failed: {tail[0]}", file=sys.stderr)
        return None
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _prepare_profile(n: int, directory: str) -> str:
    path = str(Path(directory) / f"reference-{n}.profile")
    code = (
        f"import sys; sys.path.insert(0, {str(HERE)!r}); import bench_drift as b; "
        "from airsoc.detection import profile; "
        f"profile(b.make_window({n}, current=False)).save({path!r})"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    return path


def _fmt_n(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else f"{n // 1_000}k"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 10k and 100k only")
    parser.add_argument("--peers", action="store_true", help="also run peers in virtualenvs")
    parser.add_argument("--sizes", type=int, nargs="*", help="explicit N values")
    parser.add_argument(
        "--repeat", type=int, default=1, help="time each case R times, report the best"
    )
    parser.add_argument(
        "--sketch",
        type=int,
        metavar="ROWS",
        help="instead: profile ROWS x 25 per window in 1M-row chunks (e.g. 100000000)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "sketch":
        print(json.dumps(sketch_worker(args.n)))
        return 0
    if args.worker:
        print(json.dumps(worker(args.worker, args.n, args.profile, args.repeat)))
        return 0
    if args.sketch:
        result = _spawn(Path(sys.executable), "sketch", args.sketch, None)
        if result is None:
            return 1
        print(
            f"sketch mode: {result['rows']:,} rows x 25 columns per window, streamed: "
            f"{result['seconds']:.1f} s, peak RSS {result['peak_rss_mb']:.0f} MB, "
            f"{result['correct']}/25 columns correct"
        )
        return 0
    sizes = args.sizes or ([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])
    cases = ["airsoc", "airsoc (profile)", "scipy"]
    if args.peers:
        cases += list(PEERS)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            profile_path = _prepare_profile(n, tmp)
            for case in cases:
                python = _python_for(case)
                if python is None:
                    continue
                stored = profile_path if case == "airsoc (profile)" else None
                result = _spawn(python, case, n, stored, args.repeat)
                if result:
                    rows.append(result)
                    print(
                        f"  {case:17} N={_fmt_n(n):>4}: {result['drift_s']:.3f} s, "
                        f"{result['correct']}/25",
                        file=sys.stderr,
                    )
    header = (
        f"{'library':17} {'N':>5} {'import s':>9} {'drift s':>9} {'x airsoc':>9} "
        f"{'peak RSS MB':>12} {'lib MB':>7} {'input MB':>9} {'RSS/input':>10} {'correct':>8}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        base = next(r for r in rows if r["case"] == "airsoc" and r["n"] == row["n"])
        ratio = row["drift_s"] / base["drift_s"] if base["drift_s"] else float("nan")
        grown = (row["peak_rss_mb"] - row["base_rss_mb"]) / row["input_mb"]
        print(
            f"{row['case']:17} {_fmt_n(row['n']):>5} {row['import_s']:9.2f} "
            f"{row['drift_s']:9.3f} {ratio:9.1f} {row['peak_rss_mb']:12.0f} "
            f"{row['base_rss_mb']:7.0f} {row['input_mb']:9.0f} {grown:10.2f} "
            f"{row['correct']:>5}/25"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
