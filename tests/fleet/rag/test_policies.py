from __future__ import annotations

import re

from airsoc.fleet.rag.policies import load_policies, policy_index


def test_corpus_has_thirty_plus_distinct_versioned_documents() -> None:
    docs = load_policies()
    assert len(docs) >= 30
    assert len({d.id for d in docs}) == len(docs)
    assert len({d.sha256 for d in docs}) == len(docs)
    assert all(re.fullmatch(r"POL-[A-Z]+-\d{3}", d.id) and d.sections for d in docs)


def test_index_lookup_is_case_insensitive() -> None:
    index = policy_index()
    assert index.get("pol-sec-001") is index.get("POL-SEC-001")
    assert index.get("POL-NOPE-001") is None
