"""Grouping, timers, repeat, inhibition, silences and resolve notices behave as in Alertmanager."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from airsoc.alerting.config import RouteConfig
from airsoc.alerting.dispatcher import Dispatcher, GroupFlush
from airsoc.alerting.receivers import RecordingReceiver
from airsoc.alerting.routing import build_route_tree
from airsoc.alerting.suppression import Inhibitor, InhibitRule, Silence, parse_matchers
from airsoc.clock import SimulatedClock
from airsoc.monitoring.alerts import Alert


def make(
    clock: SimulatedClock,
    *,
    send_resolved: bool = True,
    inhibit: list[InhibitRule] | None = None,
    silences: list[Silence] | None = None,
    **route: Any,
) -> tuple[Dispatcher, RecordingReceiver]:
    config = {
        "receiver": "ops",
        "group_by": ["system"],
        "group_wait": "30s",
        "group_interval": "5m",
        "repeat_interval": "4h",
        **route,
    }
    ops = RecordingReceiver("ops", send_resolved=send_resolved)
    dispatcher = Dispatcher(
        route=build_route_tree(RouteConfig.model_validate(config)),
        receivers={"ops": [ops]},
        clock=clock,
        inhibitor=Inhibitor(inhibit or []),
        silences=lambda: silences or [],
    )
    return dispatcher, ops


def alert(clock: SimulatedClock, **labels: str) -> Alert:
    return Alert(labels={"system": "fraud", **labels}, starts_at=clock.now())


def fingerprints(receiver: RecordingReceiver, index: int = -1) -> list[tuple[str, str]]:
    note = receiver.notifications[index]
    return sorted((a.labels.get("monitor", ""), a.status) for a in note.alerts)


def test_alerts_of_one_group_wait_group_wait_and_arrive_in_one_notification(
    clock: SimulatedClock,
) -> None:
    d, ops = make(clock)
    d.put(alert(clock, monitor="m1"))
    clock.advance(timedelta(seconds=10))
    d.put(alert(clock, monitor="m2"))
    d.put(alert(clock, monitor="m3", system="credit"))
    clock.advance(timedelta(seconds=19))
    assert d.tick() == []
    clock.advance(timedelta(seconds=1))
    sent = d.tick()
    assert [n.group_labels for n in sent] == [{"system": "fraud"}]
    assert fingerprints(ops) == [("m1", "firing"), ("m2", "firing")]
    clock.advance(timedelta(seconds=10))
    assert [n.group_labels for n in d.tick()] == [{"system": "credit"}]


def test_same_labels_twice_is_one_alert_by_fingerprint(clock: SimulatedClock) -> None:
    d, ops = make(clock)
    first = alert(clock, monitor="m1")
    d.put(first)
    clock.advance(timedelta(seconds=5))
    d.put(alert(clock, monitor="m1"))
    clock.advance(timedelta(seconds=30))
    d.tick()
    assert len(ops.notifications[0].alerts) == 1
    assert ops.notifications[0].alerts[0].starts_at == first.starts_at


def test_new_alert_in_a_notified_group_waits_for_group_interval(clock: SimulatedClock) -> None:
    d, ops = make(clock)
    d.put(alert(clock, monitor="m1"))
    clock.advance(timedelta(seconds=30))
    d.tick()
    clock.advance(timedelta(minutes=1))
    d.put(alert(clock, monitor="m2"))
    clock.advance(timedelta(minutes=3, seconds=59))
    assert d.tick() == []
    clock.advance(timedelta(seconds=1))
    assert len(d.tick()) == 1
    assert fingerprints(ops) == [("m1", "firing"), ("m2", "firing")]


def test_unchanged_group_repeats_only_after_repeat_interval(clock: SimulatedClock) -> None:
    d, ops = make(clock, repeat_interval="1h")
    d.put(alert(clock, monitor="m1"))
    clock.advance(timedelta(seconds=30))
    d.tick()
    for _ in range(11):  # 55 minutes of group intervals: nothing new, no repeat yet
        clock.advance(timedelta(minutes=5))
        d.tick()
    assert len(ops.notifications) == 1
    clock.advance(timedelta(minutes=5))
    d.tick()
    assert len(ops.notifications) == 2
    assert ops.notifications[1].repeat


def test_resolved_alert_sends_a_resolve_notification_then_leaves(clock: SimulatedClock) -> None:
    d, ops = make(clock)
    d.put(alert(clock, monitor="m1"))
    clock.advance(timedelta(seconds=30))
    d.tick()
    d.resolve(alert(clock, monitor="m1").fingerprint)
    clock.advance(timedelta(minutes=5))
    sent = d.tick()
    assert [n.status for n in sent] == ["resolved"]
    assert fingerprints(ops) == [("m1", "resolved")]
    assert d.groups == {}
    clock.advance(timedelta(hours=5))
    assert d.tick() == []


def test_receiver_without_send_resolved_gets_no_resolved_alerts(clock: SimulatedClock) -> None:
    d, ops = make(clock, send_resolved=False)
    d.put(alert(clock, monitor="m1"))
    d.put(alert(clock, monitor="m2"))
    clock.advance(timedelta(seconds=30))
    d.tick()
    d.resolve(alert(clock, monitor="m1").fingerprint)
    clock.advance(timedelta(minutes=5))
    assert d.tick() == []
    assert len(ops.notifications) == 1


def test_pipeline_fault_inhibits_drift_alerts_on_the_same_system(clock: SimulatedClock) -> None:
    rule = InhibitRule.from_strings(
        ["failure_mode=pipeline_fault"], ["failure_mode=~data_drift|prediction_drift"], ["system"]
    )
    d, ops = make(clock, inhibit=[rule], group_by=["system", "failure_mode"], group_wait="0s")
    d.put(alert(clock, monitor="nulls", failure_mode="pipeline_fault"))
    d.put(alert(clock, monitor="psi", failure_mode="data_drift"))
    d.put(alert(clock, monitor="psi", failure_mode="data_drift", system="credit"))
    d.tick()
    notified = sorted(
        (n.group_labels["system"], n.group_labels["failure_mode"]) for n in ops.notifications
    )
    assert notified == [("credit", "data_drift"), ("fraud", "pipeline_fault")]
    # Once the fault resolves, the drift alert is no longer muted.
    d.resolve(alert(clock, monitor="nulls", failure_mode="pipeline_fault").fingerprint)
    clock.advance(timedelta(minutes=5))
    d.tick()
    assert ("fraud", "data_drift") in {
        (n.group_labels["system"], n.group_labels["failure_mode"]) for n in ops.notifications
    }


def test_an_alert_matching_source_and_target_does_not_inhibit_itself(
    clock: SimulatedClock,
) -> None:
    rule = InhibitRule.from_strings(["severity=sev1"], ["system=fraud"], ["system"])
    d, ops = make(clock, inhibit=[rule], group_wait="0s")
    d.put(alert(clock, monitor="m1", severity="sev1"))
    d.tick()
    assert len(ops.notifications) == 1


def test_silence_mutes_until_it_expires(clock: SimulatedClock) -> None:
    silence = Silence(
        id="s1",
        matchers=parse_matchers(["monitor=m1"]),
        starts_at=clock.now(),
        ends_at=clock.now() + timedelta(minutes=10),
        created_by="alice",
        comment="planned backfill",
    )
    d, ops = make(clock, silences=[silence], group_wait="0s")
    d.put(alert(clock, monitor="m1"))
    d.tick()
    assert ops.notifications == []
    clock.advance(timedelta(minutes=10))
    d.tick()
    assert fingerprints(ops) == [("m1", "firing")]


def test_continue_sends_to_every_matching_sibling(clock: SimulatedClock) -> None:
    tree = build_route_tree(
        RouteConfig.model_validate(
            {
                "receiver": "ops",
                "group_wait": "0s",
                "routes": [
                    {"matchers": ["severity=sev1"], "receiver": "pager", "continue": True},
                    {"matchers": ["system=fraud"], "receiver": "risk"},
                    {"matchers": ["system=fraud"], "receiver": "never"},
                ],
            }
        )
    )
    got = {name: RecordingReceiver(name) for name in ("ops", "pager", "risk", "never")}
    flushes: list[GroupFlush] = []
    d = Dispatcher(
        route=tree,
        receivers={k: [v] for k, v in got.items()},
        clock=clock,
        on_flush=flushes.append,
    )
    d.put(alert(clock, monitor="m1", severity="sev1"))
    d.tick()
    assert {k: len(v.notifications) for k, v in got.items()} == {
        "ops": 0,
        "pager": 1,
        "risk": 1,
        "never": 0,
    }
    assert sorted(f.receiver for f in flushes) == ["pager", "risk"]


def test_failed_delivery_is_retried_at_the_next_interval(clock: SimulatedClock) -> None:
    d, ops = make(clock, group_wait="0s")
    ops.fail = True
    d.put(alert(clock, monitor="m1"))
    assert d.tick() == []
    ops.fail = False
    clock.advance(timedelta(minutes=5))
    assert len(d.tick()) == 1


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ({"severity": "sev1", "system": "fraud"}, ["pager"]),
        ({"severity": "sev3", "system": "fraud"}, ["ops"]),
        ({"severity": "sev2", "system": "rag", "team": "llm"}, ["pager"]),
    ],
)
def test_routing_tree_inherits_and_matches_regex(
    labels: dict[str, str], expected: list[str]
) -> None:
    tree = build_route_tree(
        RouteConfig.model_validate(
            {
                "receiver": "ops",
                "group_by": ["system"],
                "group_wait": "1m",
                "routes": [
                    {
                        "matchers": ['severity =~ "sev1|sev2"', "team!~front.*"],
                        "receiver": "pager",
                    }
                ],
            }
        )
    )
    routes = tree.match(labels)
    assert [r.receiver for r in routes] == expected
    assert routes[0].group_wait == timedelta(minutes=1)
    assert routes[0].group_by == ("system",)


def test_group_by_all_labels_makes_one_group_per_label_set(clock: SimulatedClock) -> None:
    d, ops = make(clock, group_by=["..."], group_wait="0s")
    d.put(alert(clock, monitor="m1"))
    d.put(alert(clock, monitor="m2"))
    d.put(alert(clock, monitor="m2"))
    d.tick()
    assert sorted(n.group_labels["monitor"] for n in ops.notifications) == ["m1", "m2"]
