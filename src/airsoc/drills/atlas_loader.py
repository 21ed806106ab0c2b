"""A tabletop scenario skeleton from a MITRE ATLAS case study.

Each step of the case study's procedure becomes an inject of kind ``message`` to the players,
with prompts to discuss; each technique the procedure uses becomes an expectation to discuss
(its tactics and the mitigations ATLAS lists for it). The skeleton is a starting point: add the
fleet system it plays on, your own prompts and the decisions you expect.

Example:
    >>> from airsoc.incidents.atlas import AtlasData
    >>> atlas = AtlasData(
    ...     version="5.6.0",
    ...     tactics={"AML.TA0001": {"name": "AI Attack Staging"}},
    ...     techniques={"AML.T0042": {"name": "Verify Attack", "tactics": ["AML.TA0001"]}},
    ...     case_studies={"AML.CS0000": {
    ...         "id": "AML.CS0000", "name": "Evasion of a detector", "summary": "They evaded it.",
    ...         "procedure": [{"tactic": "AML.TA0001", "technique": "AML.T0042",
    ...                        "description": "They queried the model until it was evaded."}]}},
    ... )
    >>> skeleton = case_study_scenario(atlas, "AML.CS0000")
    >>> skeleton["name"], skeleton["mode"]
    ('atlas-aml-cs0000', 'tabletop')
    >>> inject = skeleton["injects"][0]
    >>> inject["kind"], inject["at"], inject["message"][:28]
    ('message', '0m', 'AI Attack Staging: Verify At')
    >>> [e["technique"] for e in skeleton["expectations"]["discuss"]]
    ['AML.T0042']
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from airsoc.errors import DataFileError
from airsoc.incidents.atlas import AtlasData

__all__ = ["STEP_MINUTES", "case_study_scenario", "scenario_yaml"]

STEP_MINUTES = 15
"""Minutes of exercise time between two procedure steps in the skeleton."""

_PROMPTS = (
    "What would tell you this is happening, and where would you see it?",
    "What do you do now, who decides, and what do you tell whom?",
)


def case_study_scenario(atlas: AtlasData, case_study_id: str) -> dict[str, Any]:
    """Return a tabletop scenario skeleton (a plain mapping, ready for YAML) for a case study.

    An unknown case study raises :class:`~airsoc.errors.NotFoundError`; a case study without a
    procedure, or a step without a technique, raises naming the step.
    """
    study = atlas.case_study(case_study_id)
    where = f"ATLAS {atlas.version} case study {case_study_id}"
    procedure = study.get("procedure")
    if not isinstance(procedure, list) or not procedure:
        raise DataFileError(f"{where} has no procedure steps (key 'procedure')")
    injects: list[dict[str, Any]] = []
    discuss: dict[str, dict[str, Any]] = {}
    for i, step in enumerate(procedure):
        technique_id = step.get("technique") if isinstance(step, dict) else None
        if not technique_id:
            raise DataFileError(f"{where}: procedure[{i}] has no 'technique'")
        technique = _describe(atlas, str(technique_id))
        tactic_id = str(step.get("tactic") or "")
        tactic = atlas.tactics.get(tactic_id, {}).get("name", tactic_id) or "Unknown tactic"
        text = _plain(str(step.get("description") or ""))
        injects.append(
            {
                "at": f"{i * STEP_MINUTES}m",
                "kind": "message",
                "message": f"{tactic}: {technique['name']} ({technique_id}). {text}".strip(),
                "prompts": list(_PROMPTS),
            }
        )
        entry = discuss.setdefault(
            str(technique_id),
            {
                "technique": str(technique_id),
                "name": technique["name"],
                "tactics": [],
                "mitigations": [m["id"] for m in technique["mitigations"]],
            },
        )
        if tactic not in entry["tactics"]:
            entry["tactics"].append(tactic)
    return {
        "name": "atlas-" + re.sub(r"[^a-z0-9]+", "-", case_study_id.lower()).strip("-"),
        "description": f"{study.get('name', case_study_id)} (MITRE ATLAS {case_study_id}, "
        f"ATLAS {atlas.version}). {_plain(str(study.get('summary') or ''))}".strip(),
        "mode": "tabletop",
        "source": {"atlas": case_study_id, "atlas_version": atlas.version},
        "target": str(study.get("target") or ""),
        "injects": injects,
        "expectations": {"discuss": list(discuss.values())},
    }


def scenario_yaml(scenario: dict[str, Any]) -> str:
    """Return a scenario mapping as YAML text, keys in the order they were built.

    Example:
        >>> print(scenario_yaml({"name": "x", "injects": []}), end="")
        name: x
        injects: []
    """
    return yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True, width=100)


def _describe(atlas: AtlasData, technique_id: str) -> dict[str, Any]:
    """Return the technique's description, or its ID as name when the file does not list it."""
    if technique_id in atlas.techniques:
        return atlas.describe(technique_id)
    return {"id": technique_id, "name": technique_id, "mitigations": []}


def _plain(text: str) -> str:
    """Return ATLAS text on one line, Markdown links reduced to their words."""
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    return " ".join(text.split())
