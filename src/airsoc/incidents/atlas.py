"""Loader for the full MITRE ATLAS data file (``ATLAS.yaml``), given by the user.

airsoc ships only technique IDs, names and tactics (:mod:`airsoc.incidents.taxonomy`). For
descriptions, mitigations and case studies, point this loader at a copy of ATLAS.yaml.

Example (given a copy of ATLAS.yaml; ``tests/incidents/test_atlas.py`` runs it on one)::

    data = load_atlas("ATLAS.yaml")
    data.describe("AML.T0020")["name"]        # 'Poison Training Data'
    data.describe("AML.T0020")["mitigations"] # [{'id': 'AML.M0007', 'name': ...}, ...]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from airsoc.errors import DataFileError, NotFoundError

__all__ = ["AtlasData", "load_atlas"]


@dataclass
class AtlasData:
    """The parts of ATLAS airsoc shows: tactics, techniques, mitigations and case studies."""

    version: str
    tactics: dict[str, dict[str, Any]]
    techniques: dict[str, dict[str, Any]]
    mitigations_by_technique: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    case_studies_by_technique: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    case_studies: dict[str, dict[str, Any]] = field(default_factory=dict)

    def case_study(self, case_study_id: str) -> dict[str, Any]:
        """Return one case study as the file has it (name, summary, procedure, target, ...)."""
        study = self.case_studies.get(case_study_id)
        if study is None:
            raise NotFoundError(f"case study {case_study_id} is not in ATLAS {self.version}")
        return study

    def describe(self, technique_id: str) -> dict[str, Any]:
        """Return a technique's name, description, tactics, mitigations and case studies.

        A sub-technique also lists its parent's mitigations and case studies.
        """
        tech = self.techniques.get(technique_id)
        if tech is None:
            raise NotFoundError(f"technique {technique_id} is not in ATLAS {self.version}")
        parent = tech.get("subtechnique-of")
        parent_tech = self.techniques.get(parent, {}) if parent else {}
        tactic_ids = tech.get("tactics") or parent_tech.get("tactics") or []
        ids = [technique_id] + ([parent] if parent else [])
        return {
            "id": technique_id,
            "name": tech.get("name", ""),
            "description": str(tech.get("description", "")).strip(),
            "tactics": [
                {"id": t, "name": self.tactics.get(t, {}).get("name", t)} for t in tactic_ids
            ],
            "parent": parent,
            "mitigations": _unique(
                m for i in ids for m in self.mitigations_by_technique.get(i, [])
            ),
            "case_studies": _unique(
                c for i in ids for c in self.case_studies_by_technique.get(i, [])
            ),
        }


def load_atlas(path: str | Path) -> AtlasData:
    """Read an ATLAS data file; a missing or malformed file raises naming the file and key."""
    source = Path(path)
    try:
        raw = yaml.safe_load(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataFileError(f"ATLAS data file {source} not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise DataFileError(f"cannot read ATLAS data file {source}: {exc}") from None
    try:
        matrix = raw["matrices"][0]
        tactics = {t["id"]: t for t in matrix["tactics"]}
        techniques = {t["id"]: t for t in matrix["techniques"]}
    except (KeyError, IndexError, TypeError) as exc:
        raise DataFileError(
            f"{source} is not an ATLAS data file: missing matrices[0].{exc}"
        ) from None
    mitigations: dict[str, list[dict[str, str]]] = {}
    for mit in matrix.get("mitigations", []):
        for ref in mit.get("techniques", []):
            mitigations.setdefault(ref["id"], []).append({"id": mit["id"], "name": mit["name"]})
    studies: dict[str, list[dict[str, str]]] = {}
    for study in raw.get("case-studies") or []:
        for step in study.get("procedure", []):
            tech_id = step.get("technique")
            if tech_id:
                studies.setdefault(tech_id, []).append({"id": study["id"], "name": study["name"]})
    return AtlasData(
        version=str(raw.get("version", "unknown")),
        tactics=tactics,
        techniques=techniques,
        mitigations_by_technique=mitigations,
        case_studies_by_technique=studies,
        case_studies={str(s["id"]): s for s in raw.get("case-studies") or [] if "id" in s},
    )


def _unique(items: Any) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for item in items:
        seen.setdefault(item["id"], item)
    return list(seen.values())
