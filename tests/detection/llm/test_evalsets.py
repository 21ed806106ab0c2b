from __future__ import annotations

import pytest

from airsoc.detection.llm.evalsets import EVALUATION_SETS, evaluation_set, grounding_set, length_auc
from airsoc.detection.llm.training_data import harm_training_set, injection_training_set


@pytest.mark.parametrize("name", EVALUATION_SETS)
def test_length_alone_does_not_separate_the_classes(name: str) -> None:
    rows = evaluation_set(name)
    auc = length_auc(rows)
    print(f"{name}: AUC of length alone {auc:.3f} over {len(rows)} texts")
    assert auc <= 0.65


def test_evaluation_sets_share_no_text_with_training_data() -> None:
    train = {r.text for r in injection_training_set(seed=1, size=4000)}
    train |= {r.text for r in harm_training_set()}
    for name in EVALUATION_SETS:
        assert not train & {r.text for r in evaluation_set(name)}


def test_evaluation_sets_are_reproducible() -> None:
    assert evaluation_set("indirect") == evaluation_set("indirect")
    assert grounding_set() == grounding_set()
