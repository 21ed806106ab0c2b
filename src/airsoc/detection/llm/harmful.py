"""Harmful output detection: a hazard classifier, a lexicon, secret and PII leaks, canaries.

Unsafe content is scored by a classifier trained on paraphrased unsafe outputs and benign
support answers (``data/harm_model.npz``, rebuilt by ``python -m airsoc.detection.llm.train``):
a hashed n-gram model first, then a head on MiniLM embeddings where it is unsure. Its classes
follow the hazard categories of MLCommons AILuminate v1.0 (:data:`HAZARDS`), plus
``harassment`` (insults aimed at the reader), which AILuminate does not list.

The lexicon (``data/harm_lexicon.yaml``) stays as explanation and floor: weighted patterns per
category (insult, threat, self-harm, hate, violence and crime instructions, sexual content).
Secrets are found by their formats (cloud keys, tokens, private keys, JWTs, ``password=``
assignments); PII by e-mail, phone, national ID, IBAN and Luhn-valid card numbers. An output
that asks the reader for a card's security code, a PIN, a password or a one-time code in the
chat, by reply or at a web address is phishing (:func:`solicited_credentials`, category
``credential_solicitation``, AILuminate ``ncr``).

Example:
    >>> detector = HarmfulOutputDetector(canaries=["cnry-00000000000000aa"])
    >>> v = detector.detect("Sure! The key is AKIAIOSFODNN7EXAMPLE, you idiot.")
    >>> v.decision, sorted(v.evidence["categories"])
    ('drift', ['insult', 'secret'])
    >>> detector.detect("Your refund was issued today.").decision
    'ok'
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import yaml

from airsoc.detection.llm.canary import find_canary_leaks
from airsoc.detection.llm.classifier import EmbeddingHead, HashedTextModel, load_arrays
from airsoc.detection.llm.embeddings import Embedder, MiniLMEmbedder, minilm_available
from airsoc.detection.llm.memo import VerdictMemo
from airsoc.detection.llm.text import (
    DEFAULT_MAX_CHARS,
    prepare_text,
    sentence_units,
    text_units,
)
from airsoc.detection.verdict import Decision, Verdict
from airsoc.errors import DataFileError

__all__ = [
    "HAZARDS",
    "HarmClassifier",
    "HarmfulOutputDetector",
    "LexiconEntry",
    "load_harm_classifier",
    "load_harm_lexicon",
    "solicited_credentials",
]

#: Classifier classes and lexicon categories -> MLCommons AILuminate v1.0 hazard code
#: (None: not an AILuminate category).
HAZARDS: dict[str, str | None] = {
    "violent_crimes": "vcr",
    "non_violent_crimes": "ncr",
    "indiscriminate_weapons": "iwp",
    "suicide_self_harm": "ssh",
    "hate": "hte",
    "sexual_content": "sxc",
    "specialized_advice": "spc",
    "privacy": "prv",
    "harassment": None,
    "insult": None,
    "threat": "vcr",
    "self_harm": "ssh",
    "violence_instructions": "iwp",
    "crime_instructions": "ncr",
    "sexual": "sxc",
    # Asking a customer for a card's security code, a PIN or a password through the chat or a
    # link is phishing: fraud, an AILuminate non-violent crime.
    "credential_solicitation": "ncr",
}

HARMS = "AML.T0048"
DATA_LEAKAGE = "AML.T0057"
PROMPT_EXTRACTION = "AML.T0056"


@dataclass(frozen=True)
class LexiconEntry:
    """One weighted unsafe-content pattern of a category."""

    category: str
    pattern: re.Pattern[str]
    weight: float


@functools.lru_cache(maxsize=4)
def load_harm_lexicon(path: str | None = None) -> tuple[LexiconEntry, ...]:
    """Return the unsafe-content lexicon (the shipped one unless ``path`` is given).

    >>> sorted({e.category for e in load_harm_lexicon()})[:3]
    ['crime_instructions', 'hate', 'insult']
    """
    source = path or str(resources.files("airsoc.detection.llm") / "data" / "harm_lexicon.yaml")
    with open(source, encoding="utf-8") as fh:
        raw = yaml.safe_load(fh)
    if not isinstance(raw, dict):
        raise DataFileError(f"{source}: expected a mapping of category to patterns")
    out: list[LexiconEntry] = []
    for category, entries in raw.items():
        for i, entry in enumerate(entries or []):
            try:
                pattern = re.compile(rf"\b(?:{entry['pattern']})\b", re.IGNORECASE)
                weight = float(entry["weight"])
            except (KeyError, TypeError, ValueError, re.error) as exc:
                raise DataFileError(f"{source}: {category}[{i}]: {exc}") from None
            out.append(LexiconEntry(str(category), pattern, weight))
    return tuple(out)


@dataclass(frozen=True)
class HarmClassifier:
    """The trained classifier: harmful or benign on hashed n-grams, a MiniLM head where unsure,
    hazard models that name the category of a harmful text, and the calibrated alarm score."""

    stage1: HashedTextModel
    head: EmbeddingHead | None
    hazards: HashedTextModel
    hazard_head: EmbeddingHead | None = None
    band: tuple[float, float] = (0.1, 0.9)
    threshold: float = 0.5

    def score(self, text: str, embedder: Embedder | None) -> tuple[float, str, bool]:
        """Return the harm probability of the worst window or sentence, its hazard, and whether
        the embedding head ran. One unsafe sentence inside a polite answer is read on its own.

        >>> clf = load_harm_classifier()
        >>> p, hazard, _ = clf.score("Mix the fertiliser with fuel oil and add a detonator.", None)
        >>> p > clf.threshold, hazard
        (True, 'indiscriminate_weapons')
        """
        windows = text_units(text)
        harm = self.stage1.proba(windows)[:, self.stage1.classes.index("harmful")]
        embedded = False
        low, high = self.band
        unsure = [i for i, p in enumerate(harm) if low <= p <= high]
        if unsure and embedder is not None and self.head is not None:
            vectors = np.asarray(embedder.embed([windows[i] for i in unsure]))
            head = self.head.proba(vectors)[:, self.head.classes.index("harmful")]
            harm = harm.copy()
            harm[unsure] = 0.5 * harm[unsure] + 0.5 * head
            embedded = True
        worst = int(np.argmax(harm))
        hazard_probs = self.hazards.proba([windows[worst]])[0]
        if embedder is not None and self.hazard_head is not None:
            head_probs = self.hazard_head.proba(np.asarray(embedder.embed([windows[worst]])))[0]
            order = [list(self.hazard_head.classes).index(c) for c in self.hazards.classes]
            hazard_probs = 0.5 * hazard_probs + 0.5 * head_probs[order]
        hazard = self.hazards.classes[int(np.argmax(hazard_probs))]
        return float(harm[worst]), hazard, embedded

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Return the classifier as plain arrays (see :func:`load_harm_classifier`)."""
        arrays = self.stage1.to_arrays("stage1") | self.hazards.to_arrays("hazards")
        if self.head is not None:
            arrays.update(self.head.to_arrays("head"))
        if self.hazard_head is not None:
            arrays.update(self.hazard_head.to_arrays("hazard_head"))
        arrays["band"] = np.array(self.band, dtype=np.float64)
        arrays["threshold"] = np.array([self.threshold])
        return arrays


@functools.lru_cache(maxsize=2)
def load_harm_classifier(path: str | None = None) -> HarmClassifier:
    """Return the hazard classifier in ``path`` (default: the shipped one).

    >>> load_harm_classifier().stage1.classes
    ('benign', 'harmful')
    """
    source = path or str(resources.files("airsoc.detection.llm") / "data" / "harm_model.npz")
    arrays = load_arrays(source)
    head = EmbeddingHead.from_arrays(arrays, "head") if "head.coef" in arrays else None
    hazard_head = (
        EmbeddingHead.from_arrays(arrays, "hazard_head") if "hazard_head.coef" in arrays else None
    )
    band = arrays.get("band", np.array([0.1, 0.9]))
    return HarmClassifier(
        HashedTextModel.from_arrays(arrays, "stage1"),
        head,
        HashedTextModel.from_arrays(arrays, "hazards"),
        hazard_head,
        (float(band[0]), float(band[1])),
        float(arrays.get("threshold", np.array([0.5]))[0]),
    )


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_SECRETS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("aws_access_key", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("private_key", re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH |DSA )?PRIVATE KEY-----")),
    ("github_token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b")),
    ("slack_token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b")),
    ("api_key", re.compile(r"\b(?:sk|pk|rk)[-_](?:live|test|proj)?[-_]?[A-Za-z0-9]{20,}\b")),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b")),
    (
        "credential_assignment",
        re.compile(
            r"\b(?:password|passwd|pwd|secret|api[_-]?key|access[_-]?token)\s*[:=]\s*"
            r"['\"]?[^\s'\"]{6,}",
            re.IGNORECASE,
        ),
    ),
)
_PII: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")),
    ("phone", re.compile(r"(?<!\w)\+?\d{1,3}[\s.-]?\(?\d{2,4}\)?[\s.-]\d{3,4}[\s.-]\d{3,4}\b")),
    ("us_ssn", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    ("iban", re.compile(r"\b[A-Z]{2}\d{2}(?:\s?[A-Z0-9]{4}){3,7}\b")),
)
_CARD = re.compile(r"\b(?:\d[ -]?){13,19}\b")

#: A request for a secret credential: a verb asking for it, then the customer's own secret.
_ASK_CREDENTIAL = re.compile(
    r"\b(?:confirm|enter|provide|send|share|give|type|verify|submit|re-?enter|update|tell"
    r"|reply with|read out|write)\b(?:\s+(?:us|me|the bot|the assistant))?\s+(?:with\s+)?"
    r"(?:your|the customer's|their)\s+(?:full\s+|complete\s+|current\s+)?"
    r"(?:(?:online banking|bank|banking|account|login|e-?mail|app)\s+)?"
    r"(?:(?:credit |debit |bank )?card(?:'s)? (?:number|details|security code|pin)"
    r"|security code|cvv2?|cvc|card verification (?:code|value)|pin(?: code| number)?"
    r"|password|passcode|one[- ]time (?:code|password|passcode)|otp|2fa code"
    r"|verification code|login (?:details|credentials)|online banking (?:details|credentials)"
    r"|(?:seed|recovery) phrase)\b",
    re.IGNORECASE,
)
#: Where the request sends the secret: into the conversation, to the sender, by reply or mail,
#: or to a web address. "Enter your password on the login page" names none of these.
_TO_SOMEWHERE = re.compile(
    r"\b(?:here|in (?:this|the) (?:chat|conversation|reply|message)|to (?:us|me|this (?:chat|bot))"
    r"|by (?:e-?mail|reply|text|sms|phone)|via (?:e-?mail|reply|this link|the link|link)"
    r"|reply|at https?://\S+|at (?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b"
    r"|on (?:https?://\S+|(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:example|com|net|org|info|io"
    r"|co|biz|xyz|top|site|online)\b))",
    re.IGNORECASE,
)
#: A warning about such requests ("if anyone asks you to ..., it is a scam") is not one.
_WARNING = re.compile(
    r"\b(?:if (?:anyone|someone|somebody|a caller|an? \w+)|asks? you to|scam\w*|phish\w*"
    r"|fraud\w*|suspicious)\b",
    re.IGNORECASE,
)
#: Nor is advice not to share a secret ("never share your PIN", "do not type your password
#: here"): a negation just before the request, unless it is a threat's condition ("if you do
#: not confirm your PIN here, ...").
_NEGATION = re.compile(r"(?:\b(?:never|not|no one|nobody|avoid)\b|n't\b)", re.IGNORECASE)
_CONDITION = re.compile(r"\b(?:if you (?:do not|don't)|unless you)\b", re.IGNORECASE)


def solicited_credentials(text: str) -> list[str]:
    """Return the sentences of ``text`` that ask the reader for a secret credential (a card's
    security code, a PIN, a password, a one-time code) to be given in the conversation, by
    reply or mail, or at a web address: what a phishing page, or a bot steered by an injected
    instruction, says. Warnings not to share them are not requests.

    >>> solicited_credentials("Your refund is approved. Please confirm your card number and "
    ...                       "security code at refund-release.example.")
    ['Please confirm your card number and security code at refund-release.example.']
    >>> solicited_credentials("We will never ask you to send your password by e-mail. "
    ...                       "Enter your password on the sign-in page. If someone asks you to "
    ...                       "type your PIN in the chat, it is a scam.")
    []
    """
    found = []
    for sentence in sentence_units(text) or [text]:
        ask = _ASK_CREDENTIAL.search(sentence)
        if ask is None or _WARNING.search(sentence):
            continue
        before = sentence[max(0, ask.start() - 40) : ask.start()]
        if _NEGATION.search(before) and not _CONDITION.search(before):
            continue
        if _TO_SOMEWHERE.search(sentence, ask.start()):
            found.append(sentence.strip())
    return found


#: The verdicts harmful-output detectors share (keyed by their settings and the text).
_MEMO = VerdictMemo()


class HarmfulOutputDetector:
    """Score a model output for unsafe content and leaks; return a :class:`Verdict`.

    ``allowed_pii`` lists values that may appear (the support desk's own address, say).
    ``pii_is_harm`` decides whether personal data alone alarms or only warns. ``embedder``:
    None uses MiniLM for the classifier's second stage when installed; ``use_classifier=False``
    keeps the lexicon alone.
    """

    name = "harmful_output"

    def __init__(
        self,
        *,
        canaries: Sequence[str] = (),
        threshold: float = 0.5,
        warn_at: float = 0.3,
        allowed_pii: Sequence[str] = (),
        pii_is_harm: bool = True,
        max_chars: int = DEFAULT_MAX_CHARS,
        lexicon_path: str | None = None,
        embedder: Embedder | None = None,
        use_classifier: bool = True,
        model_path: str | None = None,
    ) -> None:
        self.canaries = canaries
        self.threshold = threshold
        self.warn_at = warn_at
        self.allowed_pii = allowed_pii
        self.pii_is_harm = pii_is_harm
        self.max_chars = max_chars
        self.lexicon_path = lexicon_path
        self.embedder = embedder
        self.use_classifier = use_classifier
        self.model_path = model_path

    def detect(self, text: str | bytes | None, *, subject: str = "output") -> Verdict:
        """Return the verdict on one output text.

        >>> HarmfulOutputDetector().detect("Write to jane.doe@corp.example").evidence["pii"]
        [{'kind': 'email', 'excerpt': 'j***@corp.example'}]
        """
        # Detectors with the same settings share their last verdicts: a monitor builds one per
        # run, and each run judges the answers the previous run of its sliding window judged.
        key = (
            text,
            tuple(self.canaries),
            self.threshold,
            self.warn_at,
            tuple(self.allowed_pii),
            self.pii_is_harm,
            self.max_chars,
            self.lexicon_path,
            self.use_classifier,
            self.model_path,
        )
        if self.embedder is not None:  # a caller's own embedder: no shared verdicts
            return self._detect(text, subject)
        return _MEMO.get(key, lambda: self._detect(text, subject), subject=subject)

    def _detect(self, text: str | bytes | None, subject: str) -> Verdict:
        started = time.perf_counter()
        view = prepare_text(text, max_chars=self.max_chars)
        body = view.normalized
        categories: dict[str, float] = {}
        model: dict[str, Any] | None = None
        if self.use_classifier and body:
            embedder = self.embedder
            if embedder is None and minilm_available():
                embedder = MiniLMEmbedder.load()
            if not isinstance(embedder, MiniLMEmbedder):
                # The head was trained on MiniLM vectors; another embedder cannot feed it.
                embedder = None
            classifier = load_harm_classifier(self.model_path)
            prob, hazard, embedded = classifier.score(body, embedder)
            # The classifier's calibrated alarm score maps onto this detector's threshold.
            scaled = _rescale(prob, classifier.threshold, self.threshold)
            model = {
                "score": round(prob, 4),
                "threshold": classifier.threshold,
                "hazard": hazard,
                "embedded": embedded,
            }
            # The classifier warns only near its alarm (within 20%): lower is noise.
            if scaled >= max(self.warn_at, 0.8 * self.threshold):
                categories[hazard] = scaled
        content: list[dict[str, Any]] = []
        for entry in load_harm_lexicon(self.lexicon_path):
            for t in (body, *view.variants[1:]):
                match = entry.pattern.search(t)
                if match:
                    prev = categories.get(entry.category, 0.0)
                    categories[entry.category] = 1 - (1 - prev) * (1 - entry.weight)
                    content.append({"category": entry.category, "excerpt": match.group(0)[:120]})
                    break
        for sentence in solicited_credentials(body)[:3]:
            categories["credential_solicitation"] = 0.9
            content.append({"category": "credential_solicitation", "excerpt": sentence[:120]})
        secrets = [
            {"kind": kind, "excerpt": _redact(m.group(0))}
            for kind, rx in _SECRETS
            for m in rx.finditer(body)
        ]
        pii = self._pii(body)
        leaks = find_canary_leaks(body, self.canaries)
        if secrets:
            categories["secret"] = 0.95
        if pii:
            categories["pii"] = 0.6 if self.pii_is_harm else 0.35
        if leaks:
            categories["canary"] = 1.0
        score = max(categories.values(), default=0.0)
        decision: Decision = (
            "drift" if score >= self.threshold else "warn" if score >= self.warn_at else "ok"
        )
        atlas: list[str] = []
        if decision != "ok":
            if content or (model and model["hazard"] in categories):
                atlas.append(HARMS)
            if secrets or pii:
                atlas.append(DATA_LEAKAGE)
            if leaks:
                atlas.append(PROMPT_EXTRACTION)
        if not body:
            reason = "empty text: nothing to scan"
        elif decision == "ok":
            reason = "no unsafe content, secret, personal data or canary found"
        else:
            top = sorted(categories.items(), key=lambda kv: -kv[1])
            reason = "unsafe output: " + ", ".join(f"{k} {v:.2f}" for k, v in top)
        if view.notes:
            reason += f" ({'; '.join(view.notes)})"
        return Verdict(
            detector=self.name,
            method="classifier+lexicon+patterns" if model else "lexicon+patterns",
            subject=subject,
            failure_mode="harmful_output",
            statistic=round(score, 4),
            threshold=self.threshold,
            threshold_source="fixed",
            decision=decision,
            n_current=view.original_length,
            reason=reason,
            evidence={
                "atlas": atlas,
                "categories": {k: round(v, 4) for k, v in categories.items()},
                "hazards": sorted({h for k in categories if (h := HAZARDS.get(k))}),
                "classifier": model,
                "content": content,
                "secrets": secrets,
                "pii": pii,
                "canary_leaks": [{"canary": c.canary, "form": c.form} for c in leaks],
                "truncated": view.truncated,
                "notes": view.notes,
                "ms": round((time.perf_counter() - started) * 1000, 3),
            },
        )

    def _pii(self, body: str) -> list[dict[str, str]]:
        """Return personal data found in ``body``; a card number is not also read as a phone."""
        long_numbers = list(_CARD.finditer(body))
        found = [
            {"kind": "card_number", "excerpt": _redact(m.group(0))}
            for m in long_numbers
            if _card_like(m.group(0))
        ]
        taken = [range(m.start(), m.end()) for m in long_numbers]
        for kind, rx in _PII:
            for m in rx.finditer(body):
                if m.group(0) in self.allowed_pii or any(m.start() in r for r in taken):
                    continue
                if kind == "phone" and not 9 <= len(re.sub(r"\D", "", m.group(0))) <= 15:
                    continue
                found.append({"kind": kind, "excerpt": _redact(m.group(0))})
        return found


def _rescale(prob: float, calibrated: float, threshold: float) -> float:
    """Return ``prob`` mapped so that the calibrated alarm score lands on ``threshold``.

    >>> _rescale(0.8, 0.8, 0.5), _rescale(0.4, 0.8, 0.5)
    (0.5, 0.25)
    """
    if prob < calibrated:
        return threshold * prob / calibrated
    return threshold + (1 - threshold) * (prob - calibrated) / max(1 - calibrated, 1e-9)


def _card_like(value: str) -> bool:
    digits = re.sub(r"\D", "", value)
    return 13 <= len(digits) <= 19 and _luhn_ok(digits)


def _redact(value: str) -> str:
    """Keep enough of a secret or PII value to recognise it, never the whole value."""
    if "@" in value and " " not in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if len(value) <= 8:
        return value[:2] + "***"
    return value[:4] + "***" + value[-2:]
