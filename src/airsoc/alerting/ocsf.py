"""Return OCSF Detection Finding records (class 2004) for alerts and incident updates.

SIEMs and SOAR platforms read the Open Cybersecurity Schema Framework; every airsoc alert, and
every incident update, becomes one Detection Finding:

* ``activity_id`` 1 Create (an alert starts firing, an incident is declared), 2 Update (a
  repeat notification, an incident changes phase) or 3 Close (resolved, closed);
* ``severity_id`` from airsoc's severity (sev1 Critical, sev2 High, sev3 Medium, sev4 Low),
  ``status_id`` (New, In Progress, Resolved) and ``confidence_id`` / ``confidence_score``;
* ``finding_info``: the alert fingerprint as ``uid`` (stable across Create, Update and Close,
  so a SIEM correlates them), a title, ``types`` (the failure mode and its OWASP entries, each
  with its list and version), and the failure mode's MITRE ATLAS techniques in ``attacks[]``
  with their tactics and the ATLAS release;
* ``evidences[]`` carrying the sha256 of every evidence item the alert or incident rests on;
* the affected system as a resource and, with OCSF's ``ai_security`` profile (1.8),
  the model and version in ``ai_model``;
* ``remediation`` for incident updates (the playbook's text);
* ``metadata`` with the OCSF version, the product (airsoc and its version), and ``unmapped``
  with airsoc's own labels.

OWASP has no OCSF attribute of its own; its ids live in ``finding_info.types`` (readable
``"OWASP LLM Top 10 2025: LLM01 Prompt Injection"``) and, structured, in
``unmapped.owasp``.

Example:
    >>> from datetime import datetime, timezone
    >>> from airsoc.monitoring.alerts import Alert
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> alert = Alert(labels={"system": "support-bot", "monitor": "pi", "severity": "sev2",
    ...                       "failure_mode": "prompt_injection", "model_version": "v3"},
    ...               annotations={"summary": "Injected prompts in 4% of turns"}, starts_at=t0)
    >>> record = alert_finding(alert, now=t0)
    >>> record["class_uid"], record["type_uid"], record["activity_name"], record["severity"]
    (2004, 200401, 'Create', 'High')
    >>> record["finding_info"]["attacks"][0]["technique"]["uid"]
    'AML.T0051'
    >>> record["ai_model"]
    {'model_name': 'support-bot', 'ai_provider': 'Internal', 'version': 'v3'}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any, Literal

from airsoc.alerting.notification import Notification, NotifiedAlert
from airsoc.clock import ensure_utc
from airsoc.errors import InputError, UnknownFailureModeError
from airsoc.incidents.lifecycle import Phase
from airsoc.incidents.taxonomy import ATLAS_VERSION, FailureMode, failure_mode
from airsoc.monitoring.alerts import Alert

__all__ = [
    "CLASS_UID",
    "OCSF_VERSION",
    "Activity",
    "alert_finding",
    "incident_finding",
    "notification_findings",
]

#: The OCSF release the records follow (``ai_model`` and the ``ai_security`` profile are 1.8).
OCSF_VERSION = "1.8.0"
CLASS_UID = 2004
CATEGORY_UID = 2

Activity = Literal["create", "update", "close"]
_ACTIVITY = {"create": (1, "Create"), "update": (2, "Update"), "close": (3, "Close")}
_SEVERITY = {
    "sev1": (5, "Critical"),
    "sev2": (4, "High"),
    "sev3": (3, "Medium"),
    "sev4": (2, "Low"),
    "sev5": (1, "Informational"),
}
_STATUS = {
    "new": (1, "New"),
    "in_progress": (2, "In Progress"),
    "suppressed": (3, "Suppressed"),
    "resolved": (4, "Resolved"),
    "archived": (5, "Archived"),
}
# Each incident phase, the finding status it means, and whether it closes the finding.
_PHASE_STATUS: dict[Phase, tuple[str, Activity]] = {
    Phase.DETECTED: ("new", "create"),
    Phase.TRIAGED: ("in_progress", "update"),
    Phase.CONTAINED: ("in_progress", "update"),
    Phase.ERADICATED: ("in_progress", "update"),
    Phase.RECOVERED: ("in_progress", "update"),
    Phase.CLOSED: ("resolved", "close"),
    Phase.FALSE_POSITIVE: ("suppressed", "close"),
    Phase.MERGED: ("archived", "close"),
}


def _product_version() -> str:
    try:
        return package_version("airsoc")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


def _ms(when: datetime) -> int:
    return int(ensure_utc(when).timestamp() * 1000)


def _confidence(score: float | None) -> dict[str, Any]:
    """Return OCSF confidence fields for a score in [0, 1] (None: unknown)."""
    if score is None:
        return {"confidence_id": 0, "confidence": "Unknown"}
    pct = max(0, min(100, round(score * 100)))
    cid, name = (3, "High") if pct >= 80 else (2, "Medium") if pct >= 50 else (1, "Low")
    return {"confidence_id": cid, "confidence": name, "confidence_score": pct}


def _attacks(mode: FailureMode | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if mode is None:
        return out
    for technique in mode.atlas:
        for tactic in technique.tactics or ("",):
            attack: dict[str, Any] = {"version": f"ATLAS {ATLAS_VERSION}"}
            if "." in technique.id[len("AML.") :]:
                parent = technique.id.rsplit(".", 1)[0]
                attack["technique"] = {"uid": parent, "name": technique.name.split(":")[0]}
                attack["sub_technique"] = {"uid": technique.id, "name": technique.name}
            else:
                attack["technique"] = {"uid": technique.id, "name": technique.name}
            if tactic:
                attack["tactic"] = {"name": tactic}
            out.append(attack)
    return out


def _types(mode: FailureMode | None, name: str | None) -> list[str]:
    types = [f"airsoc: {name}"] if name else []
    if mode is not None:
        types += [f"{o.list} {o.version}: {o.id} {o.name}" for o in mode.owasp]
    return types


def _owasp(mode: FailureMode | None) -> list[dict[str, str]]:
    if mode is None:
        return []
    return [{"list": o.list, "id": o.id, "name": o.name, "version": o.version} for o in mode.owasp]


def _mode(name: str | None) -> FailureMode | None:
    if not name:
        return None
    try:
        return failure_mode(name)
    except UnknownFailureModeError:
        return None


def _evidences(hashes: Iterable[str]) -> list[dict[str, Any]]:
    out = []
    for digest in hashes:
        value = digest.removeprefix("sha256:").lower()
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
            raise InputError(f"evidence hash {digest!r} is not a sha256 hex digest")
        out.append(
            {
                "file": {
                    "name": f"sha256:{value}",
                    "type_id": 1,
                    "type": "Regular File",
                    "hashes": [{"algorithm_id": 3, "algorithm": "SHA-256", "value": value}],
                },
                "data": {"sha256": value},
            }
        )
    return out


def _finding(
    *,
    activity: Activity,
    when: datetime,
    uid: str,
    title: str,
    desc: str | None,
    severity: str | None,
    status: str,
    mode_name: str | None,
    system: str | None,
    model_version: str | None,
    confidence: float | None,
    evidence: Sequence[str],
    first_seen: datetime | None,
    last_seen: datetime | None,
    remediation: str | None,
    analytic: str | None,
    labels: Mapping[str, str],
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    if activity not in _ACTIVITY:
        raise InputError(f"activity must be one of create, update, close; got {activity!r}")
    activity_id, activity_name = _ACTIVITY[activity]
    severity_id, severity_name = _SEVERITY.get(severity or "", (0, "Unknown"))
    status_id, status_name = _STATUS[status]
    mode = _mode(mode_name)
    info: dict[str, Any] = {
        "uid": uid,
        "title": title,
        "types": _types(mode, mode_name),
        "created_time": _ms(first_seen or when),
        "modified_time": _ms(when),
    }
    if desc:
        info["desc"] = desc
    if first_seen is not None:
        info["first_seen_time"] = _ms(first_seen)
    if last_seen is not None:
        info["last_seen_time"] = _ms(last_seen)
    attacks = _attacks(mode)
    if attacks:
        info["attacks"] = attacks
    if analytic:
        info["analytic"] = {"name": analytic, "type_id": 1, "type": "Rule"}
    record: dict[str, Any] = {
        "activity_id": activity_id,
        "activity_name": activity_name,
        "category_uid": CATEGORY_UID,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Detection Finding",
        "type_uid": CLASS_UID * 100 + activity_id,
        "type_name": f"Detection Finding: {activity_name}",
        "time": _ms(when),
        "severity_id": severity_id,
        "severity": severity_name,
        "status_id": status_id,
        "status": status_name,
        "is_alert": activity != "close",
        "message": title,
        "finding_info": info,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {
                "name": "airsoc",
                "vendor_name": "airsoc",
                "version": _product_version(),
            },
            "uid": _record_uid(uid, activity, when, status),
            "correlation_uid": uid,
        },
        **_confidence(confidence),
    }
    if first_seen is not None:
        record["start_time"] = _ms(first_seen)
    if last_seen is not None:
        record["end_time"] = _ms(last_seen)
    if system:
        record["resources"] = [{"name": system, "type": "AI System", "uid": system}]
        model: dict[str, Any] = {"model_name": system, "ai_provider": "Internal"}
        if model_version:
            model["version"] = model_version
        record["ai_model"] = model
        record["metadata"]["profiles"] = ["ai_security"]
    if evidence:
        record["evidences"] = _evidences(evidence)
    if remediation:
        record["remediation"] = {"desc": remediation}
    unmapped: dict[str, Any] = {"labels": dict(sorted(labels.items())), **extra}
    owasp = _owasp(mode)
    if owasp:
        unmapped["owasp"] = owasp
    if mode_name:
        unmapped["failure_mode"] = mode_name
    record["unmapped"] = unmapped
    return record


def _record_uid(uid: str, activity: str, when: datetime, status: str) -> str:
    digest = hashlib.sha256(f"{uid}|{activity}|{_ms(when)}|{status}".encode())
    return digest.hexdigest()[:32]


def _evidence_hashes(annotations: Mapping[str, str]) -> list[str]:
    """Return sha256 digests an alert's annotations list (``evidence``: JSON list or commas)."""
    raw = annotations.get("evidence") or annotations.get("evidence_sha256") or ""
    raw = raw.strip()
    if not raw:
        return []
    if raw.startswith("["):
        try:
            items = json.loads(raw)
        except json.JSONDecodeError:
            raise InputError(
                f"alert annotation evidence is not a JSON list: {raw[:60]!r}"
            ) from None
        return [str(i) for i in items]
    return [part.strip() for part in raw.split(",") if part.strip()]


def _score(annotations: Mapping[str, str]) -> float | None:
    for key in ("confidence", "score"):
        if key in annotations:
            try:
                return float(annotations[key])
            except ValueError:
                return None
    return None


def alert_finding(
    alert: Alert | NotifiedAlert,
    *,
    now: datetime,
    activity: Activity | None = None,
    confidence: float | None = None,
) -> dict[str, Any]:
    """Return the OCSF Detection Finding for ``alert`` at ``now``.

    The activity defaults to Create while the alert fires and Close once it has ended; pass
    ``activity="update"`` for a repeat notification. ``finding_info.uid`` is the alert's
    fingerprint. Evidence hashes come from the ``evidence`` annotation (a JSON list or a
    comma-separated list of sha256 digests), the confidence from ``confidence`` or the
    ``confidence`` annotation (a score in [0, 1]).

    >>> from datetime import datetime, timedelta, timezone
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> a = Alert(labels={"system": "fraud", "failure_mode": "data_drift", "severity": "sev3"},
    ...           starts_at=t0).resolved_at(t0 + timedelta(hours=1))
    >>> r = alert_finding(a, now=t0 + timedelta(hours=2))
    >>> r["activity_name"], r["status"], r["is_alert"], r["finding_info"]["uid"] == a.fingerprint
    ('Close', 'Resolved', False, True)
    """
    labels = dict(alert.labels)
    annotations = dict(alert.annotations)
    resolved = alert.ends_at is not None and ensure_utc(alert.ends_at) <= ensure_utc(now)
    chosen: Activity = activity or ("close" if resolved else "create")
    mode_name = labels.get("failure_mode")
    system = labels.get("system")
    title = annotations.get("summary") or (
        f"{mode_name or 'alert'} on {system}" if system else (mode_name or "airsoc alert")
    )
    return _finding(
        activity=chosen,
        when=now,
        uid=alert.fingerprint,
        title=title,
        desc=annotations.get("description"),
        severity=labels.get("severity"),
        status="resolved" if chosen == "close" else "new" if chosen == "create" else "in_progress",
        mode_name=mode_name,
        system=system,
        model_version=labels.get("model_version"),
        confidence=confidence if confidence is not None else _score(annotations),
        evidence=_evidence_hashes(annotations),
        first_seen=alert.starts_at,
        last_seen=alert.ends_at if resolved else now,
        remediation=None,
        analytic=labels.get("monitor"),
        labels=labels,
        extra={"annotations": dict(sorted(annotations.items()))},
    )


def notification_findings(notification: Notification) -> list[dict[str, Any]]:
    """Return one finding per alert of ``notification`` (Update for repeats of firing alerts).

    >>> from datetime import datetime, timezone
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> n = Notification.of(receiver="soc", group_key="k", group_labels={}, now=t0,
    ...     alerts=[Alert(labels={"system": "fraud"}, starts_at=t0)], repeat=True)
    >>> [r["activity_name"] for r in notification_findings(n)]
    ['Update']
    """
    out = []
    for alert in notification.alerts:
        activity: Activity | None = (
            "update" if notification.repeat and alert.status == "firing" else None
        )
        out.append(alert_finding(alert, now=notification.sent_at, activity=activity))
    return out


def incident_finding(
    *,
    incident_id: str,
    phase: str,
    severity: str,
    failure_mode: str | None,
    title: str,
    now: datetime,
    system: str | None = None,
    model_version: str | None = None,
    remediation: str | None = None,
    summary: str | None = None,
    declared_at: datetime | None = None,
    evidence: Sequence[str] = (),
    confidence: float | None = None,
    alert_fingerprints: Sequence[str] = (),
    activity: Activity | None = None,
) -> dict[str, Any]:
    """Return the OCSF Detection Finding for an incident update, from plain values.

    ``phase`` is the incident's lifecycle phase: ``detected`` gives Create (status New);
    ``closed`` Close (Resolved), ``false_positive`` Close (Suppressed), ``merged`` Close
    (Archived); the phases between an Update (In Progress). ``remediation`` is the playbook's
    text; ``finding_info.uid`` is ``incident-<id>`` and the alerts that led to it are listed
    as related events.

    >>> from datetime import datetime, timezone
    >>> r = incident_finding(incident_id="42", phase="contained", severity="sev1",
    ...     failure_mode="data_poisoning", title="Poisoned vendor batch", system="fraud",
    ...     model_version="v7", remediation="Rolled back to v6; batch quarantined",
    ...     now=datetime(2026, 1, 2, tzinfo=timezone.utc))
    >>> r["activity_name"], r["status"], r["severity_id"], r["remediation"]["desc"][:11]
    ('Update', 'In Progress', 5, 'Rolled back')
    >>> sorted({a["technique"]["uid"] for a in r["finding_info"]["attacks"]})
    ['AML.T0010', 'AML.T0019', 'AML.T0020']
    """
    try:
        status, default_activity = _PHASE_STATUS[Phase(phase.lower())]
    except ValueError:
        known = ", ".join(p.value for p in Phase)
        raise InputError(f"unknown incident phase {phase!r}; one of {known}") from None
    chosen: Activity = activity or default_activity
    record = _finding(
        activity=chosen,
        when=now,
        uid=f"incident-{incident_id}",
        title=title,
        desc=summary,
        severity=severity,
        status=status,
        mode_name=failure_mode,
        system=system,
        model_version=model_version,
        confidence=confidence,
        evidence=evidence,
        first_seen=declared_at,
        last_seen=now,
        remediation=remediation,
        analytic=None,
        labels={
            k: v
            for k, v in {
                "incident_id": str(incident_id),
                "phase": phase,
                "severity": severity,
                "failure_mode": failure_mode or "",
                "system": system or "",
            }.items()
            if v
        },
        extra={"phase": phase},
    )
    if alert_fingerprints:
        record["finding_info"]["related_events"] = [
            {"uid": fp, "type": "alert", "type_uid": CLASS_UID * 100 + 1}
            for fp in alert_fingerprints
        ]
    return record
