from __future__ import annotations

import airsoc.detection as detection


def test_public_names_resolve_and_are_listed_once() -> None:
    assert len(detection.__all__) == len(set(detection.__all__))
    for name in detection.__all__:
        assert getattr(detection, name) is not None
    assert {"Verdict", "check_drift", "profile", "check_fairness"} <= set(detection.__all__)
