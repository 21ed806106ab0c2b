"""The vendor-poisoning drills, run in chaos mode at reduced scale on the real platform.

``fraud-vendor-poisoning``: a trusted vendor's poisoned weekly batches reach training (only
vendors on probation are screened at ingest); the routine release is promoted; the platform
finds it through delayed labels, rolls back, names the vendor and the weeks, quarantines them,
retrains on the clean set and promotes the retrained version through shadow and canary. With
the rollback step removed from the playbook, the same drill fails and says why.

``fraud-vendor-poisoning-at-ingest``: every source is screened at ingest; the batches are
quarantined before training and no other version ever serves.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from airsoc import lineage
from airsoc.drills.injectors.poisoning import VendorPoisoning, vendor_weeks
from airsoc.drills.runner import DrillOptions, run_drill
from airsoc.drills.scenario import load_scenario
from airsoc.drills.scorecard import Scorecard
from airsoc.fleet import setup as fleet_setup
from airsoc.response import list_runs
from airsoc.serving import get_route
from airsoc.settings import Settings
from airsoc.store import Store

SYSTEM = "fraud-detector"
VENDOR = "acme-data"
#: Reduced scale: about 100,000 transactions over the simulated week.
SCALE = 0.1


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(Settings.resolve(data_dir=tmp_path / "data", environ={}))
    yield s
    s.close()


def drill(name: str, store: Store) -> Scorecard:
    return run_drill(load_scenario(name), store=store, options=DrillOptions(scale=SCALE))


def step_outputs(store: Store) -> dict[str, list[Any]]:
    """Return the outputs of every step of the drill's playbook runs, by step id."""
    out: dict[str, list[Any]] = {}
    with store.read() as s:
        for run in list_runs(s):
            for step in run.steps:
                out.setdefault(step.step_id, []).append(step)
    return out


def test_vendor_weeks_flip_only_the_pattern_in_the_poisoned_weeks() -> None:
    weeks = vendor_weeks(
        weeks=3,
        poisoned_from=2,
        rows=6000,
        seed=4,
        pattern={"merchant_category": "electronics"},
        fraud_rate=0.05,
    )
    assert [w.poisoned for w in weeks] == [False, True, True]
    assert not weeks[0].flipped.any()
    for week in weeks[1:]:
        flipped = week.frame[week.flipped]
        assert len(flipped) > 20
        assert set(flipped["merchant_category"]) == {"electronics"}
        assert (flipped["is_fraud"] == 0).all()
        electronics = week.frame["merchant_category"] == "electronics"
        # Fraud of every other pattern keeps its label.
        assert week.frame.loc[~electronics, "is_fraud"].sum() > 0


def test_vendor_poisoning_params_are_checked() -> None:
    with pytest.raises(ValidationError, match="poisoned_from"):
        VendorPoisoning().validate({"vendor": VENDOR, "weeks": 2, "poisoned_from": 3})
    with pytest.raises(ValidationError, match="name the fraud pattern"):
        VendorPoisoning().validate({"vendor": VENDOR, "pattern": {}})


def test_fraud_vendor_poisoning_is_found_contained_and_recovered(store: Store) -> None:
    card = drill("fraud-vendor-poisoning", store)
    assert card.passed, card.reasons
    assert card.failure_mode_correct
    assert card.root_cause_correct
    assert card.time_to_detect_s is not None
    assert card.time_to_contain_s is not None
    assert card.time_to_recover_s is not None
    assert card.time_to_detect_s <= card.time_to_contain_s <= card.time_to_recover_s
    assert card.false_alarms == 0
    steps = step_outputs(store)
    # The investigation names the vendor and the poisoned weeks (2 to 4), not the clean week 1.
    investigation = steps["investigate"][0].output
    assert [s["source"] for s in investigation["suspect_sources"]] == [VENDOR]
    suspects = sorted(b["batch"] for b in investigation["suspect_batches"])
    with store.read() as s:
        weekly = sorted(
            b.batch_id for b in lineage.list_batches(s, source=VENDOR) if "/week-" in b.batch_id
        )
        statuses = {b.batch_id: b.status for b in lineage.list_batches(s, source=VENDOR)}
        trust = lineage.get_source_trust(s, source=VENDOR).trust
        route = get_route(s, system=SYSTEM)
    assert suspects == weekly[1:]
    assert investigation["window"]["first_batch"] == weekly[1]
    assert investigation["window"]["last_batch"] == weekly[-1]
    assert all(statuses[b] == "quarantined" for b in suspects)
    assert statuses[weekly[0]] != "quarantined"
    assert trust == "probation"
    # Retrained on the clean set: the poisoned weeks left out, the clean week kept.
    retrained = steps["retrain"][0].output
    assert not set(retrained["batches"]) & set(suspects)
    assert weekly[0] in retrained["batches"]
    # Shadow, canary, promotion: the retrained version serves alone.
    assert steps["shadow_check"][0].output["ready"] is True
    assert steps["canary_check"][0].output["verdict"] == "promote"
    assert route.primary_version == retrained["version"]
    assert route.mode == "primary"


def test_without_its_rollback_step_the_drill_fails_and_says_why(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "playbooks"
    shutil.copytree(fleet_setup.FLEET_PLAYBOOKS_DIR, broken)
    path = broken / "release-regression.yaml"
    playbook = yaml.safe_load(path.read_text(encoding="utf-8"))
    playbook["steps"] = [s for s in playbook["steps"] if s["action"] != "rollback"]
    path.write_text(yaml.safe_dump(playbook, sort_keys=False), encoding="utf-8")
    monkeypatch.setattr(fleet_setup, "FLEET_PLAYBOOKS_DIR", broken)

    # Four days are enough to miss the rollback (expected within three).
    scenario = load_scenario("fraud-vendor-poisoning")
    traffic = scenario.traffic.model_copy(update={"duration": timedelta(days=4)})
    card = run_drill(
        scenario.model_copy(update={"traffic": traffic}),
        store=store,
        options=DrillOptions(scale=SCALE),
    )

    assert not card.passed
    assert any("rollback" in reason for reason in card.reasons), card.reasons
    rollback = next(s for s in card.steps if s.expected == "rollback")
    assert rollback.taken is None


def test_at_ingest_the_batches_never_train_a_model(store: Store) -> None:
    card = drill("fraud-vendor-poisoning-at-ingest", store)
    assert card.passed, card.reasons
    with store.read() as s:
        versions = [v.version for v in lineage.list_model_versions(s, system=SYSTEM)]
        served = {d.version for d in lineage.deployment_history(s, system=SYSTEM)}
        weekly = [b for b in lineage.list_batches(s, source=VENDOR) if "/week-" in b.batch_id]
    # The routine retrain was refused: no version but the fleet's first was made or served.
    assert versions == ["v1"]
    assert served == {"v1"}
    assert sorted(b.status for b in weekly) == ["accepted", *["quarantined"] * 3]
