from __future__ import annotations

import pytest

from airsoc.errors import InputError
from airsoc.fleet.rag.questions import OTHER_QUESTIONS, POLICY_QUESTIONS, support_questions


def test_questions_are_seeded_and_mixed_by_share() -> None:
    assert support_questions(50, seed=1) == support_questions(50, seed=1)
    assert support_questions(50, seed=1) != support_questions(50, seed=2)
    assert set(support_questions(100, seed=1, policy_share=1.0)) <= set(POLICY_QUESTIONS)
    assert set(support_questions(100, seed=1, policy_share=0.0)) <= set(OTHER_QUESTIONS)


def test_a_share_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(InputError, match="policy_share"):
        support_questions(3, policy_share=1.5)
