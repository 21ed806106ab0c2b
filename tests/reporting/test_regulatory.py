"""The regulatory clock of serious incidents: due dates counted in local calendar days (across
daylight-saving changes), the flag and its awareness time on the timeline, reminders that fire
once per threshold, and the check that evidence came before each change."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from airsoc.alerting.receivers import RecordingReceiver
from airsoc.clock import SimulatedClock
from airsoc.errors import ConflictError, InputError
from airsoc.incidents.service import declare_incident, get_incident
from airsoc.reporting.config import RegulatoryConfig
from airsoc.reporting.regulatory import (
    due_reminders,
    flag_serious,
    get_profile,
    get_serious,
    mark_reminder_sent,
    record_report,
    report_due,
    sync_profiles,
    update_serious,
)
from airsoc.runtime.config import load_checked_config
from airsoc.runtime.loop import ResponseLoop
from airsoc.store import Store

BERLIN = "Europe/Berlin"
DUBLIN = "Europe/Dublin"


@pytest.mark.parametrize(
    ("aware", "category", "zone", "due", "hours"),
    [
        # Friday 10:00 CET; Sunday 29 March has 23 hours (CET -> CEST): due at the end of
        # Sunday, Berlin midnight = 22:00 UTC, 61 hours later, not 62.
        (datetime(2026, 3, 27, 9, 0, tzinfo=UTC), "widespread_infringement", BERLIN,
         datetime(2026, 3, 29, 22, 0, tzinfo=UTC), 61),
        # The same in Dublin (GMT -> IST): the end of Sunday is 23:00 UTC.
        (datetime(2026, 3, 27, 9, 0, tzinfo=UTC), "critical_infrastructure", DUBLIN,
         datetime(2026, 3, 29, 23, 0, tzinfo=UTC), 62),
        # Friday 23:30 CEST (21:30 UTC); Sunday 25 October has 25 hours (CEST -> CET).
        (datetime(2026, 10, 23, 21, 30, tzinfo=UTC), "widespread_infringement", BERLIN,
         datetime(2026, 10, 25, 23, 0, tzinfo=UTC), 49.5),
        # 00:30 local on 24 October in Berlin is still 23 October in UTC: the local day counts.
        (datetime(2026, 10, 23, 22, 30, tzinfo=UTC), "widespread_infringement", BERLIN,
         datetime(2026, 10, 26, 23, 0, tzinfo=UTC), 72.5),
        # A death: 10 days; aware 20 March 16:00 CET, due at the end of 30 March (CEST):
        # 10 days 8 hours of wall time, less the hour 29 March lost.
        (datetime(2026, 3, 20, 15, 0, tzinfo=UTC), "death", BERLIN,
         datetime(2026, 3, 30, 22, 0, tzinfo=UTC), 10 * 24 + 8 - 1),
        # Otherwise 15 days; aware 15 October (IST), due at the end of 30 October (GMT).
        (datetime(2026, 10, 15, 12, 0, tzinfo=UTC), "other", DUBLIN,
         datetime(2026, 10, 31, 0, 0, tzinfo=UTC), 15 * 24 + 12),
    ],
)  # fmt: skip
def test_due_dates_are_the_end_of_the_local_day_n_calendar_days_on(
    aware: datetime, category: str, zone: str, due: datetime, hours: float
) -> None:
    got = report_due(aware, category=category, time_zone=zone)
    assert got == due
    assert (got - aware).total_seconds() / 3600 == hours


def test_an_unknown_category_or_time_zone_is_named() -> None:
    at = datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(InputError, match="unknown serious-incident category 'fatal'"):
        report_due(at, category="fatal", time_zone=BERLIN)
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        report_due(at, category="death", time_zone="Mars/Olympus")


def _config(**systems: Mapping[str, object]) -> RegulatoryConfig:
    return RegulatoryConfig.model_validate(
        {
            "provider": "Acme Payments GmbH",
            "reminders": ["24h", "2h"],
            "jurisdictions": {
                "eu": {"time_zone": BERLIN, "authority": "BNetzA"},
                "uk": {"time_zone": "Europe/London", "article_73": False},
            },
            "systems": systems or {"fraud-detector": {"jurisdiction": "eu"}},
        }
    )


def _declare(store: Store, clock: SimulatedClock, system: str = "fraud-detector") -> int:
    with store.transaction() as s:
        return declare_incident(
            s, clock=clock, actor="dana", system=system, failure_mode="data_poisoning",
            summary="labels flipped",
        ).id  # fmt: skip


def test_the_flag_takes_the_systems_profile_and_is_on_the_timeline(
    store: Store, clock: SimulatedClock
) -> None:
    iid = _declare(store, clock)
    with store.transaction() as s:
        sync_profiles(s, clock=clock, config=_config())
        view = flag_serious(
            s, clock=clock, incident_id=iid, category="widespread_infringement", actor="dana",
            reason="fraud blocks for every card of one issuer",
        )  # fmt: skip
    assert view.aware_at == clock.now()
    assert (view.time_zone, view.jurisdiction, view.authority) == (BERLIN, "eu", "BNetzA")
    assert view.due_at == datetime(2026, 3, 3, 23, 0, tzinfo=UTC)  # 1 March + 2, CET
    assert view.due_local == "2026-03-04 00:00 CET (Europe/Berlin)"
    assert view.status == "due"
    with store.transaction() as s, pytest.raises(ConflictError, match="already flagged"):
        flag_serious(s, clock=clock, incident_id=iid, category="death", actor="dana",
                     reason="again")  # fmt: skip
    # Awareness set by hand needs its reason; it moves the due date, on the record.
    clock.advance(timedelta(hours=3))
    with store.transaction() as s:
        earlier = datetime(2026, 2, 28, 22, 30, tzinfo=UTC)  # 23:30 in Berlin, 28 February
        view = update_serious(
            s, clock=clock, incident_id=iid, actor="dana", aware_at=earlier,
            reason="the issuer's complaint reached support the evening before",
        )  # fmt: skip
        timeline = get_incident(s, incident_id=iid).timeline
    assert view.due_at == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)
    assert [e.action for e in timeline][-2:] == [
        "incident.flagged_serious",
        "incident.serious_updated",
    ]
    assert timeline[-2].data["due_at"] == "2026-03-03T23:00:00+00:00"
    assert timeline[-1].reason == "the issuer's complaint reached support the evening before"


def test_a_system_outside_article_73_or_without_a_profile_is_refused(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    uk = _declare(sqlite_store, clock, system="credit-scorer")
    other = _declare(sqlite_store, clock, system="recommender")
    with sqlite_store.transaction() as s:
        sync_profiles(s, clock=clock, config=_config(**{"credit-scorer": {"jurisdiction": "uk"}}))
    with sqlite_store.transaction() as s, pytest.raises(ConflictError, match="does not apply"):
        flag_serious(s, clock=clock, incident_id=uk, category="other", actor="d", reason="r")
    with (
        sqlite_store.transaction() as s,
        pytest.raises(ConflictError, match="no regulatory profile"),
    ):
        flag_serious(s, clock=clock, incident_id=other, category="other", actor="d", reason="r")
    with sqlite_store.transaction() as s:
        view = flag_serious(
            s, clock=clock, incident_id=other, category="other", actor="d", reason="r",
            time_zone=DUBLIN,
        )  # fmt: skip
    assert view.due_local == "2026-03-17 00:00 GMT (Europe/Dublin)"


def test_reminders_fire_once_per_threshold_then_overdue(
    store: Store, clock: SimulatedClock
) -> None:
    iid = _declare(store, clock)
    leads = [timedelta(hours=24), timedelta(hours=2)]
    with store.transaction() as s:
        sync_profiles(s, clock=clock, config=_config())
        due = flag_serious(
            s, clock=clock, incident_id=iid, category="critical_infrastructure", actor="dana",
            reason="payments down",
        ).due_at  # fmt: skip

    def sent_at(when: datetime) -> list[str]:
        clock.set(when)
        with store.transaction() as s:
            reminders = due_reminders(s, now=clock.now(), lead_times=leads)
            for r in reminders:
                mark_reminder_sent(s, clock=clock, reminder=r)
        return [r.key for r in reminders]

    assert sent_at(due - timedelta(hours=25)) == []
    assert sent_at(due - timedelta(hours=24)) == ["24h"]
    assert sent_at(due - timedelta(hours=23)) == []  # once
    assert sent_at(due - timedelta(hours=2)) == ["2h"]
    assert sent_at(due - timedelta(minutes=1)) == []
    assert sent_at(due) == ["overdue"]
    assert sent_at(due + timedelta(hours=5)) == []
    with store.read() as s:
        view = get_serious(s, incident_id=iid, now=clock.now())
        timeline = get_incident(s, incident_id=iid).timeline
    assert view is not None
    assert (view.status, view.reminders_sent) == ("overdue", ["24h", "2h", "overdue"])
    assert [e.data["reminder"] for e in timeline if e.action == "regulatory.reminder_sent"] == [
        "24h",
        "2h",
        "overdue",
    ]
    with store.transaction() as s:
        view = record_report(s, clock=clock, incident_id=iid, kind="initial", actor="dana")
    assert view.status == "initial report sent (late)"


def test_a_late_flag_sends_only_the_closest_reminder(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    iid = _declare(sqlite_store, clock)
    with sqlite_store.transaction() as s:
        sync_profiles(s, clock=clock, config=_config())
        flag_serious(
            s, clock=clock, incident_id=iid, category="widespread_infringement", actor="dana",
            reason="r", aware_at=clock.now() - timedelta(days=2, hours=10),
            aware_reason="the first complaint came in two days ago",
        )  # fmt: skip
        reminders = due_reminders(s, now=clock.now(), lead_times=[timedelta(hours=24)])
    # Aware 27 Feb 22:00 Berlin; due at the end of 1 March; now 1 March 10:00 Berlin.
    assert [(r.key, r.skipped) for r in reminders] == [("24h", [])]
    alert = reminders[0].alert
    assert alert.labels["alertname"] == "RegulatoryReportDue"
    assert (
        "due within 24h (by 2026-03-02 00:00 CET (Europe/Berlin))" in alert.annotations["summary"]
    )


LOOP_CONFIG = """
routes:
  receiver: ops
  group_wait: 0s
  routes: [{matchers: ['alertname =~ "Regulatory.*"'], receiver: compliance}]
receivers: {ops: {}, compliance: {}}
regulatory:
  provider: Acme Payments GmbH
  reminders: [24h, 2h]
  jurisdictions: {eu: {time_zone: Europe/Berlin}}
  systems: {fraud-detector: {jurisdiction: eu}}
"""


def test_the_loop_sends_each_reminder_once_through_the_routing_tree(
    sqlite_store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    path = tmp_path / "airsoc.yaml"
    path.write_text(LOOP_CONFIG)
    config, playbooks = load_checked_config(path)
    got = {n: RecordingReceiver(n) for n in ("ops", "compliance")}
    loop = ResponseLoop(
        config=config,
        playbooks=playbooks,
        store=sqlite_store,
        clock=clock,
        receivers={k: [v] for k, v in got.items()},
    )
    iid = _declare(sqlite_store, clock)
    with sqlite_store.transaction() as s:
        # The profile came from airsoc.yaml when the loop applied it.
        due = flag_serious(
            s, clock=clock, incident_id=iid, category="widespread_infringement", actor="dana",
            reason="fraud blocks for every card of one issuer",
        ).due_at  # fmt: skip
    sent = []
    for hours in (30, 23, 22, 1.5, 1, 0, -1, -2):
        clock.set(due - timedelta(hours=hours))
        report = loop.tick()
        sent.append(report.regulatory_reminders)
    assert sent == [0, 1, 0, 1, 0, 1, 0, 0]
    # Each reminder reached the compliance receiver, in order; none went anywhere else.
    reminders = [
        a.labels["reminder"]
        for n in got["compliance"].notifications
        for a in n.alerts
        if n.status == "firing" and not n.repeat
    ]
    assert list(dict.fromkeys(reminders)) == ["24h", "2h", "overdue"]
    assert got["ops"].notifications == []


def test_applying_the_file_again_updates_and_removes_profiles(
    store: Store, clock: SimulatedClock
) -> None:
    with store.transaction() as s:
        sync_profiles(s, clock=clock, config=_config())
    with store.transaction() as s:
        placed = sync_profiles(
            s, clock=clock,
            config=_config(**{"credit-scorer": {"jurisdiction": "eu", "time_zone": DUBLIN}}),
        )  # fmt: skip
        moved = get_profile(s, system="credit-scorer")
        gone = get_profile(s, system="fraud-detector")
    assert placed == 1
    assert gone is None
    assert moved is not None
    assert (moved.time_zone, moved.authority, moved.provider) == (
        DUBLIN,
        "BNetzA",
        "Acme Payments GmbH",
    )
    with store.transaction() as s:
        assert sync_profiles(s, clock=clock, config=RegulatoryConfig()) == 0
        assert get_profile(s, system="credit-scorer") is None
