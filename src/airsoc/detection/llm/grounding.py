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
import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from airsoc.detection.llm.embeddings import Embedder, TfidfEmbedder, cosine_matrix
from airsoc.detection.llm.facts import COMPARATORS, Facts, extract_facts, normalize_facts
from airsoc.detection.llm.memo import VerdictMemo
from airsoc.detection.llm.text import DEFAULT_MAX_CHARS, prepare_text
from airsoc.detection.verdict import Decision, Verdict
from airsoc.errors import DataFileError

__all__ = [
    "ISSUE_KINDS",
    "ApprovedDocument",
    "ClaimCheck",
    "DocumentIndex",
    "ExtractedAnswer",
    "GroundingChecker",
    "RetrievedChunk",
    "extract_answer",
    "load_document_index",
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
    "altered_unit",
    "altered_time",
    "altered_condition",
    "negation_mismatch",
    "altered_role",
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
_ID = r"[A-Z]{2,6}-[A-Z]{2,6}-\d{1,5}|(?:POL|DOC|KB|SOP|POLICY|REF|GDL|STD|PRC|ART)[-_ ]?\d{1,6}"
#: Any other identifier with a digit, when a citing word comes before it ("see HB-7/2").
_CONTEXT_ID = re.compile(
    r"\b(?:[Pp]olicy|[Dd]ocument|[Dd]oc|[Aa]rticle|[Rr]ef(?:erence)?|[Gg]uideline|[Ss]ee|"
    r"[Pp]er|[Uu]nder|[Cc]ited in|[Ss]ource)\s+(?:[Nn]o\.?\s*|[Nn]umber\s+|#\s*)?"
    r"(?P<id>(?=[A-Z0-9./_-]*\d)[A-Z][A-Z0-9]{0,9}(?:[-_./][A-Z0-9]{1,9})+)\b"
)
#: A policy named in free text: capitalised words ending in Policy, Guidelines, Handbook...
_POLICY_NAME = re.compile(
    r"\b((?:[A-Z][\w&'-]*\s+){1,6}(?:Policy|Policies|Guidelines?|Handbook|Standard|Procedure|"
    r"Charter|Agreement|Programme|Program|Regulations?|Rules|Directive))\b"
    r"|\b(?:the|our|per|under|see|according to)\s+((?:[a-z][\w-]*\s+){1,4}"
    r"(?:policy|guidelines|handbook|procedure|programme|program))\b"
)
_NAME_STOP = frozenset(
    {
        "the",
        "our",
        "a",
        "an",
        "per",
        "under",
        "see",
        "according",
        "to",
        "company",
        "policy",
        "policies",
        "guideline",
        "guidelines",
        "handbook",
        "standard",
        "procedure",
        "charter",
        "agreement",
        "programme",
        "program",
        "regulation",
        "regulations",
        "rules",
        "directive",
        "new",
        "current",
        "updated",
        "official",
        "internal",
        "global",
        "corporate",
    }
)
_FILLER = re.compile(
    r"^(?:(?:sure|of course|certainly|absolutely|great question|good question|happy to help|"
    r"glad to help|no problem|you're welcome|thanks?(?: you)?(?: for [^.!?]*)?|"
    r"i hope (?:this|that) helps|hope (?:this|that) helps|let me know if [^.!?]*|"
    r"feel free to [^.!?]*|is there anything else [^.!?]*|anything else [^.!?]*|"
    r"here(?:'s| is) what [^.!?]*|i(?:'d| would) be happy to [^.!?]*|"
    r"(?:please )?(?:don't|do not) hesitate to [^.!?]*|have a (?:great|nice|good) day|"
    r"i understand(?: your [^.!?]*)?|i'm sorry(?: [^.!?]*)?|that's a (?:great|good) question)"
    r"[\s,.!?:;-]*)+$",
    re.IGNORECASE,
)
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

    def find_title(self, name: str) -> ApprovedDocument | None:
        """Return the document whose title a free-text name refers to, or None.

        >>> idx = DocumentIndex([ApprovedDocument.build("P-1", "Refund policy", "1", {"1": "x"})])
        >>> idx.find_title("our Refund Policy").id, idx.find_title("Travel Policy")
        ('P-1', None)
        """
        words = _name_words(name)
        if not words:
            return self.documents.get(name.strip().upper())
        best: tuple[float, ApprovedDocument | None] = (0.0, None)
        for doc in self.documents.values():
            title = _name_words(doc.title) | _name_words(doc.id)
            overlap = len(words & title) / len(words)
            if overlap > best[0]:
                best = (overlap, doc)
        return best[1] if best[0] >= 0.6 else None

    @classmethod
    def from_records(
        cls, records: Iterable[Mapping[str, Any]], *, where: str = "documents"
    ) -> DocumentIndex:
        """Return the index of records shaped ``{id, title, version, sections: {name: text}}``.

        >>> DocumentIndex.from_records([{"id": "D-1", "title": "T", "version": 2,
        ...                              "sections": {"1": "text"}}]).get("d-1").version
        '2'
        """
        docs: list[ApprovedDocument] = []
        for i, d in enumerate(records):
            try:
                sections = d["sections"]
                docs.append(
                    ApprovedDocument.build(
                        str(d["id"]),
                        str(d.get("title", d["id"])),
                        str(d.get("version", "1")),
                        {str(k): str(v) for k, v in sections.items()},
                        url=d.get("url"),
                    )
                )
            except (KeyError, TypeError, AttributeError) as exc:
                raise DataFileError(
                    f"{where}[{i}]: a document needs id, title, version and sections "
                    f"(a mapping of section name to text): {exc!r}"
                ) from None
        return cls(docs)


def _name_words(name: str) -> set[str]:
    return {
        _stem(w)
        for w in re.findall(r"[a-z0-9]+", name.lower())
        if w not in _NAME_STOP and len(w) > 1
    }


def load_document_index(path: Path | str) -> DocumentIndex:
    """Return the document index in a YAML or JSON file: a list of
    ``{id, title, version, sections: {name: text}}``.

    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "docs.yaml"
    >>> _ = p.write_text("- {id: D-1, title: Refunds, version: 1, sections: {'1': 'x'}}")
    >>> len(load_document_index(p))
    1
    """
    path = Path(path)
    try:
        raw_text = path.read_text(encoding="utf-8")
        raw = json.loads(raw_text) if path.suffix == ".json" else yaml.safe_load(raw_text)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, yaml.YAMLError) as exc:
        raise DataFileError(f"{path}: cannot read the document index: {exc}") from None
    if not isinstance(raw, list):
        raise DataFileError(
            f"{path}: the document index is a list of {{id, title, version, sections}}"
        )
    return DocumentIndex.from_records(raw, where=str(path))


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


@dataclass
class ClaimCheck:
    """One claim of an answer: its support, best chunk, evidence sentences and issues."""

    claim: str
    support: float
    chunk: int
    evidence: list[str]
    missing_numbers: list[str]
    issues: list[dict[str, Any]]


def _split_sentences(text: str) -> list[str]:
    parts = [p.strip() for p in _SENTENCE.split(text.strip()) if p.strip()]
    return [q.strip() for p in parts for q in p.split("; ") if q.strip()]


_TEAM = (
    r"(?:colleagues?|team(?: members?)?|(?:human |live |support )?agents?|specialists?|humans?|"
    r"(?:a |real )?person|someone|somebody|staff|department|manager|supervisor|advisor|"
    r"representative|member of (?:our |the |staff)[^.!?]*)"
)
#: What a support bot says to keep a conversation going, not about the domain: greetings,
#: holding, hand-off to a person, asking the user for details, declining. Such a sentence
#: asserts nothing a document could support, so it is not a claim, unless it carries a fact
#: (a number, time or date: "a colleague will call you within 2 hours" is checked).
_CONVERSATIONAL = re.compile(
    r"^(?:"
    r"(?:hi|hello|hey|good (?:morning|afternoon|evening)|welcome(?: back)?)(?: there)?"
    r"|(?:how|what) (?:else )?can i (?:help|do for|assist) you(?: with)?(?: today| now)?"
    r"|(?:could|can|would) you (?:please )?(?:share|send|confirm|give me|tell me|provide|"
    r"check|describe|rephrase)\b[^.!?]*"
    r"|(?:please )?(?:hold on|wait|bear with me|stay in the chat)\b[^.!?]*"
    r"|(?:one|just a|give me a) (?:moment|second|sec|minute)\b[^.!?]*"
    r"|let me (?:check|look|see|find out|have a look)\b[^.!?]*"
    r"|(?:thanks?(?: you)? (?:for (?:waiting|your patience|holding))|sorry (?:for|about) the "
    r"(?:wait|delay))\b[^.!?]*"
    r"|i(?:'m| am) (?:still )?(?:checking|looking into|looking at|working on)\b[^.!?]*"
    r"|(?:(?:thanks?(?: you)?|ok(?:ay)?|got it|alright|understood)[, ]+)?i(?:'ve| have) "
    r"(?:noted (?:that|this|it|your [^.!?]*)|made a note of [^.!?]*|created a ticket[^.!?]*|"
    r"logged your (?:request|question|case)[^.!?]*)"
    r"|(?:i(?:'m| am|'ll| will|'ve| have)|let me|we(?:'re| are|'ll| will|'ve| have))\s+(?:now\s+)?"
    r"(?:hand(?:ing|ed)?|pass(?:ing|ed)?|transfer(?:ring|red)?|connect(?:ing|ed)?|"
    r"forward(?:ing|ed)?|escalat(?:e|ing|ed)|mov(?:e|ing|ed)|put(?:ting)?)\b[^.!?]*?\b"
    rf"{_TEAM}\b[^.!?]*"
    rf"|(?:an?|one of (?:my|our)|our) {_TEAM} will (?:review|reply|respond|get back|contact|"
    r"join|be with|follow up|look|help|take over|call|e-?mail|write)\b[^.!?]*"
    rf"|(?:all )?(?:of )?our {_TEAM} (?:are|is) (?:busy|helping other customers)\b[^.!?]*"
    r"|(?:sorry,? )?i(?:'m| am)? (?:can't|cannot|can not|(?:am |'m )?(?:not able|unable) to) "
    r"help (?:you )?with (?:that|this)(?: request| here| one| question)?"
    r")[\s,.!?:;-]*$",
    re.IGNORECASE,
)

#: "One moment" holds a conversation; it is not the number one.
_HOLD_IDIOM = re.compile(r"\b(?:one|a|just a) (?:moment|second|sec|minute)\b", re.IGNORECASE)


def _is_filler(sentence: str) -> bool:
    """Return whether a sentence of an answer makes no claim (politeness, conversation)."""
    text = sentence.strip()
    if _FILLER.match(text) or not _content_words(text):
        return True
    if _CONVERSATIONAL.match(text):
        facts = extract_facts(_HOLD_IDIOM.sub(" ", text))
        return not (facts.numbers or facts.quantities or facts.times or facts.dates)
    return False


def _policy_names(text: str) -> list[str]:
    """Return the policies named in free text (not IDs), in order of appearance."""
    out = []
    for m in _POLICY_NAME.finditer(_CITATION.sub(" ", text)):
        name = (m.group(1) or m.group(2)).strip()
        # A sentence-initial capital ("Our Refund Policy") is not part of the name.
        if _name_words(name):
            out.append(name)
    return list(dict.fromkeys(out))


_GENERIC_ROLES = frozenset({"customer", "employee", "owner"})


def _compare_facts(claim: Facts, evidence: Facts, *, supported: bool) -> list[dict[str, Any]]:
    """Return the issues of a claim's facts against its evidence's facts."""
    issues: list[dict[str, Any]] = []
    if not supported:
        issues.append({"kind": "unsupported_claim"})
    ev_units = {u for _, u in evidence.quantities}
    for value, unit in sorted(claim.quantities - evidence.quantities):
        ev_values_same_unit = {v for v, u in evidence.quantities if u == unit}
        if value in {v for v, _ in evidence.quantities} and unit not in ev_units:
            issues.append({"kind": "altered_unit", "claim": f"{value} {unit}"})
        elif ev_values_same_unit or value not in evidence.numbers:
            issues.append({"kind": "altered_number", "numbers": [value], "unit": unit})
    bare = claim.numbers - {v for v, _ in claim.quantities}
    for value in sorted(bare - evidence.numbers):
        issues.append({"kind": "altered_number", "numbers": [value]})
    changed_times = (claim.times - evidence.times) | (claim.dates - evidence.dates)
    if changed_times:
        issues.append({"kind": "altered_time", "values": sorted(changed_times)})
    for word in sorted(claim.comparators - evidence.comparators):
        if COMPARATORS[word] in evidence.comparators:
            issues.append(
                {"kind": "altered_condition", "claim": word, "evidence": COMPARATORS[word]}
            )
    if supported and claim.negated != evidence.negated:
        issues.append({"kind": "negation_mismatch", "claim_negated": claim.negated})
    roles = claim.roles - evidence.roles - _GENERIC_ROLES
    if roles:
        issues.append({"kind": "altered_role", "roles": sorted(roles)})
    return issues


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
    known = {c.doc_id for c in out.citations}
    for m in _CONTEXT_ID.finditer(_CITATION.sub(" ", answer)):
        if m.group("id").upper() not in known:
            out.citations.append(Citation(m.group("id").upper(), None, None))
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
        self._memo = VerdictMemo()

    def sentence_support(
        self, sentences: Sequence[str], chunks: Sequence[str]
    ) -> list[tuple[float, int, list[str]]]:
        """Return per sentence its support score, best chunk index and numbers no chunk holds.

        >>> index = DocumentIndex([ApprovedDocument.build("D-01", "t", "1", {"1": "a b"})])
        >>> GroundingChecker(index).sentence_support(["Refunds take 10 days."],
        ...     ["Refunds are paid within 10 business days."])[0][1:]
        (0, [])
        """
        claims = self.claim_support(sentences, chunks)
        return [(c.support, c.chunk, c.missing_numbers) for c in claims]

    def claim_support(self, claims: Sequence[str], chunks: Sequence[str]) -> list[ClaimCheck]:
        """Return, per claim, its support, the evidence sentences it rests on and what differs.

        The evidence of a claim is the chunk sentence that best supports it, joined by a second
        one when the claim combines two (its words are then covered much better).

        >>> index = DocumentIndex([ApprovedDocument.build("D-01", "t", "1", {"1": "a b"})])
        >>> c = GroundingChecker(index).claim_support(
        ...     ["Chat is open from 8 am to 8 pm."],
        ...     ["Chat support is open from 8:00 to 20:00 on weekdays."])[0]
        >>> c.issues, c.support > 0.45
        ([], True)
        """
        if not claims:
            return []
        evidence: list[tuple[int, str]] = [
            (i, s) for i, chunk in enumerate(chunks) for s in _split_sentences(chunk)
        ]
        if not evidence:
            return [
                ClaimCheck(c, 0.0, -1, [], _numbers(c), [{"kind": "unsupported_claim"}])
                for c in claims
            ]
        stripped = [_strip_refs(c) or c for c in claims]
        norm_claims = [normalize_facts(c) for c in stripped]
        norm_evidence = [normalize_facts(s) for _, s in evidence]
        sims = cosine_matrix(self.embedder_.embed(norm_claims), self.embedder_.embed(norm_evidence))
        ev_words = [_content_words(s) for s in norm_evidence]
        ev_facts = [extract_facts(s) for _, s in evidence]
        out: list[ClaimCheck] = []
        for i, claim in enumerate(stripped):
            words = _content_words(norm_claims[i])
            recalls = np.array([len(words & w) / len(words) if words else 1.0 for w in ev_words])
            blended = 0.5 * sims[i] + 0.5 * recalls
            order = np.argsort(-blended)
            best = int(order[0])
            chosen = [best]
            support = float(blended[best])
            if len(order) > 1:
                second = int(order[1])
                union = len(words & (ev_words[best] | ev_words[second])) / max(len(words), 1)
                if union >= recalls[best] + 0.15:
                    chosen.append(second)
                    support = max(
                        support, 0.5 * float(max(sims[i, best], sims[i, second])) + 0.5 * union
                    )
            facts = ev_facts[chosen[0]]
            for j in chosen[1:]:
                facts = facts.merge(ev_facts[j])
            # Quoted passages are checked verbatim elsewhere; their facts are not counted twice.
            claim_facts = extract_facts(_QUOTE.sub(" ", claim))
            issues = _compare_facts(claim_facts, facts, supported=support >= self.support_threshold)
            missing = sorted(
                {n for n in claim_facts.numbers if n not in facts.numbers}
                | {q[0] for q in claim_facts.quantities if q not in facts.quantities}
            )
            out.append(
                ClaimCheck(
                    claims[i],
                    support,
                    evidence[best][0],
                    [evidence[j][1] for j in chosen],
                    missing,
                    issues,
                )
            )
        return out

    def check(
        self,
        answer: str | bytes | None,
        chunks: Sequence[RetrievedChunk],
        *,
        subject: str = "answer",
    ) -> Verdict:
        """Return the grounding verdict of one answer given the chunks retrieved for it (the
        last verdicts are remembered: the same answer on the same chunks is judged once)."""
        key = (
            answer,
            tuple((c.doc_id, c.text, c.section, c.sha256) for c in chunks),
        )
        return self._memo.get(key, lambda: self._check(answer, chunks, subject), subject=subject)

    def _check(
        self, answer: str | bytes | None, chunks: Sequence[RetrievedChunk], subject: str
    ) -> Verdict:
        started = time.perf_counter()
        view = prepare_text(answer, max_chars=self.max_chars)
        text = view.normalized
        if not text:
            return self._verdict(
                subject, "ok", 0.0, "empty answer: nothing to check", {}, view, started
            )
        extracted = extract_answer(text)
        issues = self._citation_issues(extracted.citations, chunks)
        issues += self._named_policy_issues(text)
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
        claims = [s for s in extracted.sentences if not _is_filler(_strip_refs(s))]
        checks = self.claim_support(claims, sources)
        sentences: list[dict[str, Any]] = []
        for c in checks:
            sentences.append(
                {
                    "sentence": c.claim[:200],
                    "support": round(c.support, 3),
                    "best_chunk": c.chunk,
                    "evidence": [e[:200] for e in c.evidence],
                    "unsupported_numbers": c.missing_numbers,
                    "supported": not c.issues,
                }
            )
            for issue in c.issues:
                issues.append({**issue, "sentence": c.claim[:200], "support": round(c.support, 3)})
        kinds = sorted({i["kind"] for i in issues})
        unsupported = sum(1 for s in sentences if not s["supported"])
        share = unsupported / len(sentences) if sentences else 0.0
        decision: Decision = "drift" if set(kinds) - {"unknown_url"} else "warn" if kinds else "ok"
        reason = (
            "every claim, citation, quote and number is grounded"
            if not kinds
            else f"{len(issues)} grounding issue(s): {', '.join(kinds)}; "
            f"{unsupported}/{len(sentences)} claim(s) unsupported"
        )
        evidence = {
            "issues": issues,
            "issue_kinds": kinds,
            "sentences": sentences,
            "citations": [c.__dict__ for c in extracted.citations],
            "entities": extracted.entities,
            "n_chunks": len(chunks),
            "filler": len(extracted.sentences) - len(claims),
        }
        return self._verdict(subject, decision, share, reason, evidence, view, started)

    def _named_policy_issues(self, text: str) -> list[dict[str, Any]]:
        """Return an issue per policy named in free text that no approved document matches."""
        issues: list[dict[str, Any]] = []
        for name in _policy_names(text):
            if self.index.find_title(name) is None:
                issues.append(
                    {
                        "kind": "fabricated_citation",
                        "citation": name,
                        "detail": "no approved document has this title",
                    }
                )
        return issues

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
        started: float,
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
            method=f"citations+facts+support[{self.embedder_.name}]",
            subject=subject,
            failure_mode="hallucination_cascade",
            statistic=round(share, 4),
            threshold=self.support_threshold,
            threshold_source="fixed",
            decision=decision,
            n_current=len(evidence.get("sentences", [])),
            reason=reason,
            evidence={
                "atlas": atlas,
                **evidence,
                "notes": view.notes,
                "truncated": view.truncated,
                "ms": round((time.perf_counter() - started) * 1000, 3),
            },
        )
