"""OCSF sinks against local servers speaking the real wire formats: a signed webhook, Splunk HEC
and TheHive 5 (create, then find-and-update on a repeat)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from airsoc.alerting.config import DeliveryPolicy
from airsoc.alerting.notification import Notification
from airsoc.alerting.receivers import verify_webhook_signature
from airsoc.alerting.sinks import OcsfWebhookSink, SplunkHecSink, TheHiveSink
from airsoc.clock import SimulatedClock
from airsoc.monitoring.alerts import Alert
from airsoc.testing.receivers import http_sink

POLICY = DeliveryPolicy(max_attempts=3, backoff=timedelta(seconds=2))
HEC_TOKEN = "b0221cd8-c4b4-465a-9a3c-273e3a75aa29"
HIVE_KEY = "hive-api-key"


def _alert(clock: SimulatedClock) -> Alert:
    return Alert(
        labels={
            "system": "support-bot",
            "monitor": "support-bot-injection",
            "failure_mode": "prompt_injection",
            "severity": "sev2",
            "model_version": "v3",
        },
        annotations={"summary": "Injected prompts in 4% of turns"},
        starts_at=clock.now(),
    )


def _notify(clock: SimulatedClock, alert: Alert, *, repeat: bool = False) -> Notification:
    return Notification.of(
        receiver="soc",
        group_key='0:{system="support-bot"}',
        group_labels={"system": "support-bot"},
        alerts=[alert],
        now=clock.now(),
        repeat=repeat,
    )


@dataclass
class FakeServer:
    """State of a fake API server: what it received, and scripted failures."""

    url: str = ""
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    busy: int = 0
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicate_error: str = "CreateError"
    lock: threading.Lock = field(default_factory=threading.Lock)


def _serve(handler: type[http.server.BaseHTTPRequestHandler]) -> Iterator[http.server.HTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class _Handler(http.server.BaseHTTPRequestHandler):
    state: FakeServer

    def _read(self) -> bytes:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.state.lock:
            self.state.requests.append((self.command, self.path, dict(self.headers), body))
        return body

    def _answer(self, status: int, payload: Any = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return


class HecHandler(_Handler):
    """Splunk HTTP Event Collector: /services/collector/event, 'Splunk <token>', HEC codes."""

    def do_POST(self) -> None:
        body = self._read()
        if self.path != "/services/collector/event":
            return self._answer(404, {"text": "The requested URL was not found", "code": 404})
        auth = self.headers.get("Authorization", "")
        if not auth:
            return self._answer(401, {"text": "Token is required", "code": 2})
        if auth != f"Splunk {HEC_TOKEN}":
            return self._answer(403, {"text": "Invalid token", "code": 4})
        if self.state.busy:
            self.state.busy -= 1
            return self._answer(503, {"text": "Server is busy", "code": 9})
        decoder, text, pos, n = json.JSONDecoder(), body.decode(), 0, 0
        while pos < len(text):
            try:
                event, pos = decoder.raw_decode(text, pos)
            except json.JSONDecodeError:
                return self._answer(400, {"text": "Invalid data format", "code": 6})
            if not isinstance(event, dict) or "event" not in event:
                return self._answer(
                    400, {"text": "Event field is required", "code": 12, "invalid-event-number": n}
                )
            n += 1
        if n == 0:
            return self._answer(400, {"text": "No data", "code": 5})
        return self._answer(200, {"text": "Success", "code": 0})


class HiveHandler(_Handler):
    """TheHive 5: POST /api/v1/alert, POST /api/v1/query (listAlert), PATCH /api/v1/alert/{id}."""

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") != f"Bearer {HIVE_KEY}":
            self._answer(401, {"type": "AuthenticationError", "message": "Authentication failure"})
            return False
        return True

    def do_POST(self) -> None:
        body = json.loads(self._read() or b"{}")
        if not self._authorised():
            return None
        if self.path == "/api/v1/alert":
            for key in ("type", "source", "sourceRef", "title", "description"):
                if not body.get(key):
                    return self._answer(
                        400, {"type": "BadRequest", "message": f"Attribute {key} is missing"}
                    )
            with self.state.lock:
                for existing in self.state.alerts.values():
                    if (existing["type"], existing["source"], existing["sourceRef"]) == (
                        body["type"],
                        body["source"],
                        body["sourceRef"],
                    ):
                        return self._answer(
                            400,
                            {"type": self.state.duplicate_error, "message": "Alert already exists"},
                        )
                alert_id = f"~{4096 + len(self.state.alerts)}"
                stored = {"_id": alert_id, "_type": "Alert", "status": "New", **body}
                self.state.alerts[alert_id] = stored
            return self._answer(201, stored)
        if self.path.startswith("/api/v1/query"):
            steps = body.get("query", [])
            if not steps or steps[0].get("_name") != "listAlert":
                return self._answer(400, {"type": "BadRequest", "message": "unknown query"})
            wanted = {
                c["_field"]: c["_value"]
                for s in steps
                if s.get("_name") == "filter"
                for c in s.get("_and", [])
            }
            found = [
                a
                for a in self.state.alerts.values()
                if all(a.get(k) == v for k, v in wanted.items())
            ]
            return self._answer(200, found)
        return self._answer(404, {"type": "NotFoundError", "message": self.path})

    def do_PATCH(self) -> None:
        body = json.loads(self._read() or b"{}")
        if not self._authorised():
            return None
        alert_id = self.path.rsplit("/", 1)[-1]
        if alert_id not in self.state.alerts:
            return self._answer(404, {"type": "NotFoundError", "message": f"Alert {alert_id}"})
        with self.state.lock:
            self.state.alerts[alert_id].update(body)
            self.state.alerts[alert_id]["status"] = "Updated"
        return self._answer(204)


def _fake(handler: type[_Handler]) -> Iterator[FakeServer]:
    state = FakeServer()
    bound = type(handler.__name__, (handler,), {"state": state})
    for server in _serve(bound):
        state.url = f"http://127.0.0.1:{server.server_address[1]}"
        yield state


@pytest.fixture
def hec() -> Iterator[FakeServer]:
    yield from _fake(HecHandler)


@pytest.fixture
def hive() -> Iterator[FakeServer]:
    yield from _fake(HiveHandler)


# -- signed webhook ---------------------------------------------------------------------------


def test_ocsf_webhook_is_signed_over_the_exact_body(clock: SimulatedClock) -> None:
    with http_sink() as server:
        sink = OcsfWebhookSink(
            "soc", POLICY, url=server.url + "/ocsf", secret=b"s3cret", clock=clock
        )
        delivery = sink.send(_notify(clock, _alert(clock)))
    assert delivery.ok, delivery.error
    [request] = server.requests
    now = int(clock.now().timestamp())
    assert verify_webhook_signature(b"s3cret", request.body, request.headers, now=now)
    assert not verify_webhook_signature(b"other", request.body, request.headers, now=now)
    payload = request.json()
    assert payload["findings"][0]["class_uid"] == 2004
    assert payload["findings"][0]["activity_name"] == "Create"
    assert delivery.request["signed"] is True


def test_ocsf_webhook_retries_a_failing_server_on_the_clock(clock: SimulatedClock) -> None:
    start = clock.now()
    with http_sink() as server:
        server.statuses = [503, 502]
        sink = OcsfWebhookSink("soc", POLICY, url=server.url, secret=None, clock=clock)
        delivery = sink.send(_notify(clock, _alert(clock)))
    assert (delivery.ok, delivery.attempts) == (True, 3)
    assert clock.now() - start == timedelta(seconds=6)  # 2 s, then 4 s: simulated, not waited


# -- Splunk HEC -------------------------------------------------------------------------------


def test_hec_receives_the_ocsf_finding_as_the_event(hec: FakeServer, clock: SimulatedClock) -> None:
    sink = SplunkHecSink("soc", POLICY, url=hec.url, token=HEC_TOKEN, clock=clock, index="ai_soc")
    delivery = sink.send(_notify(clock, _alert(clock)))
    assert delivery.ok, delivery.error
    assert delivery.response_code == 200
    [(method, path, headers, body)] = hec.requests
    assert (method, path) == ("POST", "/services/collector/event")
    assert headers["Authorization"] == f"Splunk {HEC_TOKEN}"
    event = json.loads(body)
    assert event["sourcetype"] == "ocsf:detection_finding"
    assert event["index"] == "ai_soc"
    assert event["time"] == clock.now().timestamp()
    assert event["event"]["class_uid"] == 2004
    assert event["event"]["finding_info"]["attacks"][0]["technique"]["uid"] == "AML.T0051"


def test_hec_stacks_several_findings_in_one_request(hec: FakeServer, clock: SimulatedClock) -> None:
    first = _alert(clock)
    second = first.model_copy(update={"labels": {**first.labels, "monitor": "other"}})
    notification = Notification.of(
        receiver="soc", group_key="g", group_labels={}, alerts=[first, second], now=clock.now()
    )
    delivery = SplunkHecSink("soc", POLICY, url=hec.url, token=HEC_TOKEN, clock=clock).send(
        notification
    )
    assert delivery.ok
    assert delivery.request["events"] == 2
    assert len(hec.requests) == 1


def test_hec_busy_is_retried_and_a_bad_token_is_not(hec: FakeServer, clock: SimulatedClock) -> None:
    hec.busy = 1
    ok = SplunkHecSink("soc", POLICY, url=hec.url, token=HEC_TOKEN, clock=clock).send(
        _notify(clock, _alert(clock))
    )
    assert (ok.ok, ok.attempts) == (True, 2)
    bad = SplunkHecSink("soc", POLICY, url=hec.url, token="wrong", clock=clock).send(
        _notify(clock, _alert(clock))
    )
    assert (bad.ok, bad.attempts) == (False, 1)
    assert bad.error is not None
    assert "code 4: Invalid token" in bad.error


def test_hec_that_stays_busy_fails_after_every_attempt(
    hec: FakeServer, clock: SimulatedClock
) -> None:
    hec.busy = 10
    delivery = SplunkHecSink("soc", POLICY, url=hec.url, token=HEC_TOKEN, clock=clock).send(
        _notify(clock, _alert(clock))
    )
    assert (delivery.ok, delivery.attempts) == (False, 3)
    assert delivery.error is not None
    assert "Server is busy" in delivery.error


# -- TheHive ----------------------------------------------------------------------------------


def test_thehive_alert_is_created_with_the_fingerprint_as_source_ref(
    hive: FakeServer, clock: SimulatedClock
) -> None:
    alert = _alert(clock)
    sink = TheHiveSink("soc", POLICY, url=hive.url, api_key=HIVE_KEY, clock=clock)
    delivery = sink.send(_notify(clock, alert))
    assert delivery.ok, delivery.error
    [stored] = hive.alerts.values()
    assert stored["sourceRef"] == alert.fingerprint
    assert (stored["type"], stored["source"], stored["severity"]) == ("airsoc", "airsoc", 3)
    assert "atlas:AML.T0051" in stored["tags"]
    assert "owasp:LLM01:2025" in stored["tags"]
    assert '"class_uid": 2004' in stored["description"]
    assert delivery.request["created"] == [stored["_id"]]
    assert hive.requests[0][2]["Authorization"] == f"Bearer {HIVE_KEY}"


@pytest.mark.parametrize("duplicate_error", ["CreateError", "AlreadyExists"])
def test_a_repeat_and_a_resolution_update_the_same_thehive_alert(
    hive: FakeServer, clock: SimulatedClock, duplicate_error: str
) -> None:
    hive.duplicate_error = duplicate_error
    alert = _alert(clock)
    sink = TheHiveSink("soc", POLICY, url=hive.url, api_key=HIVE_KEY, clock=clock)
    assert sink.send(_notify(clock, alert)).ok
    clock.advance(timedelta(hours=4))
    repeat = sink.send(_notify(clock, alert, repeat=True))
    clock.advance(timedelta(hours=1))
    resolved = sink.send(_notify(clock, alert.resolved_at(clock.now())))
    assert repeat.ok, repeat.error
    assert resolved.ok, resolved.error
    assert len(hive.alerts) == 1  # deduplicated, not three alerts
    [stored] = hive.alerts.values()
    assert repeat.request["updated"] == [stored["_id"]]
    assert stored["status"] == "Updated"
    assert "resolved" in stored["tags"]
    assert "**resolved**" in stored["description"]
    methods = [(m, p.split("?")[0]) for m, p, _h, _b in hive.requests]
    assert methods == [
        ("POST", "/api/v1/alert"),
        ("POST", "/api/v1/alert"),
        ("POST", "/api/v1/query"),
        ("PATCH", f"/api/v1/alert/{stored['_id']}"),
        ("POST", "/api/v1/alert"),
        ("POST", "/api/v1/query"),
        ("PATCH", f"/api/v1/alert/{stored['_id']}"),
    ]


def test_thehive_with_a_wrong_key_fails_without_retrying(
    hive: FakeServer, clock: SimulatedClock
) -> None:
    sink = TheHiveSink("soc", POLICY, url=hive.url, api_key="nope", clock=clock)
    delivery = sink.send(_notify(clock, _alert(clock)))
    assert (delivery.ok, delivery.attempts) == (False, 1)
    assert delivery.error is not None
    assert "HTTP 401" in delivery.error
    assert not hive.alerts


def test_an_unreachable_sink_is_a_recorded_failure(clock: SimulatedClock) -> None:
    from airsoc.testing import free_port

    url = f"http://127.0.0.1:{free_port()}"
    delivery = SplunkHecSink("soc", POLICY, url=url, token=HEC_TOKEN, clock=clock).send(
        _notify(clock, _alert(clock))
    )
    assert (delivery.ok, delivery.attempts) == (False, 3)
    assert delivery.error is not None
    assert "ConnectError" in delivery.error
