"""The fairness investigation: a new model that treats one group worse, against a data shift
in one group that the same policy turns into a gap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airsoc.clock import SimulatedClock
from airsoc.errors import InputError
from airsoc.forensics.fairness import investigate_fairness, record_fairness_findings
from airsoc.incidents.evidence import BlobStore
from airsoc.incidents.findings import list_findings
from airsoc.incidents.service import declare_incident
from airsoc.store import Store


def applications(n: int, *, seed: int, b_income_shift: float = 0.0) -> pd.DataFrame:
    """Loan applications of groups A and B; the policy approves on income and debt ratio."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["A", "B"], n, p=[0.6, 0.4])
    income = rng.normal(55, 15, n) + np.where(group == "B", b_income_shift, 0.0)
    debt = rng.uniform(0, 1, n)
    region = rng.choice(["north", "south", "east"], n)
    approved = ((income / 60 - debt) > 0.3).astype(int)
    return pd.DataFrame(
        {"income": income, "debt_ratio": debt, "region": region, "group": group,
         "approved": approved}
    )  # fmt: skip


def test_a_new_model_that_treats_group_b_worse_is_the_model() -> None:
    reference = applications(6000, seed=1)
    current = applications(6000, seed=2)
    hit = (current["group"] == "B") & (current["income"] < 65)
    current.loc[hit, "approved"] = 0
    found = investigate_fairness(
        reference, current, group_column="group", outcome_column="approved",
        features=["income", "debt_ratio", "region"],
    )  # fmt: skip
    assert found.group == "B"
    assert found.favored_group == "A"
    assert found.source == "model"
    assert found.model_part > 0.1
    assert abs(found.data_part) < 0.03
    assert not [f.feature for f in found.features if f.moved]
    # The shortfall sits where the new model cut: group B below an income of 65.
    cells = [s.rule for s in found.segments[:4]]
    assert any(r.startswith(tuple("456")) and "<= income <=" in r for r in cells), cells
    assert "roll back" in found.recommendation


def test_a_shift_in_group_b_incomes_under_the_same_policy_is_the_data() -> None:
    reference = applications(6000, seed=1)
    current = applications(6000, seed=3, b_income_shift=-12.0)
    found = investigate_fairness(
        reference, current, group_column="group", outcome_column="approved",
        features=["income", "debt_ratio", "region"],
    )  # fmt: skip
    assert found.group == "B"
    assert found.source == "data"
    assert found.data_part > 0.05
    assert abs(found.model_part) < 0.03
    assert [f.feature for f in found.features if f.moved] == ["income"]


def test_findings_and_bad_input(sqlite_store: Store) -> None:
    reference = applications(3000, seed=1)
    current = applications(3000, seed=2)
    current.loc[current["group"] == "B", "approved"] = 0
    found = investigate_fairness(reference, current, group_column="group",
                                 outcome_column="approved")  # fmt: skip
    clock = SimulatedClock()
    with sqlite_store.transaction() as s:
        inc = declare_incident(s, clock=clock, actor="a", system="credit",
                               failure_mode="fairness_regression", summary="gap")  # fmt: skip
        blobs = BlobStore(sqlite_store.settings.evidence_dir)
        record_fairness_findings(s, clock=clock, blobs=blobs, incident_id=inc.id,
                                 investigation=found, actor="forensics")  # fmt: skip
    with sqlite_store.read() as s:
        findings = list_findings(s, incident_id=inc.id)
    assert findings[0].kind.value == "root_cause"
    assert findings[0].data["subject"] == {"type": "group", "name": "B"}
    with pytest.raises(InputError, match="current: no column 'sex'"):
        investigate_fairness(
            reference.assign(sex=1), current, group_column="group", outcome_column="approved",
            features=["sex"],
        )  # fmt: skip
