"""Every legal and every illegal edge of the incident lifecycle."""

from __future__ import annotations

import itertools

import pytest

from airsoc.errors import IllegalTransitionError, UnknownPhaseError, UnknownSeverityError
from airsoc.incidents.lifecycle import (
    TRANSITIONS,
    Phase,
    check_transition,
    legal_targets,
    parse_phase,
    parse_role,
    parse_severity,
)

ALL_EDGES = list(itertools.product(Phase, Phase))
LEGAL = [edge for edge in ALL_EDGES if edge in TRANSITIONS]
ILLEGAL = [edge for edge in ALL_EDGES if edge not in TRANSITIONS]


def test_the_main_path_is_legal() -> None:
    path = ["detected", "triaged", "contained", "eradicated", "recovered", "closed"]
    for src, dst in itertools.pairwise(path):
        assert (Phase(src), Phase(dst)) in TRANSITIONS


@pytest.mark.parametrize(("src", "dst"), LEGAL, ids=[f"{a}->{b}" for a, b in LEGAL])
def test_legal_edge(src: Phase, dst: Phase) -> None:
    assert check_transition(src, dst)
    assert dst.value in legal_targets(src)


@pytest.mark.parametrize(("src", "dst"), ILLEGAL, ids=[f"{a}->{b}" for a, b in ILLEGAL])
def test_illegal_edge_names_the_legal_moves(src: Phase, dst: Phase) -> None:
    with pytest.raises(IllegalTransitionError) as info:
        check_transition(src, dst)
    message = str(info.value)
    assert f"from {src.value} to {dst.value}" in message
    for legal in legal_targets(src):
        assert legal in message
    if not legal_targets(src):
        assert "terminal" in message


def test_edge_counts() -> None:
    # 8 phases, 64 ordered pairs; no self-loops are legal and merged is terminal.
    assert len(LEGAL) + len(ILLEGAL) == 64
    assert not any(src == dst for src, dst in LEGAL)
    assert legal_targets(Phase.MERGED) == []


def test_parse_phase_rejects_unknown_names() -> None:
    assert parse_phase(" Triaged ") is Phase.TRIAGED
    with pytest.raises(UnknownPhaseError, match="unknown phase 'fixed'; known: detected"):
        parse_phase("fixed")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sev1", "sev1"),
        ("SEV5", "sev5"),
        ("sev2|sev3", "sev2"),
        ("sev3/sev4", "sev3"),
        ("sev4-sev1", "sev1"),
    ],
)
def test_severity_when_unsure_takes_the_higher(text: str, expected: str) -> None:
    assert parse_severity(text).value == expected


@pytest.mark.parametrize("text", ["sev0", "sev6", "high", "", "sev2|p1"])
def test_bad_severity(text: str) -> None:
    with pytest.raises(UnknownSeverityError):
        parse_severity(text)


def test_roles_accept_short_forms() -> None:
    assert parse_role("IC").value == "incident_commander"
    assert parse_role("comms").value == "communications_liaison"
