from __future__ import annotations

import pytest

from airsoc.detection.llm.embeddings import minilm_available
from airsoc.errors import NotFoundError
from airsoc.fleet.rag.policies import load_policies
from airsoc.fleet.rag.retrieval import RetrievalIndex


@pytest.mark.parametrize(
    ("question", "doc_id"),
    [
        ("How long do backups stay around?", "POL-IT-004"),
        ("What uptime do you promise?", "POL-CS-003"),
        ("How often are encryption keys rotated?", "POL-SEC-005"),
    ],
)
def test_tfidf_finds_the_right_policy(question: str, doc_id: str) -> None:
    assert RetrievalIndex(load_policies()).search(question, k=1)[0].chunk.doc_id == doc_id


def test_documents_can_be_removed_and_added_back() -> None:
    docs = load_policies()
    index = RetrievalIndex(docs)
    index.remove_document("POL-IT-004")
    assert all(h.chunk.doc_id != "POL-IT-004" for h in index.search("backups retained", k=10))
    with pytest.raises(NotFoundError, match="POL-IT-004"):
        index.remove_document("POL-IT-004")
    index.add_document(next(d for d in docs if d.id == "POL-IT-004"))
    assert index.search("backups retained", k=1)[0].chunk.doc_id == "POL-IT-004"
    assert index.search("   ") == []


@pytest.mark.skipif(not minilm_available(), reason="the embeddings extra is not installed")
def test_minilm_backend_retrieves_paraphrases() -> None:
    index = RetrievalIndex(load_policies()[:12], backend="minilm")
    # No word in common with the refund policy beyond "my": the match is semantic.
    assert index.search("I paid and want my money returned", k=1)[0].chunk.doc_id == "POL-CS-001"
    assert index.search("How do I stop my subscription?", k=1)[0].chunk.doc_id == "POL-CS-002"
