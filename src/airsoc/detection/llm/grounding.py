"""Grounding checks for RAG answers: citations, quotes, numbers and per-sentence support.

From an answer the checker extracts citations (document IDs with optional version and section),
URLs, quoted passages, numbers and capitalised named entities, and checks each against the
approved :class:`DocumentIndex` and the chunks retrieved for the answer. Each sentence gets a
support score: embedding similarity to its best chunk, blended with content-word recall, and it
fails outright when it carries a number no chunk contains.

Issue kinds: ``fabricated_citation`` (no such document or section), ``stale_version`` (a version
or content hash that differs from the approved one), ``fabricated_quote``, ``altered_number``,
``unsupported_claim`` and ``unknown_url``.

Example:
    >>> index = DocumentIndex([ApprovedDocument.build(
    ...     "POL-CS-001", "Refund policy", "3",
    ...     {"1": "Monthly plans get a full refund within 14 days of the first payment."})])
    >>> checker = GroundingChecker(index)
    >>> chunks = [RetrievedChunk("POL-CS-001", index.get("POL-CS-001").sections["1"], "1")]
    >>> checker.check("Monthly plans get a full refund within 14 days (POL-CS-001 §1).",
    ...               chunks).decision
    'ok'
    >>> v = checker.check("Monthly plans get a full refund within 45 days (POL-CS-009).", chunks)
    >>> v.decision, sorted(v.evidence["issue_kinds"])
    ('drift', ['altered_number', 'fabricated_citation'])
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from airsoc.detection.llm.embeddings import Embedder, TfidfEmbedder, cosine_matrix
from airsoc.detection.llm.text import DEFAULT_MAX_CHARS, prepare_text
from airsoc.detection.verdict import Decision, Verdict

__all__ = [
    "ISSUE_KINDS",
    "ApprovedDocument",
    "DocumentIndex",
    "ExtractedAnswer",
    "GroundingChecker",
    "RetrievedChunk",
    "extract_answer",
    "sha256_text",
]

HALLUCINATION = "AML.T0062"
FALSE_RAG_ENTRY = "AML.T0071"
RAG_POISONING = "AML.T0070"

ISSUE_KINDS = (
    "fabricated_citation",
    "stale_version",
    "fabricated_quote",
    "altered_number",
    "unsupported_claim",
    "unknown_url",
)
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "if",
        "of",
        "to",
        "in",
        "on",
        "at",
        "by",
        "for",
        "with",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "their",
        "they",
        "them",
        "you",
        "your",
        "we",
        "our",
        "us",
        "i",
        "me",
        "my",
        "he",
        "she",
        "his",
        "her",
        "can",
        "could",
        "may",
        "might",
        "must",
        "shall",
        "should",
        "will",
        "would",
        "do",
        "does",
        "did",
        "done",
        "not",
        "no",
        "yes",
        "so",
        "than",
        "then",
        "also",
        "any",
        "all",
        "each",
        "every",
        "per",
        "up",
        "down",
        "out",
        "over",
        "under",
        "about",
        "into",
        "within",
        "after",
        "before",
        "during",
        "only",
        "more",
        "most",
        "less",
        "least",
        "such",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "why",
        "how",
        "have",
        "has",
        "had",
    ]
)
#: Document IDs: two-part prefixes (``POL-HR-001``) or the usual one-part ones (``KB-1042``).
_ID = r"[A-Z]{2,6}-[A-Z]{2,6}-\d{2,4}|(?:POL|DOC|KB|SOP|POLICY)-\d{2,6}"
_CITATION = re.compile(
    rf"\b(?P<id>{_ID})(?:\s*(?:v|version\s*)(?P<version>\d+(?:\.\d+)*))?"
    rf"(?:[\s,]*(?:§|section|sec\.)\s*(?P<section>\d+(?:\.\d+)*))?",
    re.IGNORECASE,
)
_URL = re.compile(r"https?://[^\s)\]>\"']+")
_QUOTE = re.compile(r"[\"“«]([^\"”»]{12,400})[\"”»]")
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:[.,]\d+)*)(?!\w)")
_ENTITY = re.compile(r"(?<![.!?]\s)(?<!^)\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+)+)\b")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])")
_WORD = re.compile(r"[a-z0-9]+")


def sha256_text(text: str) -> str:
    """Return the sha256 hex digest of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApprovedDocument:
    """A document of the approved index: ID, title, version, sections and content hash."""

    id: str
    title: str
    version: str
    sections: Mapping[str, str]
    sha256: str
    url: str | None = None

    @classmethod
    def build(
        cls,
        id: str,
        title: str,
        version: str,
        sections: Mapping[str, str],
        *,
        url: str | None = None,
    ) -> ApprovedDocument:
        """Return the document with its hash computed from title, version and sections.

        >>> ApprovedDocument.build("POL-X-01", "T", "1", {"1": "x"}).sha256[:12]
        'e270acee09b1'
        """
        body = "\n".join(f"{k}\t{v}" for k, v in sorted(sections.items()))
        return cls(
            id, title, version, dict(sections), sha256_text(f"{title}\n{version}\n{body}"), url
        )

    @property
    def text(self) -> str:
        """Return the whole document as one text (title, then its sections in order)."""
        return " ".join([self.title, *self.sections.values()])


class DocumentIndex:
    """The approved documents a RAG answer may cite, by ID (case-insensitive)."""

    def __init__(self, documents: Iterable[ApprovedDocument]) -> None:
        self.documents = {d.id.upper(): d for d in documents}

    def get(self, doc_id: str) -> ApprovedDocument | None:
        """Return the approved document ``doc_id``, or None when it is not approved."""
        return self.documents.get(doc_id.upper())

    def __len__(self) -> int:
        return len(self.documents)


@dataclass(frozen=True)
class RetrievedChunk:
    """A chunk retrieved for an answer; ``sha256`` is the hash of the document it came from."""

    doc_id: str
    text: str
    section: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Citation:
    """A citation in an answer: document ID, and the version and section when given."""

    doc_id: str
    version: str | None
    section: str | None


@dataclass
class ExtractedAnswer:
    """What an answer claims: citations, URLs, quotes, numbers, entities and its sentences."""

    citations: list[Citation] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    quotes: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    entities: list[str] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)


def _strip_refs(sentence: str) -> str:
    out = _CITATION.sub(" ", _URL.sub(" ", sentence))
    return re.sub(r"\(\s*[,;§]*\s*\)|\s+", " ", out).strip()


def _numbers(text: str) -> list[str]:
    cleaned = _CITATION.sub(" ", _URL.sub(" ", text))
    return [m.group(1).replace(",", "") for m in _NUMBER.finditer(cleaned)]


def extract_answer(answer: str) -> ExtractedAnswer:
    """Return the citations, URLs, quotes, numbers, entities and sentences of ``answer``.

    >>> x = extract_answer('Per POL-HR-001 v4 section 2, "up to 5 unused days" carry over '
    ...                    'until 31 March (see https://intranet.example/hr).')
    >>> x.citations[0], x.numbers, x.urls
    (Citation(doc_id='POL-HR-001', version='4', section='2'), ['5', '31'], ['https://intranet.example/hr'])
    """
    out = ExtractedAnswer()
    for m in _CITATION.finditer(answer):
        out.citations.append(
            Citation(m.group("id").upper(), m.group("version"), m.group("section"))
        )
    out.urls = _URL.findall(answer)
    out.quotes = [q.strip() for q in _QUOTE.findall(answer)]
    out.numbers = _numbers(answer)
    out.entities = list(dict.fromkeys(_ENTITY.findall(_CITATION.sub(" ", answer))))
    out.sentences = [s.strip() for s in _SENTENCE.split(answer.strip()) if s.strip()]
    return out


def _content_words(text: str) -> set[str]:
    words = _WORD.findall(text.lower())
    return {_stem(w) for w in words if w not in _STOPWORDS and (len(w) > 2 or w.isdigit())}


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def _squash(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


class GroundingChecker:
    """Check a RAG answer against the approved index and its retrieved chunks.

    ``support_threshold`` is the lowest support score a sentence may have; ``embedder`` scores
    semantic similarity (default: TF-IDF character n-grams fitted on the index).
    """

    name = "grounding"

    def __init__(
        self,
        index: DocumentIndex,
        *,
        embedder: Embedder | None = None,
        support_threshold: float = 0.45,
        allowed_url_prefixes: Sequence[str] = (),
        max_chars: int = DEFAULT_MAX_CHARS,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.support_threshold = support_threshold
        self.allowed_url_prefixes = allowed_url_prefixes
        self.max_chars = max_chars
        corpus = [s for d in index.documents.values() for s in (d.title, *d.sections.values())]
        self.embedder_: Embedder = (embedder or TfidfEmbedder()).fit(corpus or ["empty"])

    def sentence_support(
        self, sentences: Sequence[str], chunks: Sequence[str]
    ) -> list[tuple[float, int, list[str]]]:
        """Return per sentence its support score, best chunk index and numbers no chunk holds.

        >>> index = DocumentIndex([ApprovedDocument.build("D-01", "t", "1", {"1": "a b"})])
        >>> GroundingChecker(index).sentence_support(["Refunds take 10 days."],
        ...     ["Refunds are paid within 10 business days."])[0][1:]
        (0, [])
        """
        if not sentences:
            return []
        if not chunks:
            return [(0.0, -1, _numbers(s)) for s in sentences]
        stripped = [_strip_refs(s) or s for s in sentences]
        # Quoted passages are checked verbatim elsewhere; their numbers are not counted twice.
        unquoted = [_QUOTE.sub(" ", s) for s in stripped]
        sims = cosine_matrix(self.embedder_.embed(stripped), self.embedder_.embed(list(chunks)))
        chunk_words = [_content_words(c) for c in chunks]
        chunk_numbers = [Counter(_numbers(c)) for c in chunks]
        out: list[tuple[float, int, list[str]]] = []
        for i, sentence in enumerate(stripped):
            words = _content_words(sentence)
            recalls = np.array(
                [len(words & cw) / len(words) if words else 1.0 for cw in chunk_words]
            )
            blended = 0.5 * sims[i] + 0.5 * recalls
            best = int(np.argmax(blended))
            # A number must come from the chunk that supports the sentence, not any chunk.
            # Compared as multisets: "5 to 5 days" is not supported by "3 to 5 days".
            missing = sorted((Counter(_numbers(unquoted[i])) - chunk_numbers[best]).elements())
            out.append((float(blended[best]), best, missing))
        return out

    def check(
        self,
        answer: str | bytes | None,
        chunks: Sequence[RetrievedChunk],
        *,
        subject: str = "answer",
    ) -> Verdict:
        """Return the grounding verdict of one answer given the chunks retrieved for it."""
        view = prepare_text(answer, max_chars=self.max_chars)
        text = view.normalized
        if not text:
            return self._verdict(subject, "ok", 0.0, "empty answer: nothing to check", {}, view)
        extracted = extract_answer(text)
        issues = self._citation_issues(extracted.citations, chunks)
        sources = [c.text for c in chunks]
        cited_docs = [self.index.get(c.doc_id) for c in extracted.citations]
        haystack = _squash(" ".join(sources + [d.text for d in cited_docs if d]))
        for q in extracted.quotes:
            if _squash(q) not in haystack:
                issues.append({"kind": "fabricated_quote", "quote": q[:160]})
        known_urls = {d.url for d in self.index.documents.values() if d.url}
        for url in extracted.urls:
            if url not in known_urls and not url.startswith(tuple(self.allowed_url_prefixes)):
                issues.append({"kind": "unknown_url", "url": url})
        support = self.sentence_support(extracted.sentences, sources)
        sentences: list[dict[str, Any]] = []
        for sentence, (score, best, missing) in zip(extracted.sentences, support, strict=True):
            supported = score >= self.support_threshold and not missing
            sentences.append(
                {
                    "sentence": sentence[:200],
                    "support": round(score, 3),
                    "best_chunk": best,
                    "unsupported_numbers": missing,
                    "supported": supported,
                }
            )
            if missing:
                issues.append(
                    {"kind": "altered_number", "sentence": sentence[:200], "numbers": missing}
                )
            elif score < self.support_threshold:
                issues.append(
                    {
                        "kind": "unsupported_claim",
                        "sentence": sentence[:200],
                        "support": round(score, 3),
                    }
                )
        kinds = sorted({i["kind"] for i in issues})
        unsupported = sum(1 for s in sentences if not s["supported"])
        share = unsupported / len(sentences) if sentences else 0.0
        hard = {"fabricated_citation", "stale_version", "fabricated_quote", "altered_number"}
        decision: Decision = (
            "drift" if hard & set(kinds) or share >= 0.5 else "warn" if kinds else "ok"
        )
        reason = (
            "every citation, quote and number is grounded"
            if not kinds
            else f"{len(issues)} grounding issue(s): {', '.join(kinds)}; "
            f"{unsupported}/{len(sentences)} sentence(s) unsupported"
        )
        evidence = {
            "issues": issues,
            "issue_kinds": kinds,
            "sentences": sentences,
            "citations": [c.__dict__ for c in extracted.citations],
            "entities": extracted.entities,
            "n_chunks": len(chunks),
        }
        return self._verdict(subject, decision, share, reason, evidence, view)

    def _citation_issues(
        self, citations: Sequence[Citation], chunks: Sequence[RetrievedChunk]
    ) -> list[dict[str, Any]]:
        """Return the issues of cited IDs, sections and versions, and of retrieved chunks."""
        issues: list[dict[str, Any]] = []

        def add(kind: str, citation: str, detail: str) -> None:
            issues.append({"kind": kind, "citation": citation, "detail": detail})

        for c in citations:
            doc = self.index.get(c.doc_id)
            if doc is None:
                add("fabricated_citation", c.doc_id, "no approved document has this ID")
                continue
            if c.section and c.section not in doc.sections:
                add(
                    "fabricated_citation",
                    f"{c.doc_id} §{c.section}",
                    f"{c.doc_id} has sections {', '.join(doc.sections)}",
                )
            if c.version and c.version != doc.version:
                add(
                    "stale_version",
                    f"{c.doc_id} v{c.version}",
                    f"approved version is {doc.version}",
                )
        for chunk in chunks:
            doc = self.index.get(chunk.doc_id)
            if doc is None:
                add("fabricated_citation", chunk.doc_id, "retrieved from a document not approved")
            elif chunk.sha256 and chunk.sha256 != doc.sha256:
                add(
                    "stale_version",
                    chunk.doc_id,
                    "retrieved document's hash is not the approved one",
                )
        return issues

    def _verdict(
        self,
        subject: str,
        decision: Decision,
        share: float,
        reason: str,
        evidence: dict[str, Any],
        view: Any,
    ) -> Verdict:
        atlas: list[str] = []
        if decision != "ok":
            atlas.append(HALLUCINATION)
            if set(evidence.get("issue_kinds", [])) & {"stale_version"}:
                atlas.append(RAG_POISONING)
        if view.notes:
            reason += f" ({'; '.join(view.notes)})"
        return Verdict(
            detector=self.name,
            method=f"citations+support[{self.embedder_.name}]",
            subject=subject,
            failure_mode="hallucination_cascade",
            statistic=round(share, 4),
            threshold=self.support_threshold,
            threshold_source="fixed",
            decision=decision,
            n_current=len(evidence.get("sentences", [])),
            reason=reason,
            evidence={"atlas": atlas, **evidence, "notes": view.notes, "truncated": view.truncated},
        )
