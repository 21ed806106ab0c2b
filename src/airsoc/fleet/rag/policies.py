"""The demo support bot's corpus: 34 company policy documents written for the project.

Example:
    >>> docs = load_policies()
    >>> len(docs) >= 30, docs[0].id, docs[0].sections["1"][:40]
    (True, 'POL-CS-001', 'Customers on monthly plans can request a')
    >>> policy_index().get("pol-hr-002").title
    'Parental leave'
"""

from __future__ import annotations

import functools
from importlib import resources

import yaml

from airsoc.detection.llm.grounding import ApprovedDocument, DocumentIndex

__all__ = ["POLICIES_RESOURCE", "load_policies", "policy_index"]

#: The policy documents as shipped: a YAML list of ``id``, ``title``, ``version``, ``sections``
#: (the shape a hallucination monitor's ``documents:`` index takes).
POLICIES_RESOURCE = resources.files("airsoc.fleet.rag") / "policies.yaml"


@functools.lru_cache(maxsize=1)
def _load() -> tuple[ApprovedDocument, ...]:
    raw = yaml.safe_load(POLICIES_RESOURCE.read_text(encoding="utf-8"))
    return tuple(
        ApprovedDocument.build(
            d["id"],
            d["title"],
            str(d["version"]),
            {str(k): str(v) for k, v in d["sections"].items()},
            url=f"https://policies.northwind.example/{d['id'].lower()}",
        )
        for d in raw
    )


def load_policies() -> list[ApprovedDocument]:
    """Return the approved policy documents, in ID order."""
    return sorted(_load(), key=lambda d: d.id)


def policy_index() -> DocumentIndex:
    """Return the approved index over every policy document."""
    return DocumentIndex(load_policies())
