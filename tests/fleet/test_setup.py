"""The demo's first start: a configuration checked whole, the fleet, the users; reruns reuse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from airsoc import lineage
from airsoc.clock import SystemClock
from airsoc.fleet.setup import (
    POISONED_BATCH,
    RETRAIN_BATCH,
    DemoSetup,
    fleet_cache_dir,
    prepare_demo,
    register_release,
    register_support_bot,
)
from airsoc.monitoring import BUILTIN_EVALUATORS
from airsoc.runtime import load_checked_config
from airsoc.server import list_users
from airsoc.server.auth import StoreUserDirectory
from airsoc.serving import get_route
from airsoc.settings import Settings
from airsoc.store import Store


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, DemoSetup]]:
    store = Store.open(Settings.resolve(data_dir=tmp_path_factory.mktemp("data"), environ={}))
    setup = prepare_demo(
        store=store,
        clock=SystemClock(),
        users=StoreUserDirectory(store, SystemClock()),
        monitor_every=7,
        approval_timeout=4,
    )
    yield store, setup
    store.close()


def test_the_demo_configuration_and_its_playbooks_check_whole(
    prepared: tuple[Store, DemoSetup],
) -> None:
    _, setup = prepared
    config, playbooks = load_checked_config(setup.config_path, evaluators=BUILTIN_EVALUATORS)
    assert {m.every.total_seconds() for m in config.monitors if m.every} == {7.0}
    poisoned = next(p for p in playbooks if p.name == "poisoned-training-data")
    text = (setup.folder / "playbooks" / "poisoned-training-data.yaml").read_text()
    assert "timeout: 4s, on_timeout: proceed" in text
    actions = [step.action for step in poisoned.steps]
    assert actions.index("capture_evidence") < actions.index("rollback")
    assert len(playbooks) == len(list((setup.folder / "playbooks").glob("*.yaml")))


def test_the_fleet_serves_validated_known_good_v1_and_holds_its_releases_back(
    prepared: tuple[Store, DemoSetup],
) -> None:
    store, setup = prepared
    with store.read() as s:
        assert get_route(s, system="fraud-detector").primary_version == "v1"
        assert get_route(s, system="credit-scorer").primary_version == "v1"
        v1 = lineage.get_model_version(s, system="fraud-detector", version="v1")
        assert v1.known_good
        record = lineage.validation_record(v1.metrics)
        assert record is not None
        assert record["metrics"]["recall"] >= 0.9
        credit = lineage.get_model_version(s, system="credit-scorer", version="v1")
        assert lineage.validation_record(credit.metrics) is None
        # The releases are trained, not registered: the demo registers them as it runs.
        assert [m.version for m in lineage.list_model_versions(s, system="fraud-detector")] == [
            "v1"
        ]
        roles = {u.name: u.role for u in list_users(s)}
    assert roles == {"demo-admin": "admin", "demo-approver": "approver"}
    assert set(setup.credentials) == set(roles)
    assert [r.version for r in setup.releases.values()] == ["v2", "v3"]


def test_releases_register_their_batch_then_their_version(
    prepared: tuple[Store, DemoSetup],
) -> None:
    store, setup = prepared
    clock = SystemClock()
    register_release(store, clock, setup, "retrain", part="batch")
    with store.read() as s:
        assert lineage.get_batch(s, batch_id=RETRAIN_BATCH).source == "acme-data"
        assert len(lineage.list_model_versions(s, system="fraud-detector")) == 1
    register_release(store, clock, setup, "retrain")
    register_release(store, clock, setup, "fault")
    register_release(store, clock, setup, "fault")  # a second run leaves it as it is
    with store.read() as s:
        v2 = lineage.get_model_version(s, system="fraud-detector", version="v2")
        v3 = lineage.get_model_version(s, system="fraud-detector", version="v3")
        assert v2.known_good
        assert lineage.validation_record(v2.metrics) is not None
        assert not v3.known_good
        assert lineage.validation_record(v3.metrics) is None
        assert POISONED_BATCH in v3.training_batches
        assert POISONED_BATCH not in v2.training_batches
        assert lineage.last_known_good(s, system="fraud-detector", exclude=["v3"]).version == "v2"


def test_a_second_start_reuses_config_models_and_users(
    prepared: tuple[Store, DemoSetup],
) -> None:
    store, first = prepared
    model = first.folder / "models" / "fraud-detector-v1.joblib"
    before = (model.stat().st_mtime_ns, first.config_path.read_text())
    again = prepare_demo(
        store=store,
        clock=SystemClock(),
        users=StoreUserDirectory(store, SystemClock()),
        monitor_every=99,
    )
    assert again.credentials == first.credentials
    assert (model.stat().st_mtime_ns, again.config_path.read_text()) == before
    assert Path(again.folder / "credentials.txt").stat().st_mode & 0o077 == 0


def test_a_new_data_dir_copies_the_trained_fleet_from_the_cache(
    prepared: tuple[Store, DemoSetup],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _store, first = prepared
    cache = fleet_cache_dir()
    assert cache is not None
    assert any(cache.iterdir()), "the first start filled the cache"

    def no_training(folder: Path) -> None:
        raise AssertionError(f"the fleet was trained again into {folder}")

    monkeypatch.setattr("airsoc.fleet.setup._train_fleet_into", no_training)
    store = Store.open(Settings.resolve(data_dir=tmp_path / "data", environ={}))
    try:
        second = prepare_demo(
            store=store, clock=SystemClock(), users=StoreUserDirectory(store, SystemClock())
        )
        for name in ("fraud-detector-v1.joblib", "recommender-v1.joblib"):
            copied = (second.folder / "models" / name).read_bytes()
            assert copied == (first.folder / "models" / name).read_bytes()
        with store.read() as s:
            assert [v.version for v in lineage.list_model_versions(s, system="fraud-detector")]
    finally:
        store.close()


def test_without_a_cache_the_fleet_trains_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIRSOC_FLEET_CACHE", "off")
    trained: list[Path] = []
    monkeypatch.setattr("airsoc.fleet.setup._train_fleet_into", trained.append)
    store = Store.open(Settings.resolve(data_dir=tmp_path / "data", environ={}))
    try:
        with pytest.raises(FileNotFoundError):  # nothing was trained: no batch to register
            prepare_demo(
                store=store, clock=SystemClock(), users=StoreUserDirectory(store, SystemClock())
            )
    finally:
        store.close()
    assert [p.name for p in trained] == ["fleet"]


def test_the_support_bot_is_served_per_address_with_its_monitors_and_policy_index(
    prepared: tuple[Store, DemoSetup],
) -> None:
    store, setup = prepared
    clock = SystemClock()
    config, _ = load_checked_config(setup.config_path, evaluators=BUILTIN_EVALUATORS)
    watched = {m.detector: m for m in config.monitors if m.system == "support-bot"}
    assert sorted(watched) == ["hallucination_cascade", "harmful_output", "prompt_injection"]
    assert watched["prompt_injection"].params["scan"] == ["user", "retrieved"]
    index = setup.folder / str(watched["hallucination_cascade"].reference["documents"])
    assert index.exists()
    first = register_support_bot(store, clock, folder=setup.folder, url="http://127.0.0.1:1/v1")
    again = register_support_bot(store, clock, folder=setup.folder, url="http://127.0.0.1:1/v1")
    moved = register_support_bot(store, clock, folder=setup.folder, url="http://127.0.0.1:2/v1")
    assert (first, again, moved) == ("v1", "v1", "v2")
    with store.read() as s:
        assert get_route(s, system="support-bot").primary_version == "v2"
        version = lineage.get_model_version(s, system="support-bot", version="v2")
    assert (version.framework, version.artifact_uri) == ("openai", "http://127.0.0.1:2/v1")
    assert version.sha256 == lineage.sha256_file(index)
    # Back at the first address: its version serves again, nothing new is registered.
    assert (
        register_support_bot(store, clock, folder=setup.folder, url="http://127.0.0.1:1/v1") == "v1"
    )


def test_request_rows_hold_each_record_value_converted() -> None:
    from airsoc.drills.traffic import GENERATORS
    from airsoc.fleet.setup import credit_rows, impression_rows
    from airsoc.fleet.systems import CREDIT_FEATURES, credit_applications

    credit = credit_applications(50, seed=4).astype(object)
    credit.loc[3, "region"] = None  # what a pipeline fault may send
    expected = [
        {k: (float(v) if k != "region" else str(v)) for k, v in r.items()}
        for r in credit[CREDIT_FEATURES].to_dict("records")
    ]
    assert credit_rows(credit) == expected
    assert credit_rows(credit)[3]["region"] == "None"
    shown = GENERATORS["recommender"].make(40, seed=5)
    shown["position"] = shown["position"].astype(float)
    shown.loc[2, "position"] = float("nan")
    rows = impression_rows(shown)
    records = shown.to_dict("records")
    assert [(r["segment"], r["category"]) for r in rows] == [
        (str(r["segment"]), str(r["category"])) for r in records
    ]
    assert rows[0]["position"] == float(records[0]["position"])
    assert rows[2]["position"] != rows[2]["position"]  # NaN stays NaN
    assert [type(v) for v in rows[5].values()] == [str, str, float]
