"""Silences and inhibition: the two ways an alert is muted, as in Alertmanager.

A **silence** mutes alerts whose labels match all its matchers between ``starts_at`` and
``ends_at``; it carries who made it and why. An **inhibition rule** mutes *target* alerts while a
firing *source* alert has the same values for the ``equal`` labels (a pipeline fault on a system
inhibits the drift alerts it causes). An alert never inhibits itself.

Example:
    >>> from datetime import datetime, timedelta, timezone
    >>> from airsoc.monitoring.alerts import Alert
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> fault = Alert(labels={"system": "fraud", "failure_mode": "pipeline_fault"}, starts_at=t0)
    >>> drift = Alert(labels={"system": "fraud", "failure_mode": "data_drift"}, starts_at=t0)
    >>> rule = InhibitRule.from_strings(["failure_mode=pipeline_fault"],
    ...                                 ["failure_mode=data_drift"], ["system"])
    >>> inhibitor = Inhibitor([rule])
    >>> inhibitor.inhibited_fingerprints([fault, drift], now=t0) == {drift.fingerprint}
    True
    >>> s = Silence(id="s1", matchers=parse_matchers(["system=fraud"]), starts_at=t0,
    ...             ends_at=t0 + timedelta(hours=1), created_by="alice", comment="maintenance")
    >>> s.mutes(drift.labels, t0), s.mutes(drift.labels, t0 + timedelta(hours=2))
    (True, False)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from airsoc.alerting.config import InhibitRuleConfig
from airsoc.alerting.matchers import Matcher, matches_all, parse_matchers
from airsoc.monitoring.alerts import Alert

__all__ = ["InhibitRule", "Inhibitor", "Silence", "parse_matchers"]


@dataclass(frozen=True)
class Silence:
    """Mutes matching alerts from ``starts_at`` until ``ends_at``; says who and why."""

    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def is_active(self, now: datetime) -> bool:
        """Return whether the silence is in force at ``now``."""
        return self.starts_at <= now < self.ends_at

    def state(self, now: datetime) -> str:
        """Return ``pending``, ``active`` or ``expired`` at ``now``."""
        if now < self.starts_at:
            return "pending"
        return "active" if now < self.ends_at else "expired"

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        """Return whether this silence mutes an alert with ``labels`` at ``now``."""
        return self.is_active(now) and matches_all(self.matchers, labels)


@dataclass(frozen=True)
class InhibitRule:
    """Mute alerts matching ``target`` while one matching ``source`` fires with equal labels."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    @classmethod
    def from_strings(
        cls, source: Iterable[str], target: Iterable[str], equal: Iterable[str] = ()
    ) -> InhibitRule:
        """Return a rule from matcher strings."""
        return cls(parse_matchers(source), parse_matchers(target), tuple(equal))

    @classmethod
    def from_config(cls, config: InhibitRuleConfig) -> InhibitRule:
        """Return the rule an ``inhibit_rules`` entry describes."""
        return cls.from_strings(config.source_matchers, config.target_matchers, config.equal)


class Inhibitor:
    """Applies inhibition rules to a set of alerts."""

    def __init__(self, rules: Sequence[InhibitRule]) -> None:
        self.rules = list(rules)

    def inhibited_fingerprints(self, alerts: Iterable[Alert], *, now: datetime) -> set[str]:
        """Return the fingerprints of the alerts muted by a firing source alert."""
        alerts = list(alerts)
        muted: set[str] = set()
        for rule in self.rules:
            sources: dict[tuple[str, ...], set[str]] = {}
            for alert in alerts:
                if not alert.is_resolved(now) and matches_all(rule.source, alert.labels):
                    key = tuple(alert.labels.get(name, "") for name in rule.equal)
                    sources.setdefault(key, set()).add(alert.fingerprint)
            if not sources:
                continue
            for alert in alerts:
                if alert.fingerprint in muted or not matches_all(rule.target, alert.labels):
                    continue
                key = tuple(alert.labels.get(name, "") for name in rule.equal)
                if sources.get(key, set()) - {alert.fingerprint}:
                    muted.add(alert.fingerprint)
        return muted
