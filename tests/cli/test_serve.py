"""``airsoc serve`` answers on a real port: health, readiness, API with a token, the console."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from airsoc.testing import free_port, run_cli


@contextmanager
def serving(data_dir: Path) -> Iterator[str]:
    """Run ``airsoc serve`` in a child process on a free port; yield its base URL."""
    port = free_port()
    env = {**os.environ, "AIRSOC_DATA_DIR": str(data_dir)}
    env.pop("AIRSOC_DATABASE_URL", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from airsoc.cli.main import run; run()",
            "serve",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise AssertionError(f"airsoc serve did not start:\n{out}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def test_serve_answers_on_a_real_port(tmp_path: Path, monkeypatch: object) -> None:
    data = tmp_path / "data"
    os.environ["AIRSOC_DATA_DIR"] = str(data)
    try:
        added = run_cli("users", "add", "ada", "--role", "admin")
        assert added.exit_code == 0, added.stderr
        token = added.stdout.splitlines()[0]
    finally:
        del os.environ["AIRSOC_DATA_DIR"]
    with serving(data) as base:
        assert httpx.get(f"{base}/readyz").json()["status"] == "ready"
        me = httpx.get(f"{base}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.json()["name"] == "ada"
        assert httpx.get(f"{base}/").status_code == 303
        assert "airsoc_incidents_open" in httpx.get(f"{base}/metrics").text
