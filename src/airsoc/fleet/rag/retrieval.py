"""The bot's retrieval index: one chunk per policy section, TF-IDF by default, MiniLM with the
``embeddings`` extra. Documents can be removed (and added back) while the bot runs, so a
response action can pull a bad document out of retrieval.

Example:
    >>> from airsoc.fleet.rag.policies import load_policies
    >>> index = RetrievalIndex(load_policies())
    >>> hit = index.search("how many weeks of parental leave do I get", k=1)[0]
    >>> hit.chunk.doc_id, hit.chunk.section
    ('POL-HR-002', '1')
    >>> index.remove_document("POL-HR-002")
    >>> [h.chunk.doc_id for h in index.search("weeks of parental leave", k=3)].count("POL-HR-002")
    0
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from airsoc.detection.llm.embeddings import MiniLMEmbedder, cosine_matrix
from airsoc.detection.llm.grounding import ApprovedDocument, RetrievedChunk
from airsoc.errors import NotFoundError

__all__ = ["Backend", "RetrievalHit", "RetrievalIndex"]

Backend = Literal["tfidf", "minilm"]


@dataclass(frozen=True)
class RetrievalHit:
    """A retrieved chunk, its similarity score and the title of its document."""

    chunk: RetrievedChunk
    score: float
    title: str


class RetrievalIndex:
    """Chunks of the given documents, searchable by cosine similarity."""

    def __init__(
        self, documents: Iterable[ApprovedDocument], *, backend: Backend = "tfidf"
    ) -> None:
        self.backend = backend
        self.documents: dict[str, ApprovedDocument] = {}
        for doc in documents:
            self.documents[doc.id] = doc
        self._build()

    def _build(self) -> None:
        self._chunks = [
            (RetrievedChunk(d.id, text, section, d.sha256), d.title)
            for d in self.documents.values()
            for section, text in d.sections.items()
        ]
        texts = [f"{title}. {c.text}" for c, title in self._chunks] or ["empty"]
        if self.backend == "minilm":
            self._minilm = MiniLMEmbedder.load()
            self._matrix = self._minilm.embed(texts)
        else:
            self._vectorizer = TfidfVectorizer(
                sublinear_tf=True, ngram_range=(1, 2), stop_words="english"
            )
            self._matrix = self._vectorizer.fit_transform(texts)

    def remove_document(self, doc_id: str) -> None:
        """Take ``doc_id`` out of retrieval; raise NotFoundError when it is not indexed."""
        if doc_id not in self.documents:
            raise NotFoundError(f"document {doc_id} is not in the retrieval index")
        del self.documents[doc_id]
        self._build()

    def add_document(self, doc: ApprovedDocument) -> None:
        """Add or replace ``doc`` in retrieval (re-ingestion)."""
        self.documents[doc.id] = doc
        self._build()

    def search(self, query: str, *, k: int = 3) -> list[RetrievalHit]:
        """Return the ``k`` best chunks for ``query``, best first (empty when nothing matches)."""
        if not self._chunks or not query.strip():
            return []
        if self.backend == "minilm":
            q = self._minilm.embed([query])
        else:
            q = self._vectorizer.transform([query])
        scores = cosine_matrix(q, self._matrix)[0]
        order = np.argsort(-scores)[:k]
        return [
            RetrievalHit(self._chunks[i][0], float(scores[i]), self._chunks[i][1])
            for i in order
            if scores[i] > 0
        ]
