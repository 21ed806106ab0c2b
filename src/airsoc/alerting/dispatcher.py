"""The dispatcher: routes alerts into groups and decides when each group is notified.

It follows Alertmanager's rules:

- every route an alert reaches puts it in an aggregation group keyed by the route and the
  ``group_by`` label values;
- a new group is first flushed ``group_wait`` after its first alert, then every
  ``group_interval``;
- a flush drops silenced and inhibited alerts, and notifies a receiver only when a firing alert
  is new since the last notification, when alerts were resolved (and the receiver sends resolved
  notices), when everything it last heard about has resolved, or when ``repeat_interval`` has
  passed;
- resolved alerts leave the group once notified; an empty group is dropped.

Example:
    >>> from datetime import datetime, timedelta, timezone
    >>> from airsoc.clock import SimulatedClock
    >>> from airsoc.alerting.config import RouteConfig
    >>> from airsoc.alerting.routing import build_route_tree
    >>> from airsoc.alerting.receivers import RecordingReceiver
    >>> clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=timezone.utc))
    >>> pager = RecordingReceiver("pager")
    >>> tree = build_route_tree(RouteConfig.model_validate(
    ...     {"receiver": "pager", "group_by": ["system"], "group_wait": "30s"}))
    >>> d = Dispatcher(route=tree, receivers={"pager": [pager]}, clock=clock)
    >>> d.put(Alert(labels={"system": "fraud", "monitor": "m1"}, starts_at=clock.now()))
    >>> d.tick()
    []
    >>> clock.advance(timedelta(seconds=30))
    >>> [n.status for n in d.tick()], len(pager.notifications)
    (['firing'], 1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from airsoc.alerting.notification import Delivery, Notification
from airsoc.alerting.routing import Route, group_labels
from airsoc.alerting.suppression import Inhibitor, Silence
from airsoc.clock import Clock
from airsoc.monitoring.alerts import Alert

__all__ = [
    "AggregationGroup",
    "Dispatcher",
    "GroupFlush",
    "LogEntry",
    "NotificationLog",
    "NotifyTarget",
    "group_key_of",
]


class NotifyTarget(Protocol):
    """One integration of a receiver, as the dispatcher sees it."""

    name: str
    send_resolved: bool

    def send(self, notification: Notification) -> Delivery:
        """Deliver ``notification`` (with retries) and return the recorded outcome."""
        ...


@dataclass(frozen=True)
class LogEntry:
    """What a receiver integration was last told about a group, and when."""

    firing: frozenset[str]
    resolved: frozenset[str]
    at: datetime


LogKey = tuple[str, str, str]
"""(group key, receiver, integration)."""


class NotificationLog(Protocol):
    """Keeps the notification log across restarts (Alertmanager's nflog)."""

    def load(self) -> dict[LogKey, LogEntry]:
        """Return every stored entry."""
        ...

    def save(self, key: LogKey, entry: LogEntry | None) -> None:
        """Store ``entry`` under ``key``, or delete it when ``entry`` is None."""
        ...


@dataclass
class AggregationGroup:
    """Alerts that share a route and group labels, notified together."""

    key: str
    route: Route
    labels: dict[str, str]
    next_flush: datetime
    alerts: dict[str, Alert] = field(default_factory=dict)
    has_flushed: bool = False


@dataclass(frozen=True)
class GroupFlush:
    """What one flush of a group saw: its firing, unmuted alerts (for incident declaration)."""

    group_key: str
    receiver: str
    group_labels: dict[str, str]
    alerts: tuple[Alert, ...]


def group_key_of(route: Route, labels: Mapping[str, str]) -> str:
    """Return the key of the group an alert with ``labels`` joins on ``route``.

    >>> from airsoc.alerting.routing import DEFAULT_GROUP_WAIT as W
    >>> group_key_of(Route("0.1", "pager", ("system",), W, W, W), {"system": "fraud", "x": "1"})
    '0.1:{system="fraud"}'
    """
    grouped = group_labels(route, labels)
    return route.id + ":{" + ",".join(f'{k}="{v}"' for k, v in grouped.items()) + "}"


class Dispatcher:
    """Holds the active alerts and aggregation groups; ``tick()`` flushes the groups due."""

    def __init__(
        self,
        *,
        route: Route,
        receivers: Mapping[str, Sequence[NotifyTarget]],
        clock: Clock,
        inhibitor: Inhibitor | None = None,
        silences: Callable[[], Sequence[Silence]] = lambda: (),
        on_delivery: Callable[[Delivery], None] | None = None,
        on_flush: Callable[[GroupFlush], None] | None = None,
        notification_log: NotificationLog | None = None,
    ) -> None:
        self.route = route
        self.receivers = receivers
        self.clock = clock
        self.inhibitor = inhibitor or Inhibitor([])
        self.silences = silences
        self.on_delivery = on_delivery
        self.on_flush = on_flush
        self.alerts: dict[str, Alert] = {}
        self.groups: dict[str, AggregationGroup] = {}
        self.notification_log = notification_log
        self._log: dict[LogKey, LogEntry] = notification_log.load() if notification_log else {}
        self._targets: dict[tuple[object, ...], list[tuple[Route, str]]] = {}
        # Routing and grouping only read these labels, so they are the cache key.
        names: set[str] = set()
        self._all_labels = False
        for _, node in route.walk():
            names.update(m.name for m in node.matchers)
            names.update(node.group_by)
            self._all_labels = self._all_labels or "..." in node.group_by
        self._key_names = tuple(sorted(names))

    def routes_for(self, labels: Mapping[str, str]) -> list[tuple[Route, str]]:
        """Return the routes an alert with ``labels`` reaches and its group key on each.

        Cached by the values of the labels the tree reads (matchers and ``group_by``).
        """
        key: tuple[object, ...] = (
            tuple(sorted(labels.items()))
            if self._all_labels
            else tuple(labels.get(n) for n in self._key_names)
        )
        found = self._targets.get(key)
        if found is None:
            if len(self._targets) > 100_000:
                self._targets.clear()
            found = [(r, group_key_of(r, labels)) for r in self.route.match(labels)]
            self._targets[key] = found
        return found

    def put(self, alert: Alert) -> None:
        """Take in a new or updated alert and add it to the groups of every route it reaches."""
        now = self.clock.now()
        fp = alert.fingerprint
        previous = self.alerts.get(fp)
        if previous is not None and not previous.is_resolved(now):
            # The same alert again: keep when it started, take the newer end and annotations.
            alert = alert.model_copy(update={"starts_at": previous.starts_at})
        self.alerts[fp] = alert
        for route, key in self.routes_for(alert.labels):
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = AggregationGroup(
                    key=key,
                    route=route,
                    labels=group_labels(route, alert.labels),
                    next_flush=now + route.group_wait,
                )
            elif not group.has_flushed and alert.starts_at + route.group_wait < now:
                group.next_flush = now
            group.alerts[fp] = alert

    def put_many(self, alerts: Iterable[Alert]) -> None:
        """Take in several alerts."""
        for alert in alerts:
            self.put(alert)

    def adopt(self, previous: Dispatcher) -> None:
        """Take over the active alerts and the notification log of ``previous`` (a reload).

        Groups whose key is unchanged remember what their receivers were last told, so a reload
        does not notify them again.
        """
        self._log.update(previous._log)  # already stored by the previous dispatcher
        self.put_many(previous.alerts.values())
        for key, group in self.groups.items():
            old = previous.groups.get(key)
            if old is not None:
                group.has_flushed = old.has_flushed
                group.next_flush = old.next_flush

    def resolve(self, fingerprint: str) -> Alert | None:
        """End the active alert with ``fingerprint`` now; return it, or None if unknown."""
        alert = self.alerts.get(fingerprint)
        if alert is None or alert.is_resolved(self.clock.now()):
            return None
        ended = alert.resolved_at(self.clock.now())
        self.put(ended)
        return ended

    def next_flush(self) -> datetime | None:
        """Return when the next group is due, or None without groups."""
        return min((g.next_flush for g in self.groups.values()), default=None)

    def tick(self) -> list[Notification]:
        """Flush every group that is due now; return the notifications sent."""
        now = self.clock.now()
        due = [g for g in self.groups.values() if g.next_flush <= now]
        return self._flush(due, now)

    def flush_all(self) -> list[Notification]:
        """Flush every group now, whatever its timers say (a one-shot run)."""
        return self._flush(list(self.groups.values()), self.clock.now())

    def _flush(self, groups: list[AggregationGroup], now: datetime) -> list[Notification]:
        if not groups:
            return []
        silences = [s for s in self.silences() if s.is_active(now)]
        inhibited = self.inhibitor.inhibited_fingerprints(self.alerts.values(), now=now)
        sent: list[Notification] = []
        for group in groups:
            sent.extend(self._flush_group(group, now, silences, inhibited))
        self._forget_resolved(now)
        return sent

    def muted(self, alert: Alert, now: datetime, silences: Sequence[Silence]) -> bool:
        """Return whether ``alert`` is silenced at ``now`` by one of ``silences``."""
        return any(s.mutes(alert.labels, now) for s in silences)

    def _flush_group(
        self,
        group: AggregationGroup,
        now: datetime,
        silences: Sequence[Silence],
        inhibited: set[str],
    ) -> list[Notification]:
        group.has_flushed = True
        group.next_flush = now + group.route.group_interval
        alerts = [
            a
            for a in group.alerts.values()
            if a.fingerprint not in inhibited and not self.muted(a, now, silences)
        ]
        firing = frozenset(a.fingerprint for a in alerts if not a.is_resolved(now))
        resolved = frozenset(a.fingerprint for a in alerts if a.is_resolved(now))
        receiver = group.route.receiver
        sent: list[Notification] = []
        all_ok = True
        if firing and self.on_flush is not None:
            self.on_flush(
                GroupFlush(
                    group_key=group.key,
                    receiver=receiver,
                    group_labels=group.labels,
                    alerts=tuple(a for a in alerts if a.fingerprint in firing),
                )
            )
        for target in self.receivers.get(receiver, ()):
            log_key = (group.key, receiver, target.name)
            entry = self._log.get(log_key)
            if not _needs_update(
                entry, firing, resolved, target.send_resolved, group.route.repeat_interval, now
            ):
                continue
            shown = [a for a in alerts if target.send_resolved or a.fingerprint in firing]
            repeat = entry is not None and firing <= entry.firing
            notification = Notification.of(
                receiver=receiver,
                group_key=group.key,
                group_labels=group.labels,
                alerts=shown,
                now=now,
                repeat=repeat,
            )
            delivery = target.send(notification)
            if self.on_delivery is not None:
                self.on_delivery(delivery)
            if delivery.ok:
                self._set_log(log_key, LogEntry(firing, resolved, now))
                sent.append(notification)
            else:
                all_ok = False
        if all_ok:
            # Notified resolved alerts leave the group, as in Alertmanager.
            for fp in [fp for fp, a in group.alerts.items() if a.is_resolved(now)]:
                del group.alerts[fp]
            if not group.alerts:
                del self.groups[group.key]
                for key in [k for k in self._log if k[0] == group.key]:
                    self._set_log(key, None)
        return sent

    def _set_log(self, key: LogKey, entry: LogEntry | None) -> None:
        if entry is None:
            self._log.pop(key, None)
        else:
            self._log[key] = entry
        if self.notification_log is not None:
            self.notification_log.save(key, entry)

    def _forget_resolved(self, now: datetime) -> None:
        in_groups = {fp for g in self.groups.values() for fp in g.alerts}
        for fp in [fp for fp, a in self.alerts.items() if a.is_resolved(now)]:
            if fp not in in_groups:
                del self.alerts[fp]


def _needs_update(
    entry: LogEntry | None,
    firing: frozenset[str],
    resolved: frozenset[str],
    send_resolved: bool,
    repeat: timedelta,
    now: datetime,
) -> bool:
    # Alertmanager's DedupStage.needsUpdate.
    if entry is None:
        return bool(firing)
    if not firing <= entry.firing:
        return True
    if not firing:
        return bool(entry.firing)
    if send_resolved and not resolved <= entry.resolved:
        return True
    return entry.at <= now - repeat
