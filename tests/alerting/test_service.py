"""Silences and alerts in the store; silences are on the audit timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest

from airsoc.alerting.service import (
    SILENCE_CHAIN,
    active_silences,
    add_silence,
    expire_silence,
    list_alerts,
    list_silences,
    save_alert,
)
from airsoc.audit import list_entries
from airsoc.clock import SimulatedClock
from airsoc.errors import ConflictError, InputError, NotFoundError
from airsoc.monitoring.alerts import Alert
from airsoc.store import Store


def test_silence_lifecycle_is_audited(store: Store, clock: SimulatedClock) -> None:
    with store.transaction() as s:
        pending = add_silence(
            s,
            clock=clock,
            matchers=["system=fraud"],
            created_by="alice",
            comment="later",
            starts_at=clock.now() + timedelta(hours=1),
            duration=timedelta(hours=1),
        )
        active = add_silence(
            s,
            clock=clock,
            matchers=["monitor=~psi.*"],
            created_by="bob",
            comment="backfill",
            duration=timedelta(minutes=30),
        )
    assert (pending.state, active.state) == ("pending", "active")
    with store.read() as s:
        assert [x.id for x in active_silences(s, clock=clock)] == [active.id]
    clock.advance(timedelta(minutes=10))
    with store.transaction() as s:
        expired = expire_silence(
            s, clock=clock, silence_id=active.id, actor="carol", reason="backfill done"
        )
    assert (expired.state, expired.expired_by) == ("expired", "carol")
    with store.read() as s:
        assert [x.id for x in list_silences(s, clock=clock)] == [pending.id]
        entries = list_entries(s, chain=SILENCE_CHAIN)
    assert [(e.action, e.actor) for e in entries] == [
        ("silence.created", "alice"),
        ("silence.created", "bob"),
        ("silence.expired", "carol"),
    ]
    with store.transaction() as s, pytest.raises(ConflictError):
        expire_silence(s, clock=clock, silence_id=active.id, actor="carol")
    with store.transaction() as s, pytest.raises(NotFoundError):
        expire_silence(s, clock=clock, silence_id="nope", actor="carol")


def test_silence_input_errors(store: Store, clock: SimulatedClock) -> None:
    with store.transaction() as s:
        with pytest.raises(InputError, match="at least one matcher"):
            add_silence(
                s,
                clock=clock,
                matchers=[],
                created_by="a",
                comment="c",
                duration=timedelta(hours=1),
            )
        with pytest.raises(InputError, match="duration or an end time"):
            add_silence(s, clock=clock, matchers=["a=b"], created_by="a", comment="c")
        with pytest.raises(InputError, match="before it starts"):
            add_silence(
                s,
                clock=clock,
                matchers=["a=b"],
                created_by="a",
                comment="c",
                ends_at=clock.now() - timedelta(hours=1),
            )


def test_alert_state_by_fingerprint(store: Store, clock: SimulatedClock) -> None:
    alert = Alert(labels={"system": "fraud", "monitor": "m"}, starts_at=clock.now())
    with store.transaction() as s:
        save_alert(s, clock=clock, alert=alert, source="monitor")
    clock.advance(timedelta(minutes=5))
    with store.transaction() as s:
        save_alert(s, clock=clock, alert=alert.resolved_at(clock.now()), source="monitor")
    with store.read() as s:
        (view,) = list_alerts(s)
        assert list_alerts(s, status="firing") == []
    assert (view.status, view.fingerprint) == ("resolved", alert.fingerprint)
