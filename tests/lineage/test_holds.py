"""Holding a version's promotion: promote and canary refuse it, rollbacks skip it, and releasing
the hold gives it back the status its deployments say."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from airsoc import lineage
from airsoc.clock import SimulatedClock
from airsoc.errors import ConflictError, InputError, NotFoundError
from airsoc.incidents.service import declare_incident
from airsoc.response import list_runs
from airsoc.response.playbooks import DEFAULT_PLAYBOOKS_DIR
from airsoc.runtime.operations import get_operation, parse_params
from airsoc.serving.control import get_route, promote, rollback, set_canary
from airsoc.settings import Settings
from airsoc.store import Store
from airsoc.testing import CliResult, scratch_operations
from tests.response.wiring import SYSTEM, build_registry


def test_a_held_version_keeps_serving_but_is_not_promoted_again() -> None:
    store, clock = scratch_operations()  # fraud serves v2; v1 is known-good
    op = get_operation("hold_promotion")
    with store.transaction() as s:
        params = parse_params(op, {"system": "fraud"})
        out = op.run(s, clock=clock, actor="soc", reason="recall fell", params=params)
    assert out == {
        "system": "fraud",
        "version": "v2",
        "was_held": False,
        "status": "held",
        "serving": True,
    }
    with store.transaction() as s:
        assert get_route(s, system="fraud").primary_version == "v2"
        rollback(s, clock=clock, actor="soc", system="fraud", reason="contain")
        assert lineage.get_model_version(s, system="fraud", version="v2").status == "held"
    with store.transaction() as s, pytest.raises(ConflictError, match="promotion is held"):
        promote(s, clock=clock, actor="ci", system="fraud", version="v2", reason="again")
    with store.transaction() as s, pytest.raises(ConflictError, match="promotion is held"):
        set_canary(s, clock=clock, actor="ci", system="fraud", version="v2", share=0.1,
                   reason="again")  # fmt: skip
    with store.transaction() as s, pytest.raises(ConflictError, match="held and cannot be"):
        lineage.mark_known_good(s, clock=clock, actor="a", system="fraud", version="v2",
                                reason="fine")  # fmt: skip
    with store.transaction() as s:
        released = lineage.release_hold(
            s, clock=clock, actor="soc", system="fraud", version="v2", reason="explained"
        )
        assert released.status == "retired"  # it served before, and serves no more
        promote(s, clock=clock, actor="ci", system="fraud", version="v2", reason="fixed")
        assert get_route(s, system="fraud").primary_version == "v2"
    store.close()


def test_holds_say_what_is_wrong() -> None:
    store, clock = scratch_operations()
    with store.transaction() as s, pytest.raises(InputError, match="say why"):
        lineage.hold_promotion(s, clock=clock, actor="a", system="fraud", reason=" ")
    with store.transaction() as s, pytest.raises(ConflictError, match="v1 is not held"):
        lineage.release_hold(s, clock=clock, actor="a", system="fraud", version="v1", reason="x")
    with store.transaction() as s, pytest.raises(NotFoundError, match="serves no version"):
        lineage.hold_promotion(s, clock=clock, actor="a", system="bot", reason="x")
    with pytest.raises(InputError, match="version"):
        parse_params(get_operation("release_hold"), {"system": "fraud"})
    store.close()


def _regression(store: Store, clock: SimulatedClock, version: str) -> int:
    with store.transaction() as s:
        return declare_incident(
            s,
            clock=clock,
            actor="monitor",
            system=SYSTEM,
            failure_mode="release_regression",
            summary=f"{version} departs from its validation",
            labels={"model_version": version},
        ).id


def test_the_release_regression_playbook_holds_then_rolls_back_only_what_still_serves(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    settings = Settings.resolve(data_dir=tmp_path / "airsoc-data", environ={})
    store, clock = Store.open(settings), SimulatedClock()
    build_registry(store, clock, tmp_path)  # fraud serves v2; v1 is known-good
    first, second = _regression(store, clock, "v2"), _regression(store, clock, "v2")
    store.close()
    text = (DEFAULT_PLAYBOOKS_DIR / "release-regression.yaml").read_text(encoding="utf-8")
    # No one approves in a test: the rollback proceeds at once.
    text = text.replace("timeout: 15m, on_timeout: proceed", "timeout: 0s, on_timeout: proceed")
    (tmp_path / "release.yaml").write_text(text, encoding="utf-8")
    for incident in (first, second):
        run = cli("playbooks", "run", "release.yaml", "--incident", str(incident))
        assert run.exit_code == 0, run.stdout + run.stderr
    store = Store.open(settings)
    with store.read() as s:
        assert get_route(s, system=SYSTEM).primary_version == "v1"
        assert lineage.get_model_version(s, system=SYSTEM, version="v2").status == "held"
        assert lineage.get_model_version(s, system=SYSTEM, version="v1").status == "production"
        runs = [list_runs(s, incident_id=i)[0] for i in (first, second)]
    contain = [next(st for st in r.steps if st.step_id == "contain") for r in runs]
    # The second incident finds v2 held and no longer serving: v1 stays.
    assert [c.status for c in contain] == ["succeeded", "skipped"]
    store.close()
