"""``airsoc up``: the demo closes the loop on its own with real monitors only (a benign retrain
raises nothing, the poisoned release is found), and the plain platform serves and reloads."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

from airsoc.audit import verify_chains
from airsoc.audit.service import list_entries
from airsoc.clock import SystemClock
from airsoc.fleet.rag import SupportBot
from airsoc.fleet.rag.upstream import chat_app
from airsoc.fleet.setup import POISONED_BATCH, RETRAIN_BATCH, prepare_demo, register_support_bot
from airsoc.incidents.findings import list_findings
from airsoc.incidents.service import get_incident, list_incidents
from airsoc.lineage import get_batch
from airsoc.reporting import list_postmortems
from airsoc.response import ApprovalView, list_approvals, list_runs
from airsoc.server.auth import StoreUserDirectory
from airsoc.serving import get_route
from airsoc.serving.testing import serve_in_thread
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.telemetry import read_events
from airsoc.testing import free_port

AIRSOC = str(Path(sys.executable).with_name("airsoc"))
#: How long a platform may take to stop after Ctrl-C (it took over 30 s on a loaded machine).
STOP_WAIT = 120


def _env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRSOC_")}
    env["AIRSOC_DATA_DIR"] = str(data_dir)
    return env


def test_demo_detects_contains_and_writes_up_the_fault(tmp_path: Path) -> None:
    data = tmp_path / "data"
    api, gw = free_port(), free_port()
    result = subprocess.run(
        [AIRSOC, "up", "--demo", "--duration", "45", "--fault-after", "12",
         "--monitor-every", "2", "--approval-timeout", "1", "--tick", "0.3",
         "--api-port", str(api), "--gateway-port", str(gw), "--bot-port", str(free_port())],
        env=_env(data), cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    # Where to watch, and the scenario's injects; then what the drill did, and the scorecard.
    assert f"http://127.0.0.1:{api}/" in out
    assert "demo-approver  password" in out
    assert "benign change    in 6s: retrain" in out
    assert "fault            in 12s: poisoned-release" in out
    assert "inject retrain: release(release=retrain" in out
    assert "inject poisoned-release: release(release=fault" in out
    assert "drill live-demo: passed" in out, out
    assert "explained by poisoned-release" in out
    # The support bot answered through the gateway's chat endpoint.
    asked = next(line for line in out.splitlines() if "support questions" in line)
    assert int(asked.split("support questions ")[1].split()[0]) > 10
    assert "(failed 0)" in asked.split("support questions")[1]
    # No narrator: the demo's own lines are its injects and the status read from the store.
    drill_lines = [line for line in out.splitlines() if re.match(r"^\+ *\d+s ", line)]
    assert drill_lines
    assert all(
        re.match(r"^\+ *\d+s (inject |no incident|INC-\d+ )", line) for line in drill_lines
    ), drill_lines

    store = Store.open(Settings.resolve(data_dir=data, environ={}))
    try:
        with store.read() as s:
            timeline = list_entries(s, chain="system/fraud-detector")
            promoted: dict[str, datetime] = {}  # when each version first served
            for e in timeline:
                if e.action == "deployment.started" and e.data.get("role") == "primary":
                    promoted.setdefault(str(e.data.get("version")), e.at)
            assert list(promoted) == ["v1", "v2", "v3"]
            # Nothing was declared before the poisoned delivery arrived (its screening may
            # fire before v3 is even promoted).
            arrived = get_batch(s, batch_id=POISONED_BATCH).ingested_at
            assert promoted["v2"] < arrived <= promoted["v3"]
            every = list_incidents(s)
            assert every
            assert all(i.detected_at >= arrived for i in every)
            assert [i.system for i in every if i.system == "support-bot"] == []
            incidents = [i for i in every if i.failure_mode == "data_poisoning"]
            assert [i.system for i in incidents] == ["fraud-detector"]
            incident = get_incident(s, incident_id=incidents[0].id)
            assert incident.labels["monitor"] == "fraud-batch-screen"
            # Investigated by the platform: the poisoning forensics named the vendor's batch.
            findings = list_findings(s, incident_id=incident.id)
            assert findings
            assert any(POISONED_BATCH in json.dumps(f.data) for f in findings)
            assert all(f.author.startswith("playbook:") for f in findings), findings
            assert incident.phase == "contained"
            runs = list_runs(s, incident_id=incident.id)
            assert [(r.playbook, r.status) for r in runs] == [
                ("poisoned-training-data", "succeeded")
            ]
            contain = next(st for st in runs[0].steps if st.step_id == "contain")
            assert contain.status == "succeeded"
            route = get_route(s, system="fraud-detector")
            # Back to the benign retrain, the last version an operator marked known-good.
            assert route.primary_version == "v2"
            assert route.updated_by.startswith("playbook:")
            actions = [e.action for e in timeline]
            assert actions.index("routing.rollback") > actions.index("routing.promote")
            assert incident.data_batches == [POISONED_BATCH]
            assert get_batch(s, batch_id=POISONED_BATCH).status == "quarantined"
            assert get_batch(s, batch_id=RETRAIN_BATCH).status == "accepted"
            assert all(r.ok for r in verify_chains(s))
            assert get_route(s, system="support-bot").primary_version == "v1"
            drafts = list_postmortems(s)
            assert [(p.incident_id, p.status) for p in drafts] == [(incident.id, "draft")]
    finally:
        store.close()
    turns = read_events(data / "telemetry", "llm_turn", system="support-bot").to_pylist()
    assert len(turns) > 10
    assert all(t["status"] == "ok" and t["client_id"] == "help-center" for t in turns)
    with_documents = [t for t in turns if json.loads(t["document_ids"])]
    assert len(with_documents) >= len(turns) // 2


def test_the_demo_approver_approves_the_rollback_before_its_timeout(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data)
    proc = subprocess.Popen(
        [AIRSOC, "up", "--demo", "--duration", "60", "--fault-after", "8",
         "--monitor-every", "2", "--approval-timeout", "600", "--tick", "0.3",
         "--api-port", str(free_port()), "--gateway-port", str(free_port()),
         "--bot-port", str(free_port())],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        pending: list[ApprovalView] = []
        while not pending:
            assert time.monotonic() < deadline, "no approval was requested"
            assert proc.poll() is None, proc.communicate()[0]
            time.sleep(0.5)
            if (data / "airsoc.db").exists():
                store = Store.open(Settings.resolve(data_dir=data, environ={}))
                with store.read() as s:
                    pending = list_approvals(s)
                store.close()
        assert pending[0].step_id == "contain"
        # The approver logs in with the password the demo printed; approving runs as them.
        credentials = dict(
            line.split(" ", 1)
            for line in (data / "demo" / "credentials.txt").read_text().splitlines()
        )
        login_env = {**env, "APPROVER_PASSWORD": credentials["demo-approver"]}
        logged_in = subprocess.run(
            [AIRSOC, "login", "demo-approver", "--password-env", "APPROVER_PASSWORD"],
            env=login_env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert logged_in.returncode == 0, logged_in.stderr
        decided = subprocess.run(
            [AIRSOC, "approvals", "approve", str(pending[0].id),
             "--reason", "the batch screen flagged the brightline delivery v3 was trained on"],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert decided.returncode == 0, decided.stderr
        while "post-mortem draft" not in (line := proc.stdout.readline() if proc.stdout else ""):
            assert line, "the demo ended before the playbook finished"
            assert time.monotonic() < deadline, "the approved rollback did not happen"
    finally:
        out = _stop(proc)
    assert proc.returncode == 0, out
    store = Store.open(Settings.resolve(data_dir=data, environ={}))
    try:
        with store.read() as s:
            assert get_route(s, system="fraud-detector").primary_version == "v2"
            (approval,) = list_approvals(s, status=None)
            assert (approval.status, approval.decided_by) == ("approved", "demo-approver")
    finally:
        store.close()


REAL_TIME_SCENARIO = """
name: poisoned-release-real-time
description: The poisoned release on the wall clock, against a running platform.
fleet: {systems: [fraud-detector, support-bot], monitor_every: 2s, approval_timeout: 1s}
traffic:
  duration: 75s
  step: 0.5s
  label_delay: 1s
  streams:
    - {system: fraud-detector, client: checkout, rate: 115200, rows_per_request: 8}
  chat:
    - {system: support-bot, client: help-center, rate: 3600, users: 6}
injects:
  - {id: retrain, at: 3s, kind: release, benign: true, params: {release: retrain}}
  - {id: poisoned-release, at: 6s, kind: release, params: {release: fault}}
expectations:
  incident: {failure_mode: data_poisoning, system: fraud-detector, within: 60s}
  containment:
    - {action: rollback, params: {to: last_known_good}}
  root_cause: {subject: brightline-data}
"""


def _stop(proc: subprocess.Popen[str]) -> str:
    """Send Ctrl-C to a running ``airsoc up`` and return its output once it has exited.

    A platform stops after its current monitor round and its last writes, which take longer on
    a busy machine: the wait is generous, and a platform that never stops is killed (so it
    cannot outlive its test) and fails the test with its output.
    """
    proc.send_signal(signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=STOP_WAIT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(
            f"airsoc up did not stop within {STOP_WAIT} s of Ctrl-C:\n{out}"
        ) from None
    return out or ""


def _wait_until_up(proc: subprocess.Popen[str], url: str) -> None:
    deadline = time.monotonic() + 90
    while True:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "airsoc up did not start"
        assert proc.poll() is None, proc.communicate()[0]
        time.sleep(0.2)


def test_a_scenario_runs_in_real_time_against_a_running_platform(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = _env(data)
    # The demo fleet in the data dir, as the first `airsoc up --demo` prepares it.
    store = Store.open(Settings.resolve(data_dir=data, environ={}))
    clock = SystemClock()
    setup = prepare_demo(
        store=store, clock=clock, users=StoreUserDirectory(store, clock),
        monitor_every=2, approval_timeout=1,
    )  # fmt: skip
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(REAL_TIME_SCENARIO, encoding="utf-8")
    api, gw = free_port(), free_port()
    # The support bot's chat upstream, registered as the running gateway's chat upstream.
    bot = contextlib.ExitStack()
    bot_url = bot.enter_context(serve_in_thread(chat_app(SupportBot.demo(clock=clock))))
    register_support_bot(store, clock, folder=setup.folder, url=f"{bot_url}/v1")
    store.close()
    platform = subprocess.Popen(
        [AIRSOC, "up", "--config", str(setup.config_path), "--tick", "0.3",
         "--api-port", str(api), "--gateway-port", str(gw)],
        env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        _wait_until_up(platform, f"http://127.0.0.1:{gw}/v1/status")
        card_path = tmp_path / "card.json"
        drill = subprocess.run(
            [AIRSOC, "drill", "run", str(scenario), "--real-time",
             "--api", f"http://127.0.0.1:{api}", "--gateway", f"http://127.0.0.1:{gw}",
             "--format", "json", "--output", str(card_path)],
            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240, check=False,
        )  # fmt: skip
    finally:
        _stop(platform)
        bot.close()
    assert drill.returncode == 0, drill.stdout + drill.stderr
    card = json.loads(card_path.read_text(encoding="utf-8"))
    # The chat stream went through the running gateway's chat endpoint to the bot.
    assert card["chat_turns_sent"] > 20
    assert card["passed"], card["reasons"]
    assert card["false_alarms"] == 0
    assert [i["explained_by"] for i in card["incidents"]] == ["poisoned-release"]
    assert 0 < card["time_to_detect_s"] <= card["time_to_contain_s"] < 75
    assert card["requests_sent"] > 20
    assert card["labels_sent"] > 0
    assert "inject poisoned-release: release(release=fault" in drill.stdout
    # The injectors acted through the running platform: its gateway served v3 until the
    # platform's own playbook rolled it back.
    store = Store.open(Settings.resolve(data_dir=data, environ={}))
    try:
        with store.read() as s:
            route = get_route(s, system="fraud-detector")
            assert (route.primary_version, route.updated_by[:9]) == ("v2", "playbook:")
            served = read_events(data / "telemetry", "prediction", system="fraud-detector")
            assert "v3" in set(served.column("version").to_pylist())
        turns = read_events(data / "telemetry", "llm_turn", system="support-bot")
        assert set(turns.column("client_id").to_pylist()) == {"help-center"}
        assert turns.num_rows >= card["chat_turns_sent"]
    finally:
        store.close()


def test_real_time_needs_a_running_platform(tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run(
        [AIRSOC, "drill", "run", "live-demo", "--real-time", "--api", nobody,
         "--gateway", nobody],
        env=_env(tmp_path / "data"), cwd=tmp_path, capture_output=True, text=True, timeout=60,
        check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"no running airsoc gateway at {nobody}/v1/status" in result.stderr


def test_up_serves_reloads_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    config = tmp_path / "airsoc.yaml"
    config.write_text(
        "systems: {fraud: {kind: tabular-classifier, owner: risk}}\n"
        "routes: {receiver: ops}\nreceivers: {ops: {}}\n",
        encoding="utf-8",
    )
    api, gw = free_port(), free_port()
    proc = subprocess.Popen(
        [AIRSOC, "up", "--config", str(config), "--tick", "0.2",
         "--api-port", str(api), "--gateway-port", str(gw)],
        env=_env(tmp_path / "data"), cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{api}/healthz", timeout=2)
                status = httpx.get(f"http://127.0.0.1:{gw}/v1/status", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "airsoc up did not start"
                assert proc.poll() is None, proc.communicate()[0]
                time.sleep(0.2)
        assert health.status_code == 200
        assert status.status_code == 200
        config.write_text("routes: {receiver: nobody}\n", encoding="utf-8")
        time.sleep(1.5)
    finally:
        out = _stop(proc)
    assert proc.returncode == 0, out
    assert "kept the running configuration" in out
    assert "unknown receiver" in out
    assert "stopping" in out
