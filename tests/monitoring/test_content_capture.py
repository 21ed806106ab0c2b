"""Turns whose traces carried no text are skipped by the content-based LLM monitors, never ok."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airsoc.clock import SimulatedClock
from airsoc.monitoring.alerts import Alert
from airsoc.monitoring.builtin import BUILTIN_EVALUATORS
from airsoc.monitoring.config import MonitorConfig
from airsoc.monitoring.monitors import InMemoryTelemetry, MonitorScheduler
from airsoc.store import Store


def _monitor(detector: str) -> MonitorConfig:
    return MonitorConfig.model_validate(
        {
            "name": detector,
            "system": "bot",
            "detector": detector,
            "window": "1h",
            "window_kind": "sliding",
            "every": "5m",
            "params": {"embedder": "tfidf"},
        }
    )


def _turn(clock: SimulatedClock, i: int, *, captured: bool, user: str = "") -> dict[str, Any]:
    return {
        "system": "bot",
        "ts": clock.now() - timedelta(minutes=30),
        "request_id": f"t{i}:s{i}",
        "user": user if captured else "",
        "answer": "Backups are kept 35 days." if captured else "",
        "content_captured": captured,
    }


def test_mixed_windows_judge_what_has_text_and_count_the_rest(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    tel = InMemoryTelemetry()
    tel.append(_turn(clock, 1, captured=True, user="How long are backups kept?"))
    tel.append(_turn(clock, 2, captured=False))
    tel.append(_turn(clock, 3, captured=False))
    fired: list[Alert] = []
    monitors = [_monitor("prompt_injection"), _monitor("harmful_output")]
    runs = MonitorScheduler(
        evaluators=BUILTIN_EVALUATORS,
        monitors=monitors,
        store=sqlite_store,
        clock=clock,
        source=tel,
        sink=fired.append,
    ).run_all()
    for run in runs:
        assert run.status == "ran"
        skipped = [v for v in run.verdicts if v.status == "skipped"]
        assert [(v.subject, v.evidence["turns"]) for v in skipped] == [("turns without content", 2)]
        assert skipped[0].reason.startswith("content not captured: 2 of 3 turns")
        window = next(v for v in run.verdicts if v.subject == "window")
        assert window.n_current == 1  # only the turn with text was judged
    assert fired == []


def test_a_monitor_that_goes_blind_to_content_says_why(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    tel = InMemoryTelemetry()
    tel.append(_turn(clock, 1, captured=True, user="How long are backups kept?"))
    fired: list[Alert] = []
    scheduler = MonitorScheduler(
        evaluators=BUILTIN_EVALUATORS,
        monitors=[_monitor("prompt_injection")],
        store=sqlite_store,
        clock=clock,
        source=tel,
        sink=fired.append,
    )
    (first,) = scheduler.run_all()
    assert first.status == "ran"
    clock.advance(timedelta(hours=2))
    tel.append(_turn(clock, 2, captured=False))
    (second,) = scheduler.run_all()
    assert second.status == "skipped"
    assert second.blind is not None
    assert (
        "judged nothing in its last window: content not captured"
        in (second.blind.annotations["description"])
    )
    assert [a.labels["failure_mode"] for a in fired] == ["platform_fault"]
