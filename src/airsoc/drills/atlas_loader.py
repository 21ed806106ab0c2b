"""A tabletop scenario skeleton from a MITRE ATLAS case study.

Each step of the case study's procedure becomes an inject of kind ``message`` to the players,
followed by tabletop prompts; each technique the procedure uses becomes a prompt to discuss
(its tactic, and the mitigations ATLAS lists for it as the ideal answer), and the failure mode
those techniques map to in airsoc's taxonomy becomes the expected incident. The skeleton is a
starting point: check the system it plays on, add choices and the playbook steps you expect.

Example:
    >>> from airsoc.incidents.atlas import AtlasData
    >>> atlas = AtlasData(
    ...     version="5.6.0",
    ...     tactics={"AML.TA0001": {"name": "AI Attack Staging"}},
    ...     techniques={"AML.T0042": {"name": "Verify Attack", "tactics": ["AML.TA0001"]},
    ...                 "AML.T0015": {"name": "Evade AI Model", "tactics": ["AML.TA0001"]}},
    ...     case_studies={"AML.CS0000": {
    ...         "id": "AML.CS0000", "name": "Evasion of a detector", "summary": "They evaded it.",
    ...         "procedure": [{"tactic": "AML.TA0001", "technique": "AML.T0042",
    ...                        "description": "They queried the model until it was evaded."},
    ...                       {"tactic": "AML.TA0001", "technique": "AML.T0015"}]}},
    ... )
    >>> skeleton = case_study_scenario(atlas, "AML.CS0000")
    >>> skeleton["name"], skeleton["fleet"]
    ('atlas-aml-cs0000', {'systems': ['fraud-detector']})
    >>> skeleton["expectations"]
    {'incident': {'failure_mode': 'adversarial_evasion'}}
    >>> inject = skeleton["injects"][0]
    >>> inject["kind"], inject["at"], inject["params"]["text"][:28]
    ('message', '0m', 'AI Attack Staging: Verify At')
    >>> [p["prompt"][:20] for p in skeleton["tabletop"]][-1]
    'Discuss AML.T0015 Ev'
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from airsoc.errors import DataFileError
from airsoc.fleet.setup import SUPPORT_BOT
from airsoc.incidents.atlas import AtlasData
from airsoc.incidents.taxonomy import FAILURE_MODES, FailureMode
from airsoc.incidents.taxonomy import failure_mode as taxonomy_failure_mode

__all__ = ["STEP_MINUTES", "case_study_scenario", "scenario_yaml"]

STEP_MINUTES = 15
"""Minutes of exercise time between two procedure steps in the skeleton."""

#: The failure modes the demo fleet's support bot is watched for; others play on the fraud
#: detector.
_LLM_MODES = frozenset({"prompt_injection", "harmful_output", "hallucination_cascade"})

_PROMPTS = (
    "What would tell you this is happening, and where would you see it?",
    "What do you do now, who decides, and what do you tell whom?",
)


def case_study_scenario(
    atlas: AtlasData, case_study_id: str, *, failure_mode: str | None = None
) -> dict[str, Any]:
    """Return a tabletop scenario skeleton (a plain mapping, ready for YAML) for a case study.

    The expected incident's failure mode is the one of airsoc's taxonomy whose ATLAS
    techniques the procedure uses most (a tie goes to the earlier step); its system is the demo
    fleet's support bot for an LLM failure mode, the fraud detector otherwise; ``failure_mode``
    names it instead (for a procedure whose techniques no failure mode lists). An unknown case
    study raises :class:`~airsoc.errors.NotFoundError`; a case study without a procedure, a
    step without a technique, or a procedure no failure mode maps to raises naming it.
    """
    study = atlas.case_study(case_study_id)
    where = f"ATLAS {atlas.version} case study {case_study_id}"
    procedure = study.get("procedure")
    if not isinstance(procedure, list) or not procedure:
        raise DataFileError(f"{where} has no procedure steps (key 'procedure')")
    injects: list[dict[str, Any]] = []
    prompts: list[dict[str, Any]] = []
    discussed: set[str] = set()
    used: list[str] = []
    for i, step in enumerate(procedure):
        technique_id = step.get("technique") if isinstance(step, dict) else None
        if not technique_id:
            raise DataFileError(f"{where}: procedure[{i}] has no 'technique'")
        technique = _describe(atlas, str(technique_id))
        tactic_id = str(step.get("tactic") or "")
        tactic = atlas.tactics.get(tactic_id, {}).get("name", tactic_id) or "Unknown tactic"
        inject_id = f"step-{i + 1}"
        text = _plain(str(step.get("description") or "")) or technique["name"]
        injects.append(
            {
                "id": inject_id,
                "at": f"{i * STEP_MINUTES}m",
                "kind": "message",
                "params": {"text": f"{tactic}: {technique['name']} ({technique_id}). {text}"},
            }
        )
        prompts += [{"after": inject_id, "prompt": p} for p in _PROMPTS]
        used.append(str(technique_id))
        if technique_id in discussed:
            continue
        discussed.add(str(technique_id))
        mitigations = ", ".join(f"{m['id']} {m['name']}" for m in technique["mitigations"])
        prompts.append(
            {
                "after": inject_id,
                "prompt": f"Discuss {technique_id} {technique['name']} ({tactic}): which "
                "signal would show it, and which mitigation applies?",
                **({"ideal": f"ATLAS lists: {mitigations}"} if mitigations else {}),
            }
        )
    mode = taxonomy_failure_mode(failure_mode) if failure_mode else _failure_mode(used)
    if mode is None:
        raise DataFileError(
            f"{where}: no failure mode of airsoc's taxonomy maps to its techniques "
            f"({', '.join(dict.fromkeys(used))}); name the failure mode to expect"
        )
    return {
        "name": "atlas-" + re.sub(r"[^a-z0-9]+", "-", case_study_id.lower()).strip("-"),
        "description": f"Tabletop skeleton from MITRE ATLAS {case_study_id} (ATLAS "
        f"{atlas.version}): {study.get('name', case_study_id)}. "
        f"{_plain(str(study.get('summary') or ''))}"[:4000].strip(),
        "fleet": {"systems": [SUPPORT_BOT if mode.name in _LLM_MODES else "fraud-detector"]},
        "traffic": {"duration": f"{len(procedure) * STEP_MINUTES}m"},
        "injects": injects,
        "expectations": {"incident": {"failure_mode": mode.name}},
        "tabletop": prompts,
    }


def scenario_yaml(scenario: dict[str, Any]) -> str:
    """Return a scenario mapping as YAML text, keys in the order they were built.

    Example:
        >>> print(scenario_yaml({"name": "x", "injects": []}), end="")
        name: x
        injects: []
    """
    return yaml.safe_dump(scenario, sort_keys=False, allow_unicode=True, width=100)


def _failure_mode(techniques: list[str]) -> FailureMode | None:
    """Return the failure mode whose ATLAS techniques (or their parents) the steps use most."""
    best: tuple[int, int, FailureMode] | None = None
    for mode in FAILURE_MODES.values():
        ids = {t.id for t in mode.atlas}
        hits = [i for i, t in enumerate(techniques) if t in ids or _parent(t) in ids]
        if hits and (best is None or (len(hits), -hits[0]) > best[:2]):
            best = (len(hits), -hits[0], mode)
    return best[2] if best else None


def _parent(technique_id: str) -> str:
    """Return ``AML.T0051`` for ``AML.T0051.000`` (and a technique for itself)."""
    return ".".join(technique_id.split(".")[:2])


def _describe(atlas: AtlasData, technique_id: str) -> dict[str, Any]:
    """Return the technique's description, or its ID as name when the file does not list it."""
    if technique_id in atlas.techniques:
        return atlas.describe(technique_id)
    return {"id": technique_id, "name": technique_id, "mitigations": []}


def _plain(text: str) -> str:
    """Return ATLAS text on one line, Markdown links reduced to their words."""
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)
    return " ".join(text.split())
