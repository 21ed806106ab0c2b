"""Reloading: a bad configuration is rejected whole and nothing running changes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from airsoc.alerting.receivers import RecordingReceiver
from airsoc.clock import SimulatedClock
from airsoc.errors import ConfigError
from airsoc.monitoring.alerts import Alert
from airsoc.runtime.config import load_checked_config
from airsoc.runtime.loop import ResponseLoop
from airsoc.store import Store

GOOD = """
routes:
  receiver: ops
  group_wait: 0s
  routes: [{matchers: [severity=sev1], receiver: pager}]
receivers: {ops: {}, pager: {}}
"""


def test_bad_reload_changes_nothing_and_good_reload_keeps_alerts(
    store: Store, clock: SimulatedClock, tmp_path: Path
) -> None:
    path = tmp_path / "airsoc.yaml"
    path.write_text(GOOD)
    config, playbooks = load_checked_config(path)
    got = {n: RecordingReceiver(n) for n in ("ops", "pager", "sec")}
    loop = ResponseLoop(
        config=config,
        playbooks=playbooks,
        store=store,
        clock=clock,
        receivers={k: [v] for k, v in got.items()},
    )
    loop.engine.submit(Alert(labels={"system": "a", "severity": "sev1"}, starts_at=clock.now()))
    loop.tick()
    assert len(got["pager"].notifications) == 1
    path.write_text(
        GOOD.replace("receiver: pager", "receiver: sec") + "playbooks: [none/*.yaml]\n"
        "monitors: [{name: m, system: s, detector: d, window: 1h}]\n"
    )
    with pytest.raises(ConfigError) as info:
        loop.reload(path)
    locs = [i.loc for i in info.value.issues]
    assert locs == ["monitors[0]"]  # schema errors stop before references are checked
    assert loop.config is config
    path.write_text(GOOD.replace("receiver: pager", "receiver: sec"))
    with pytest.raises(ConfigError, match=r"routes\.routes\[0\]\.receiver: unknown receiver"):
        loop.reload(path)
    assert loop.engine.receivers_for({"severity": "sev1"}) == ["pager"]
    path.write_text(
        GOOD.replace("receiver: pager", "receiver: sec").replace(
            "{ops: {}, pager: {}}", "{ops: {}, pager: {}, sec: {}}"
        )
    )
    loop.reload(path)
    assert loop.engine.receivers_for({"severity": "sev1"}) == ["sec"]
    clock.advance(timedelta(minutes=5))
    loop.tick()
    # The active alert moved to the new tree; its new receiver hears about it.
    assert len(got["sec"].notifications) == 1
    assert len(got["pager"].notifications) == 1
