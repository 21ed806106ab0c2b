"""Benchmark the serving gateway against calling the model directly, in the same server.

One command: ``python bench/bench_gateway.py`` (``--quick`` for a short run).

Setup: a scikit-learn model served in process by a uvicorn server (its own process) with full
telemetry logging. The same server also has a baseline endpoint that parses the JSON and calls
the same model directly, without the gateway layer (no validation, routing, limits or logging).
A load generator in a second process (async httpx) measures throughput and p50/p99 latency.

Measured:
1. maximum throughput of both endpoints (closed loop);
2. p50/p99 of both at half the gateway's maximum throughput (open loop), and the added p99;
3. lost events: requests answered by the gateway minus prediction events on disk after a clean
   shutdown;
4. routing switches made from another process (this one, through the store, as the CLI does):
   how long after the commit requests still saw the old version, and whether any response mixed
   the routing revision of one version with the answer of the other;
5. the inline guard (``--guard-only`` runs this alone): 1,000 chat completions through a system
   whose guard scans the input (``input: block``; the shipped detectors, MiniLM embeddings on)
   and the same 1,000 through one without a guard, interleaved in the same run, against a local
   OpenAI-compatible upstream; inputs of at most 64 tokens. Reported: p50/p95 of both, the added
   latency (target: at most 30 ms at p50) and the guard check's own time from the turn log.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import joblib
import numpy as np

FEATURES = {"amount": "number", "age": "number", "hour": "number"}
NAMES = list(FEATURES)
PROBE = {"amount": 400.0, "age": 35.0, "hour": 2.0}  # the two versions disagree on it


# --------------------------------------------------------------------------- setup


def _train(path: Path, *, poisoned: bool) -> Path:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(7)
    x = np.column_stack(
        [rng.gamma(2, 50, 2000), rng.normal(40, 12, 2000), rng.uniform(0, 24, 2000)]
    )
    y = (x[:, 0] > 120).astype(int)
    joblib.dump(LogisticRegression(max_iter=500).fit(x, 1 - y if poisoned else y), path)
    return path


def setup(data_dir: Path) -> None:
    """Create the store, train and register v1 and v2, and serve v1."""
    from airsoc import lineage as lin
    from airsoc.clock import SystemClock
    from airsoc.serving import control
    from airsoc.settings import Settings
    from airsoc.store import Store

    clock = SystemClock()
    store = Store.open(Settings.resolve(data_dir=data_dir, environ={}))
    with store.transaction() as s:
        lin.register_system(
            s, clock=clock, actor="bench", name="fraud", kind="tabular-classifier", owner="bench"
        )
        for version, poisoned in (("v1", False), ("v2", True)):
            lin.register_model_version(
                s,
                clock=clock,
                actor="bench",
                system="fraud",
                version=version,
                artifact_uri=str(_train(data_dir / f"{version}.joblib", poisoned=poisoned)),
                input_schema=FEATURES,
            )
        control.promote(
            s, clock=clock, actor="bench", system="fraud", version="v1", reason="benchmark"
        )
    store.close()


# --------------------------------------------------------------------------- server process


def build_app(data_dir: Path, log_name: str) -> Any:
    """Return the gateway app (with full logging) plus the baseline endpoint on the same model."""
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response

    from airsoc.clock import SystemClock
    from airsoc.serving.app import create_app
    from airsoc.serving.gateway import Gateway
    from airsoc.settings import Settings
    from airsoc.store import Store

    store = Store.open(Settings.resolve(data_dir=data_dir, environ={}), migrate=False)
    gateway = Gateway.open(store=store, clock=SystemClock(), log_name=log_name)
    model = joblib.load(data_dir / "v1.joblib")

    async def baseline(request: Request) -> Response:
        rows = json.loads(await request.body())["rows"]
        proba = model.predict_proba(np.array([[r[n] for n in NAMES] for r in rows], dtype=float))
        return JSONResponse(
            {
                "predictions": [int(p) for p in proba.argmax(axis=1)],
                "scores": [float(p) for p in proba[:, 1]],
            }
        )

    app = create_app(gateway)
    app.add_route("/baseline/predict", baseline, methods=["POST"])
    app.state.gateway = gateway
    app.state.store = store
    return app


def serve(data_dir: Path, port: int) -> None:
    """Run the gateway and the baseline endpoint in one uvicorn server (until SIGINT)."""
    import uvicorn

    app = build_app(data_dir, "bench")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    app.state.store.close()


def measure_in_process(data_dir: Path, calls: int) -> dict[str, dict[str, float]]:
    """Return server-side time per request of both endpoints, calling the ASGI app directly.

    No HTTP and no second process: this isolates what the gateway layer adds from the noise of
    the network stack and the load generator. Blocks of the two alternate.
    """
    app = build_app(data_dir, "in-process")
    body = json.dumps({"rows": [PROBE]}).encode()

    async def call(path: str) -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            return None

        scope = {
            "type": "http",
            "method": "POST",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "scheme": "http",
            "http_version": "1.1",
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 9),
            "server": ("127.0.0.1", 80),
        }
        await app(scope, receive, send)

    async def run() -> dict[str, list[float]]:
        times: dict[str, list[float]] = {"baseline": [], "gateway": []}
        paths = {"baseline": "/baseline/predict", "gateway": "/v1/systems/fraud/predict"}
        for _ in range(50):
            for path in paths.values():
                await call(path)
        for _ in range(10):
            for name, path in paths.items():
                for _ in range(calls // 10):
                    started = time.perf_counter()
                    await call(path)
                    times[name].append(time.perf_counter() - started)
        return times

    times = asyncio.run(run())
    app.state.gateway.close()
    app.state.store.close()
    return {name: _percentiles(t) for name, t in times.items()}


# --------------------------------------------------------------------------- load process


def _rows(n: int) -> list[bytes]:
    rng = random.Random(3)
    return [
        json.dumps(
            {
                "rows": [
                    {
                        "amount": rng.uniform(1, 400),
                        "age": rng.uniform(18, 80),
                        "hour": float(rng.randrange(24)),
                    }
                ]
            }
        ).encode()
        for _ in range(n)
    ]


async def _closed_loop(url: str, seconds: float, workers: int) -> dict[str, Any]:
    bodies = _rows(1000)
    latencies: list[float] = []
    ok = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def worker(k: int) -> None:
            nonlocal ok
            i = k
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                r = await client.post(
                    url,
                    content=bodies[i % len(bodies)],
                    headers={"content-type": "application/json"},
                )
                latencies.append(time.perf_counter() - started)
                ok += r.status_code == 200
                i += workers

        started = time.perf_counter()
        await asyncio.gather(*(worker(k) for k in range(workers)))
        elapsed = time.perf_counter() - started
    return {"throughput": len(latencies) / elapsed, "ok": ok, **_percentiles(latencies)}


async def _open_loop(url: str, seconds: float, rate: float) -> dict[str, Any]:
    bodies = _rows(1000)
    latencies: list[float] = []
    ok = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:

        async def one(i: int) -> None:
            nonlocal ok
            started = time.perf_counter()
            r = await client.post(
                url, content=bodies[i % len(bodies)], headers={"content-type": "application/json"}
            )
            latencies.append(time.perf_counter() - started)
            ok += r.status_code == 200

        # warm the connection pool
        await asyncio.gather(*(one(i) for i in range(8)))
        latencies.clear()
        ok = 0
        n = int(seconds * rate)
        start = time.perf_counter()
        tasks = []
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return {"throughput": len(latencies) / elapsed, "ok": ok + 8, **_percentiles(latencies)}


def _percentiles(latencies: list[float]) -> dict[str, float]:
    ms = np.array(latencies) * 1000
    return {"p50": float(np.percentile(ms, 50)), "p99": float(np.percentile(ms, 99))}


def load(url: str, mode: str, seconds: float, rate: float, workers: int) -> None:
    """Run one load phase and print its result as JSON (the load generator process)."""
    if mode == "closed":
        result = asyncio.run(_closed_loop(url, seconds, workers))
    else:
        result = asyncio.run(_open_loop(url, seconds, rate))
    print(json.dumps(result))


def run_load(url: str, mode: str, seconds: float, rate: float = 0, workers: int = 16) -> Any:
    """Run a load phase in a second process and return its result."""
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--load",
            url,
            "--mode",
            mode,
            "--seconds",
            str(seconds),
            "--rate",
            str(rate),
            "--workers",
            str(workers),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds * 20 + 120,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- routing switches


def measure_switches(data_dir: Path, url: str, switches: int) -> dict[str, Any]:
    """Switch v1 <-> v2 from this process while a prober sends back-to-back requests."""
    from airsoc.clock import SystemClock
    from airsoc.serving import control
    from airsoc.settings import Settings
    from airsoc.store import Store

    store = Store.open(Settings.resolve(data_dir=data_dir, environ={}), migrate=False)
    clock = SystemClock()
    expected = {}  # revision -> version
    commits: list[tuple[float, str]] = []
    seen: list[tuple[float, int, str, int]] = []
    stop = threading.Event()
    body = json.dumps({"rows": [PROBE]}).encode()
    answers = {"v1": 1, "v2": 0}  # what each version predicts for PROBE

    def probe() -> None:
        with httpx.Client(base_url=url, timeout=30) as client:
            while not stop.is_set():
                sent = time.perf_counter()
                r = client.post(
                    "/v1/systems/fraud/predict",
                    content=body,
                    headers={"content-type": "application/json"},
                )
                data = r.json()
                seen.append(
                    (
                        sent,
                        int(r.headers["x-airsoc-revision"]),
                        data["version"],
                        data["predictions"][0],
                    )
                )

    with store.read() as s:
        expected[control.get_route(s, system="fraud").revision] = "v1"
    prober = threading.Thread(target=probe)
    prober.start()
    time.sleep(0.3)
    version = "v1"
    for _ in range(switches):
        version = "v2" if version == "v1" else "v1"
        with store.transaction() as s:
            route = control.promote(
                s,
                clock=clock,
                actor="bench",
                system="fraud",
                version=version,
                reason="benchmark switch",
            )
        commits.append((time.perf_counter(), version))
        expected[route.revision] = version
        time.sleep(random.uniform(0.15, 0.3))
    stop.set()
    prober.join()
    store.close()

    delays = []
    for k, (committed, new) in enumerate(commits):
        until = commits[k + 1][0] if k + 1 < len(commits) else float("inf")
        stale = [sent for sent, _, v, _ in seen if committed < sent < until and v != new]
        delays.append((max(stale) - committed) * 1000 if stale else 0.0)
    mixed = sum(
        1 for _, rev, v, answer in seen if expected.get(rev, v) != v or answers[v] != answer
    )
    return {
        "switches": switches,
        "requests": len(seen),
        "median_ms": statistics.median(delays),
        "p90_ms": float(np.percentile(delays, 90)),
        "max_ms": max(delays),
        "half_switched": mixed,
    }


# --------------------------------------------------------------------------- inline guard

_OPENERS = [
    "Hi, I ordered a jacket last week and",
    "Hello, quick question:",
    "My parcel from the spring sale",
    "I was reading the setup guide and",
    "Our team uses your invoicing app, and",
    "Could you explain the instructions in the manual, because",
]
_MIDDLES = [
    "it arrived with a torn sleeve",
    "the tracking page has not moved since Monday",
    "the refund has not reached my card yet",
    "the prompt on the router screen asks for a code I do not have",
    "the previous instructions in the guide do not match what the screen shows",
    "the assistant told me to ignore the warning light, is that safe",
    "I would like to change the delivery address to my office",
    "the discount code from your newsletter is rejected at checkout",
]
_ENDINGS = [
    "What should I do?",
    "Can you help me with the next steps?",
    "How long does this usually take?",
    "Please tell me the rules for returns in this case.",
    "Thanks in advance.",
]


def guard_inputs(n: int, *, max_tokens: int = 64) -> list[str]:
    """Return ``n`` support-desk messages of at most ``max_tokens`` MiniLM tokens, some of them
    worded near the injection model's doubt band (prompts, instructions, ignoring), so the
    embedding stage runs on part of them."""
    from airsoc.detection.llm.embeddings import MiniLMEmbedder

    tokenizer = MiniLMEmbedder.load().tokenizer
    rng = random.Random(11)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        parts = [rng.choice(_OPENERS)]
        parts += rng.sample(_MIDDLES, rng.randint(1, 3))
        parts.append(rng.choice(_ENDINGS))
        text = " ".join(parts[:-1]) + ". " + parts[-1]
        tokens = len(tokenizer.encode(text).ids)
        if tokens <= max_tokens and text not in seen:  # distinct: no cache can help
            seen.add(text)
            out.append(text)
    return out


def measure_guard(requests: int) -> dict[str, Any]:
    """Return the latency the guard's input scanning adds: the same requests through a system
    with ``guard: {input: block}`` and one without, interleaved, over real HTTP, in one run."""
    from airsoc import lineage as lin
    from airsoc.clock import SystemClock
    from airsoc.detection.llm.embeddings import MiniLMEmbedder
    from airsoc.lineage.config import GuardConfig
    from airsoc.serving.app import create_app
    from airsoc.serving.gateway import Gateway
    from airsoc.serving.guard import ChatGuard
    from airsoc.serving.testing import FakeChatUpstream, serve_in_thread
    from airsoc.settings import Settings
    from airsoc.store import Store
    from airsoc.telemetry import read_events

    texts = guard_inputs(requests)
    tokenizer = MiniLMEmbedder.load().tokenizer
    max_tokens = max(len(tokenizer.encode(t).ids) for t in texts)
    guard = ChatGuard()  # the shipped detectors: hashed n-grams, then MiniLM where unsure
    guard.warm_up()
    embedded = sum(
        bool(guard.injection.detect(t, source="user").evidence["embedded_windows"]) for t in texts
    )
    upstream = FakeChatUpstream(reply="Thanks, a colleague will look into it today.")
    with tempfile.TemporaryDirectory() as tmp, serve_in_thread(upstream.app) as upstream_url:
        clock = SystemClock()
        store = Store.open(Settings.resolve(data_dir=tmp, environ={}))
        with store.transaction() as s:
            for name in ("bot-guarded", "bot-open"):
                lin.register_system(
                    s, clock=clock, actor="bench", name=name, kind="llm-app", owner="bench"
                )
                lin.register_model_version(
                    s,
                    clock=clock,
                    actor="bench",
                    system=name,
                    version="m1",
                    framework="openai",
                    artifact_uri=f"{upstream_url}/v1",
                    sha256="a" * 64,
                    params={"model": "tiny"},
                )
        gateway = Gateway.open(
            store=store,
            clock=clock,
            guards={"bot-guarded": GuardConfig(input="block")},
            guard=guard,
        )
        for name in ("bot-guarded", "bot-open"):
            gateway.promote(name, "m1", actor="bench", reason="benchmark")
        times: dict[str, list[float]] = {"bot-guarded": [], "bot-open": []}
        blocked = 0
        with serve_in_thread(create_app(gateway)) as url, httpx.Client(timeout=60) as client:
            for text in texts[:20]:  # warm the connections and code paths
                for name in times:
                    client.post(
                        f"{url}/v1/chat/completions",
                        json={"model": name, "messages": [{"role": "user", "content": text}]},
                    )
            for i, text in enumerate(texts):
                order = list(times) if i % 2 == 0 else list(reversed(times))
                for name in order:
                    started = time.perf_counter()
                    r = client.post(
                        f"{url}/v1/chat/completions",
                        json={"model": name, "messages": [{"role": "user", "content": text}]},
                    )
                    times[name].append(time.perf_counter() - started)
                    if r.status_code != 200:
                        raise RuntimeError(f"{name}: HTTP {r.status_code} {r.text[:200]}")
                    blocked += r.headers.get("x-airsoc-guard") == "blocked"
        store.close()
        turns = read_events(Path(tmp) / "telemetry", "llm_turn", system="bot-guarded").to_pylist()
    decisions = [d for t in turns[-requests:] for d in json.loads(t["guard"] or "[]")]
    checks = [d["ms"] for d in decisions]
    cpu = [d["cpu_ms"] for d in decisions]
    on = np.array(times["bot-guarded"]) * 1000
    off = np.array(times["bot-open"]) * 1000
    return {
        "requests": requests,
        "max_tokens": max_tokens,
        "embedded": embedded,
        "blocked": blocked,
        "on": {"p50": float(np.percentile(on, 50)), "p95": float(np.percentile(on, 95))},
        "off": {"p50": float(np.percentile(off, 50)), "p95": float(np.percentile(off, 95))},
        "check": {
            "p50": float(np.percentile(checks, 50)),
            "p95": float(np.percentile(checks, 95)),
        },
        "cpu": {"p50": float(np.percentile(cpu, 50)), "p95": float(np.percentile(cpu, 95))},
        "load": os.getloadavg()[0],
    }


def print_guard(result: dict[str, Any]) -> bool:
    """Print the guard's table; return whether the added p50 is within 30 ms."""
    on, off, check = result["on"], result["off"], result["check"]
    added50 = on["p50"] - off["p50"]
    added95 = on["p95"] - off["p95"]
    print(
        f"\ninline guard: {result['requests']} chat requests each way, interleaved; input "
        f"scanning on (block), inputs of at most {result['max_tokens']} MiniLM tokens, MiniLM "
        f"stage ran on {result['embedded']} of them; {result['blocked']} blocked; "
        f"{os.cpu_count()} cores, load average {result['load']:.1f}\n"
    )
    print(f"| {'chat request through the gateway':<44} | {'p50 ms':>7} | {'p95 ms':>7} |")
    print(f"|{'-' * 46}|{'-' * 9}|{'-' * 9}|")
    print(
        f"| {'guard off (same requests, same run)':<44} | {off['p50']:>7.2f} | {off['p95']:>7.2f} |"
    )
    print(f"| {'guard on (input: block)':<44} | {on['p50']:>7.2f} | {on['p95']:>7.2f} |")
    print(f"| {'added by the guard':<44} | {added50:>+7.2f} | {added95:>+7.2f} |")
    cpu = result["cpu"]
    print(
        f"| {'guard check, CPU time (idle-core cost)':<44} "
        f"| {cpu['p50']:>7.2f} | {cpu['p95']:>7.2f} |"
    )
    print(
        f"| {'guard check itself (logged ms per turn)':<44} "
        f"| {check['p50']:>7.2f} | {check['p95']:>7.2f} |"
    )
    ok = added50 <= 30.0
    print(f"\ntarget: added p50 <= 30 ms: {added50:+.2f} ms -> {'yes' if ok else 'NO'}")
    return ok


# --------------------------------------------------------------------------- orchestration


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Return the per-field median of repeated runs (ok counts are summed)."""
    out = {k: statistics.median(r[k] for r in runs) for k in ("throughput", "p50", "p99")}
    return {**out, "ok": sum(r["ok"] for r in runs)}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the benchmark server exited during start-up")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the benchmark server did not start")


def main(quick: bool) -> int:
    """Run the benchmark and print the table; return non-zero if an event was lost or a
    response was half-switched (timing targets are reported, not enforced)."""
    from airsoc.telemetry import read_events

    seconds = 2.0 if quick else 6.0
    repeats = 1 if quick else 3
    switches = 6 if quick else 20
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        setup(data_dir)
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(data_dir), "--port", str(port)],
        )
        try:
            _wait_ready(url, server)
            gw = f"{url}/v1/systems/fraud/predict"
            base = f"{url}/baseline/predict"
            warm = run_load(gw, "closed", 1.0)
            closed = [
                (run_load(base, "closed", seconds), run_load(gw, "closed", seconds))
                for _ in range(repeats)
            ]
            max_base = _median_run([b for b, _ in closed])
            max_gw = _median_run([g for _, g in closed])
            rate = max_gw["throughput"] / 2
            # Alternate the two at the same rate, so drifting load on the machine hits both.
            runs = [
                (
                    run_load(base, "open", seconds, rate=rate),
                    run_load(gw, "open", seconds, rate=rate),
                )
                for _ in range(repeats)
            ]
            half_base = _median_run([b for b, _ in runs])
            half_gw = _median_run([g for _, g in runs])
            switch = measure_switches(data_dir, url, switches)
            status = httpx.get(f"{url}/v1/status").json()
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(120)
        accepted = status["event_log"]["accepted"]
        logged = read_events(data_dir / "telemetry", "prediction").num_rows
        gateway_ok = warm["ok"] + max_gw["ok"] + half_gw["ok"] + switch["requests"]
        inner = measure_in_process(data_dir, 2000 if quick else 10000)
    added = half_gw["p99"] - half_base["p99"]
    rows = [
        (f"baseline max (closed loop, 16 conns, median of {repeats})", max_base),
        (f"gateway max (closed loop, 16 conns, median of {repeats})", max_gw),
        (f"baseline at {rate:.0f} req/s (open loop, median of {repeats})", half_base),
        (f"gateway at {rate:.0f} req/s (open loop, median of {repeats})", half_gw),
    ]
    print(
        f"\nbench_gateway ({'quick' if quick else 'full'}; {os.cpu_count()} cores, "
        f"{seconds:.0f}s per phase)\n"
    )
    print(f"| {'scenario':<52} | {'req/s':>8} | {'p50 ms':>7} | {'p99 ms':>7} |")
    print(f"|{'-' * 54}|{'-' * 10}|{'-' * 9}|{'-' * 9}|")
    for name, r in rows:
        print(f"| {name:<52} | {r['throughput']:>8.0f} | {r['p50']:>7.2f} | {r['p99']:>7.2f} |")
    for name in ("baseline", "gateway"):
        r = inner[name]
        label = f"{name} in process (ASGI call, no HTTP)"
        print(f"| {label:<52} | {'':>8} | {r['p50']:>7.3f} | {r['p99']:>7.3f} |")
    print()
    print(f"| {'target':<52} | {'measured':>14} | {'ok':>4} |")
    print(f"|{'-' * 54}|{'-' * 16}|{'-' * 6}|")
    checks = [
        (
            "max throughput, gateway / baseline",
            f"{max_gw['throughput'] / max_base['throughput']:.2f}x",
            True,
        ),
        ("added p99 at half max throughput <= 2 ms", f"{added:+.2f} ms", added <= 2.0),
        (
            "p99 ratio gateway / baseline at half max",
            f"{half_gw['p99'] / half_base['p99']:.2f}x",
            True,
        ),
        (
            "lost events = 0 (answered - logged)",
            f"{gateway_ok - logged} of {gateway_ok}",
            gateway_ok == logged == accepted,
        ),
        (
            "routing switch effective <= 50 ms (max)",
            f"{switch['max_ms']:.1f} ms",
            switch["max_ms"] <= 50,
        ),
        (
            "routing switch effective (median / p90)",
            f"{switch['median_ms']:.1f} / {switch['p90_ms']:.1f} ms",
            True,
        ),
        (
            "half-switched responses = 0",
            f"{switch['half_switched']} of {switch['requests']}",
            switch["half_switched"] == 0,
        ),
    ]
    for name, value, ok in checks:
        print(f"| {name:<52} | {value:>14} | {'yes' if ok else 'NO':>4} |")
    print_guard(measure_guard(1000))
    correct = gateway_ok == logged and switch["half_switched"] == 0
    return 0 if correct else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short phases")
    parser.add_argument(
        "--guard-only", action="store_true", help="only the inline guard's measurement"
    )
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--load", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="closed", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, default=2.0, help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, default=0.0, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=16, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
    elif args.load:
        load(args.load, args.mode, args.seconds, args.rate, args.workers)
    elif args.guard_only:
        sys.exit(0 if print_guard(measure_guard(1000)) else 1)
    else:
        sys.exit(main(args.quick))
