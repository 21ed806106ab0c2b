"""Matchers parse as Alertmanager writes them; regexes are anchored."""

from __future__ import annotations

import pytest

from airsoc.alerting.matchers import matches_all, parse_matcher, parse_matchers


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('severity=~"sev1|sev2"', {"severity": "sev12"}, False),  # anchored at both ends
        ("severity=~sev.", {"severity": "sev3"}, True),
        ('team!~"front.*"', {}, True),  # a missing label is the empty string
        ("team=", {}, True),
        ('msg="a \\"quoted\\" value"', {"msg": 'a "quoted" value'}, True),
        ("system != fraud", {"system": "fraud"}, False),
    ],
)
def test_matching(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_matcher(text).matches(labels) is expected


def test_bad_matchers_are_named() -> None:
    with pytest.raises(ValueError, match="invalid regex"):
        parse_matcher("a=~(")
    with pytest.raises(ValueError, match="invalid matcher '9a=1'"):
        parse_matcher("9a=1")
    assert matches_all(parse_matchers([]), {"x": "1"})
