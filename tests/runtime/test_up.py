"""``airsoc up`` without ``--demo`` runs the built-in evaluators and plugins, never the demo's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from airsoc.testing import free_port

CONFIG = """\
systems:
  fraud: {kind: tabular-classifier, owner: risk}
monitors:
  - {name: scores, system: fraud, detector: DETECTOR, window: 1h, every: 15m}
"""


def _up(tmp_path: Path, detector: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "airsoc.yaml"
    config.write_text(CONFIG.replace("DETECTOR", detector), encoding="utf-8")
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from airsoc.cli.main import run; run()",
            "up",
            "--config",
            str(config),
            "--api-port",
            str(free_port()),
            "--gateway-port",
            str(free_port()),
            "--duration",
            "0.5",
        ],
        env={**os.environ, "AIRSOC_DATA_DIR": str(tmp_path / "data")},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def test_up_without_demo_knows_no_demo_evaluator(tmp_path: Path) -> None:
    refused = _up(tmp_path, "score_drift")
    assert refused.returncode == 1, refused.stderr
    assert "monitors[0].detector: unknown detector" in refused.stderr + refused.stdout
    assert "'score_drift'" in refused.stderr + refused.stdout
    assert "Traceback" not in refused.stderr


def test_up_runs_a_configuration_of_built_in_detectors(tmp_path: Path) -> None:
    started = _up(tmp_path, "data_drift")
    assert started.returncode == 0, started.stderr
    assert "airsoc on http://127.0.0.1:" in started.stdout


def test_sigterm_stops_up_cleanly(tmp_path: Path) -> None:
    config = tmp_path / "airsoc.yaml"
    config.write_text(CONFIG.replace("DETECTOR", "data_drift"), encoding="utf-8")
    api_port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from airsoc.cli.main import run; run()",
            "up",
            "--config",
            str(config),
            "--api-port",
            str(api_port),
            "--gateway-port",
            str(free_port()),
        ],
        env={**os.environ, "AIRSOC_DATA_DIR": str(tmp_path / "data")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # blocks until the platform says it is up
            if line.startswith("watching"):
                break
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "stopped (SIGTERM)" in out
