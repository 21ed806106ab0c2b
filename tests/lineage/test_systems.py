"""Systems: bad input refused with the field named; sync from airsoc.yaml."""

from __future__ import annotations

import pytest

from airsoc import lineage as lin
from airsoc.clock import SimulatedClock
from airsoc.errors import InputError, NotFoundError
from airsoc.runtime.config import parse_config
from airsoc.store import Store


def test_bad_input_is_refused_with_the_field_named(
    sqlite_store: Store, clock: SimulatedClock
) -> None:
    with sqlite_store.transaction() as s:
        with pytest.raises(InputError, match="kind 'robot'"):
            lin.register_system(s, clock=clock, actor="a", name="x", kind="robot", owner="o")
        with pytest.raises(InputError, match="sha256 must be 64"):
            lin.register_batch(
                s, clock=clock, actor="a", batch_id="b", source="v", rows=1, sha256="nothex"
            )
        with pytest.raises(NotFoundError, match="system 'ghost' is not registered"):
            lin.get_system(s, name="ghost")
        lin.register_system(
            s, clock=clock, actor="a", name="x", kind="tabular-classifier", owner="o"
        )
        with pytest.raises(InputError, match="give the sha256 of remote artifact"):
            lin.register_model_version(
                s, clock=clock, actor="ci", system="x", version="v1", artifact_uri="s3://m"
            )


def test_sync_systems_from_config_creates_updates_and_reports_strays(
    store: Store, clock: SimulatedClock
) -> None:
    with store.transaction() as s:
        lin.register_system(s, clock=clock, actor="a", name="legacy", kind="other", owner="nobody")
        lin.register_system(
            s, clock=clock, actor="a", name="fraud", kind="tabular-classifier", owner="old-team"
        )
    config = parse_config(
        """
systems:
  fraud: {kind: tabular-classifier, owner: risk-ml, criticality: high,
          fallback: {type: rules, path: rules.py:score}}
  bot: {kind: llm-app, owner: support}
"""
    )
    with store.transaction() as s:
        report = lin.sync_systems_from_config(s, clock=clock, actor="ops", config=config)
    assert (report.created, report.updated, report.unchanged, report.not_in_config) == (
        ["bot"],
        ["fraud"],
        [],
        ["legacy"],
    )
    with store.transaction() as s:
        again = lin.sync_systems_from_config(s, clock=clock, actor="ops", config=config)
        fraud = lin.get_system(s, name="fraud")
    assert again.unchanged == ["bot", "fraud"]
    assert fraud.fallback == {"type": "rules", "path": "rules.py:score"}
    assert fraud.criticality == "high"
