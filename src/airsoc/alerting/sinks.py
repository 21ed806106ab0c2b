"""OCSF sinks: receivers that deliver alerts as OCSF Detection Findings to SIEM and SOAR tools.

Three integrations, each a receiver like the others (``send(notification) -> Delivery``, with
retries and exponential backoff on the clock, see :mod:`airsoc.alerting.receivers`):

* :class:`OcsfWebhookSink` posts ``{"findings": [...]}`` signed like airsoc's webhooks
  (``X-Airsoc-Timestamp`` and ``X-Airsoc-Signature: sha256=<HMAC-SHA256 of "<ts>." + body>``);
* :class:`SplunkHecSink` sends each finding as one Splunk HTTP Event Collector event
  (``POST /services/collector/event``, ``Authorization: Splunk <token>``, body
  ``{"event": <finding>, "sourcetype": "ocsf:detection_finding", "time": <epoch s>, ...}``,
  events of one notification stacked in one request), and reads HEC's JSON answer: ``code`` 0
  is success; a busy or unavailable collector (503, HEC codes 8 and 9) is retried, a bad token
  or bad data is not;
* :class:`TheHiveSink` creates TheHive alerts (``POST /api/v1/alert``, ``Authorization: Bearer
  <key>``) with ``sourceRef`` set to the alert fingerprint. TheHive refuses a second alert with
  the same ``type``, ``source`` and ``sourceRef`` (HTTP 400, an "already exists" error); the sink
  then finds the existing alert (``POST /api/v1/query``) and updates it (``PATCH
  /api/v1/alert/{id}``), so a repeat or a resolution updates one TheHive alert instead of
  duplicating it.

Example:
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.alerting.config import DeliveryPolicy
    >>> sink = SplunkHecSink("soc", DeliveryPolicy(), url="https://splunk.example:8088",
    ...                      token="t0k3n", clock=SimulatedClock())
    >>> sink.name, sink.endpoint
    ('soc/splunk_hec', 'https://splunk.example:8088/services/collector/event')
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from airsoc.alerting.config import DeliveryPolicy
from airsoc.alerting.delivery import _Integration, _PermanentFailureError, sign_webhook
from airsoc.alerting.notification import Delivery, Notification, NotifiedAlert
from airsoc.alerting.ocsf import alert_finding, notification_findings
from airsoc.clock import Clock

__all__ = [
    "HEC_SOURCETYPE",
    "OcsfWebhookSink",
    "SplunkHecSink",
    "TheHiveSink",
    "thehive_alert",
    "thehive_finding_alert",
]

HEC_SOURCETYPE = "ocsf:detection_finding"
# HEC answers these codes when it cannot take data right now: worth another attempt.
_HEC_RETRY_CODES = {8, 9}
_THEHIVE_SEVERITY = {"sev1": 4, "sev2": 3, "sev3": 2, "sev4": 1, "sev5": 1}


class _RetryableError(httpx.HTTPError):
    """A server answered that it cannot take the data now (busy, unavailable)."""


def _redact(url: str) -> str:
    parsed = httpx.URL(url)
    return str(parsed.copy_with(query=None, username=None, password=None))


class _HttpSink(_Integration):
    def send_findings(self, findings: Sequence[Mapping[str, Any]], *, key: str) -> Delivery:
        """Deliver OCSF findings built elsewhere (an incident's updates), with the same retries
        and a recorded :class:`~airsoc.alerting.notification.Delivery` under ``key``."""
        records = [dict(f) for f in findings]
        return self._with_retries(lambda: self._deliver_findings(records, key), key)

    def _deliver_findings(
        self, findings: list[dict[str, Any]], key: str
    ) -> tuple[int | None, dict[str, Any]]:
        raise NotImplementedError

    def _request(
        self, method: str, url: str, *, body: bytes | None = None, headers: Mapping[str, str]
    ) -> httpx.Response:
        return httpx.request(
            method,
            url,
            content=body,
            headers={"Content-Type": "application/json", **headers},
            timeout=self.policy.timeout.total_seconds(),
        )

    @staticmethod
    def _fail_on_status(response: httpx.Response, what: str) -> None:
        if response.status_code >= 500 or response.status_code == 429:
            raise _RetryableError(f"{what}: HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            raise _PermanentFailureError(
                f"{what}: HTTP {response.status_code}: {response.text[:200]}"
            )


class OcsfWebhookSink(_HttpSink):
    """Posts a notification's OCSF findings as JSON, signed with HMAC-SHA256 when given a secret.

    >>> from airsoc.clock import SimulatedClock
    >>> OcsfWebhookSink("soc", DeliveryPolicy(), url="http://127.0.0.1:1/hook", secret=None,
    ...                 clock=SimulatedClock()).name
    'soc/ocsf_webhook'
    """

    kind = "ocsf_webhook"

    def __init__(
        self,
        receiver: str,
        policy: DeliveryPolicy,
        *,
        url: str,
        secret: bytes | None,
        clock: Clock,
    ) -> None:
        super().__init__(receiver, policy, clock=clock)
        self.url = url
        self.secret = secret

    def body(self, notification: Notification) -> bytes:
        """Return the exact bytes posted (and signed) for ``notification``."""
        return self._body(
            notification.group_key, notification.status, notification_findings(notification)
        )

    @staticmethod
    def _body(key: str, status: str, findings: list[dict[str, Any]]) -> bytes:
        payload = {"group_key": key, "status": status, "findings": findings}
        return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()

    def _deliver(self, notification: Notification) -> tuple[int | None, dict[str, Any]]:
        return self._post_body(self.body(notification), len(notification.alerts))

    def _deliver_findings(
        self, findings: list[dict[str, Any]], key: str
    ) -> tuple[int | None, dict[str, Any]]:
        return self._post_body(self._body(key, "update", findings), len(findings))

    def _post_body(self, body: bytes, count: int) -> tuple[int | None, dict[str, Any]]:
        headers = (
            sign_webhook(self.secret, body, timestamp=int(self.clock.now().timestamp()))
            if self.secret
            else {}
        )
        response = self._request("POST", self.url, body=body, headers=headers)
        self._fail_on_status(response, "OCSF webhook")
        return response.status_code, {
            "url": _redact(self.url),
            "bytes": len(body),
            "findings": count,
            "signed": bool(self.secret),
        }


class SplunkHecSink(_HttpSink):
    """Sends OCSF findings to a Splunk HTTP Event Collector, one HEC event per finding."""

    kind = "splunk_hec"

    def __init__(
        self,
        receiver: str,
        policy: DeliveryPolicy,
        *,
        url: str,
        token: str,
        clock: Clock,
        sourcetype: str = HEC_SOURCETYPE,
        source: str = "airsoc",
        index: str | None = None,
        host: str | None = None,
    ) -> None:
        super().__init__(receiver, policy, clock=clock)
        self.endpoint = url.rstrip("/") + "/services/collector/event"
        self.token = token
        self.sourcetype = sourcetype
        self.source = source
        self.index = index
        self.host = host

    def events(self, notification: Notification) -> list[dict[str, Any]]:
        """Return the HEC event envelopes for ``notification`` (the OCSF finding is the event).

        >>> from datetime import datetime, timezone
        >>> from airsoc.clock import SimulatedClock
        >>> from airsoc.monitoring.alerts import Alert
        >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
        >>> n = Notification.of(receiver="soc", group_key="k", group_labels={}, now=t0,
        ...     alerts=[Alert(labels={"system": "fraud"}, starts_at=t0)])
        >>> sink = SplunkHecSink("soc", DeliveryPolicy(), url="http://splunk:8088",
        ...                      token="t", clock=SimulatedClock())
        >>> [(e["sourcetype"], e["time"], e["event"]["class_uid"]) for e in sink.events(n)]
        [('ocsf:detection_finding', 1767225600.0, 2004)]
        """
        return self._events(notification_findings(notification))

    def _events(self, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for finding in findings:
            event: dict[str, Any] = {
                "time": finding["time"] / 1000,
                "sourcetype": self.sourcetype,
                "source": self.source,
                "event": finding,
            }
            if self.index:
                event["index"] = self.index
            if self.host:
                event["host"] = self.host
            out.append(event)
        return out

    def _deliver(self, notification: Notification) -> tuple[int | None, dict[str, Any]]:
        return self._post_events(self.events(notification))

    def _deliver_findings(
        self, findings: list[dict[str, Any]], key: str
    ) -> tuple[int | None, dict[str, Any]]:
        return self._post_events(self._events(findings))

    def _post_events(self, events: list[dict[str, Any]]) -> tuple[int | None, dict[str, Any]]:
        # HEC takes several events in one request as concatenated JSON objects.
        body = "".join(json.dumps(e, separators=(",", ":")) for e in events).encode()
        response = self._request(
            "POST", self.endpoint, body=body, headers={"Authorization": f"Splunk {self.token}"}
        )
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        code = answer.get("code") if isinstance(answer, dict) else None
        text = answer.get("text", "") if isinstance(answer, dict) else ""
        if response.status_code == 200 and code in (0, None):
            return 200, {"url": _redact(self.endpoint), "events": len(events), "bytes": len(body)}
        detail = (
            f"Splunk HEC: HTTP {response.status_code}, code {code}: {text or response.text[:200]}"
        )
        if response.status_code >= 500 or response.status_code == 429 or code in _HEC_RETRY_CODES:
            raise _RetryableError(detail)
        raise _PermanentFailureError(detail)


def thehive_alert(
    alert: NotifiedAlert, *, now: datetime, source: str = "airsoc", alert_type: str = "airsoc"
) -> dict[str, Any]:
    """Return the TheHive alert body for ``alert`` (``sourceRef`` = the alert fingerprint).

    >>> from datetime import datetime, timezone
    >>> from airsoc.monitoring.alerts import Alert
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> n = Notification.of(receiver="soc", group_key="k", group_labels={}, now=t0,
    ...     alerts=[Alert(labels={"system": "bot", "failure_mode": "prompt_injection",
    ...                           "severity": "sev2"}, starts_at=t0)])
    >>> body = thehive_alert(n.alerts[0], now=t0)
    >>> body["sourceRef"] == n.alerts[0].fingerprint, body["severity"], body["tags"][:3]
    (True, 3, ['airsoc', 'failure_mode:prompt_injection', 'system:bot'])
    """
    return thehive_finding_alert(
        alert_finding(alert, now=now),
        source=source,
        alert_type=alert_type,
        state=alert.status,
        link=alert.generator_url or None,
    )


def thehive_finding_alert(
    finding: Mapping[str, Any],
    *,
    source: str = "airsoc",
    alert_type: str = "airsoc",
    state: str | None = None,
    link: str | None = None,
) -> dict[str, Any]:
    """Return the TheHive alert body for an OCSF finding (``sourceRef`` = ``finding_info.uid``:
    the alert fingerprint, or ``incident-<id>`` for an incident's updates).

    >>> from datetime import datetime, timezone
    >>> from airsoc.alerting.ocsf import incident_finding
    >>> f = incident_finding(incident_id="7", phase="closed", severity="sev2",
    ...     failure_mode="prompt_injection", title="Injection", system="bot",
    ...     now=datetime(2026, 1, 1, tzinfo=timezone.utc))
    >>> body = thehive_finding_alert(f)
    >>> body["sourceRef"], body["tags"][-1]
    ('incident-7', 'resolved')
    """
    info = finding["finding_info"]
    unmapped = finding.get("unmapped", {})
    labels: Mapping[str, str] = unmapped.get("labels", {})
    tags = ["airsoc"]
    tags += [f"{k}:{labels[k]}" for k in ("failure_mode", "system", "severity") if labels.get(k)]
    techniques = {a.get("sub_technique", a["technique"])["uid"] for a in info.get("attacks", [])}
    tags += sorted(f"atlas:{t}" for t in techniques)
    tags += [f"owasp:{o['id']}:{o['version']}" for o in unmapped.get("owasp", [])]
    if finding.get("activity_id") == 3:
        tags.append(str(finding.get("status", "closed")).lower())
    state = state or str(finding.get("status", ""))
    remediation = finding.get("remediation", {}).get("desc")
    description = (
        f"{info.get('desc') or info['title']}\n\n"
        f"Status: **{state}**  \n"
        f"Labels: {', '.join(f'`{k}={v}`' for k, v in sorted(labels.items()))}\n\n"
        + (f"Remediation: {remediation}\n\n" if remediation else "")
        + "OCSF Detection Finding:\n\n```json\n"
        f"{json.dumps(finding, indent=2, sort_keys=True)}\n```"
    )
    return {
        "type": alert_type,
        "source": source,
        "sourceRef": str(info["uid"]),
        "title": info["title"],
        "description": description,
        "severity": _THEHIVE_SEVERITY.get(str(labels.get("severity", "")), 2),
        "date": info["created_time"],
        "tags": tags,
        "tlp": 2,
        "pap": 2,
        "externalLink": link,
    }


def _already_exists(response: httpx.Response) -> bool:
    if response.status_code not in (400, 409):
        return False
    try:
        answer = response.json()
    except ValueError:
        return "already exist" in response.text.lower()
    kind = str(answer.get("type", "")) if isinstance(answer, dict) else ""
    message = str(answer.get("message", "")) if isinstance(answer, dict) else ""
    return kind in ("AlreadyExists", "AlreadyExistsError", "ConflictError") or (
        "already exist" in message.lower()
    )


class TheHiveSink(_HttpSink):
    """Creates a TheHive alert per airsoc alert; a repeat finds and updates the existing one."""

    kind = "thehive"
    _UPDATABLE = ("title", "description", "severity", "tags", "externalLink")

    def __init__(
        self,
        receiver: str,
        policy: DeliveryPolicy,
        *,
        url: str,
        api_key: str,
        clock: Clock,
        source: str = "airsoc",
        alert_type: str = "airsoc",
        organisation: str | None = None,
    ) -> None:
        super().__init__(receiver, policy, clock=clock)
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.source = source
        self.alert_type = alert_type
        self.organisation = organisation

    @property
    def _headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.api_key}"}
        if self.organisation:
            headers["X-Organisation"] = self.organisation
        return headers

    def _find(self, source_ref: str) -> str:
        query = {
            "query": [
                {"_name": "listAlert"},
                {
                    "_name": "filter",
                    "_and": [
                        {"_field": "sourceRef", "_value": source_ref},
                        {"_field": "source", "_value": self.source},
                        {"_field": "type", "_value": self.alert_type},
                    ],
                },
                {"_name": "page", "from": 0, "to": 1},
            ]
        }
        response = self._request(
            "POST",
            f"{self.url}/api/v1/query?name=airsoc-find-alert",
            body=json.dumps(query).encode(),
            headers=self._headers,
        )
        self._fail_on_status(response, "TheHive alert query")
        found = response.json()
        if not isinstance(found, list) or not found:
            raise _PermanentFailureError(
                f"TheHive says alert {source_ref} exists but the query did not find it"
            )
        return str(found[0].get("_id") or found[0].get("id"))

    def _deliver(self, notification: Notification) -> tuple[int | None, dict[str, Any]]:
        return self._upsert(
            [
                thehive_alert(
                    a, now=notification.sent_at, source=self.source, alert_type=self.alert_type
                )
                for a in notification.alerts
            ]
        )

    def _deliver_findings(
        self, findings: list[dict[str, Any]], key: str
    ) -> tuple[int | None, dict[str, Any]]:
        return self._upsert(
            [
                thehive_finding_alert(f, source=self.source, alert_type=self.alert_type)
                for f in findings
            ]
        )

    def _upsert(self, bodies: list[dict[str, Any]]) -> tuple[int | None, dict[str, Any]]:
        """Create each alert; one TheHive already has (same sourceRef) is found and updated."""
        created: list[str] = []
        updated: list[str] = []
        code: int | None = None
        for full in bodies:
            body = {k: v for k, v in full.items() if v is not None}
            response = self._request(
                "POST",
                f"{self.url}/api/v1/alert",
                body=json.dumps(body).encode(),
                headers=self._headers,
            )
            if _already_exists(response):
                alert_id = self._find(body["sourceRef"])
                patch = {k: body[k] for k in self._UPDATABLE if k in body}
                response = self._request(
                    "PATCH",
                    f"{self.url}/api/v1/alert/{alert_id}",
                    body=json.dumps(patch).encode(),
                    headers=self._headers,
                )
                self._fail_on_status(response, "TheHive alert update")
                updated.append(alert_id)
            else:
                self._fail_on_status(response, "TheHive alert creation")
                answer = response.json() if response.content else {}
                created.append(str(answer.get("_id", "")) if isinstance(answer, dict) else "")
            code = response.status_code
        return code, {"url": _redact(self.url), "created": created, "updated": updated}
