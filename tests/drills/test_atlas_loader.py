"""ATLAS case studies become tabletop scenario skeletons: procedure steps as message injects
with prompts, techniques as points to discuss, the failure mode they map to as the expected
incident."""

from __future__ import annotations

from pathlib import Path

import pytest

from airsoc.drills.atlas_loader import case_study_scenario, scenario_yaml
from airsoc.errors import DataFileError, NotFoundError, UnknownFailureModeError
from airsoc.incidents.atlas import load_atlas

FIXTURE = Path(__file__).parent / "data" / "atlas-mini.yaml"


def test_a_case_study_becomes_a_tabletop_skeleton() -> None:
    skeleton = case_study_scenario(load_atlas(FIXTURE), "AML.CS9001")
    assert skeleton["name"] == "atlas-aml-cs9001"
    assert "Flipped labels in a vendor's weekly batches" in skeleton["description"]
    assert "https://" not in skeleton["description"]  # Markdown links reduced to their words
    injects = skeleton["injects"]
    assert [(i["id"], i["at"], i["kind"]) for i in injects] == [
        ("step-1", "0m", "message"),
        ("step-2", "15m", "message"),
        ("step-3", "30m", "message"),
        ("step-4", "45m", "message"),
    ]
    assert injects[1]["params"]["text"].startswith(
        "Persistence: Poison Training Data (AML.T0020). Weekly batches with flipped labels"
    )
    assert skeleton["traffic"] == {"duration": "60m"}
    # Poison Training Data is used twice: it maps to data poisoning, on the fraud detector.
    assert skeleton["expectations"] == {"incident": {"failure_mode": "data_poisoning"}}
    assert skeleton["fleet"] == {"systems": ["fraud-detector"]}
    prompts = skeleton["tabletop"]
    assert {p["after"] for p in prompts} == {"step-1", "step-2", "step-3", "step-4"}
    discuss = [p for p in prompts if p["prompt"].startswith("Discuss")]
    # Each technique is discussed once, where it first appears, with ATLAS's mitigations.
    assert [(p["after"], p["prompt"].split()[1]) for p in discuss] == [
        ("step-1", "AML.T0019"),
        ("step-2", "AML.T0020"),
        ("step-3", "AML.T0031"),
    ]
    assert discuss[1]["ideal"] == "ATLAS lists: AML.M0007 Sanitize Training Data"
    assert "ideal" not in discuss[0]
    assert scenario_yaml(skeleton).startswith("name: atlas-aml-cs9001\n")


def test_the_failure_mode_can_be_named() -> None:
    skeleton = case_study_scenario(
        load_atlas(FIXTURE), "AML.CS9001", failure_mode="prompt_injection"
    )
    assert skeleton["expectations"] == {"incident": {"failure_mode": "prompt_injection"}}
    assert skeleton["fleet"] == {"systems": ["support-bot"]}
    with pytest.raises(UnknownFailureModeError, match="'poison'"):
        case_study_scenario(load_atlas(FIXTURE), "AML.CS9001", failure_mode="poison")


def test_bad_case_studies_are_named() -> None:
    atlas = load_atlas(FIXTURE)
    with pytest.raises(NotFoundError, match=r"case study AML\.CS0404 is not in ATLAS 5\.6\.0"):
        case_study_scenario(atlas, "AML.CS0404")
    with pytest.raises(DataFileError, match=r"AML\.CS9002 has no procedure steps"):
        case_study_scenario(atlas, "AML.CS9002")
    atlas.case_studies["AML.CS9003"] = {"id": "AML.CS9003", "procedure": [{"tactic": "x"}]}
    with pytest.raises(DataFileError, match=r"AML\.CS9003: procedure\[0\] has no 'technique'"):
        case_study_scenario(atlas, "AML.CS9003")
    atlas.case_studies["AML.CS9004"] = {
        "id": "AML.CS9004",
        "procedure": [{"technique": "AML.T0999", "description": "unknown"}],
    }
    with pytest.raises(DataFileError, match=r"AML\.T0999\); name the failure mode"):
        case_study_scenario(atlas, "AML.CS9004")
