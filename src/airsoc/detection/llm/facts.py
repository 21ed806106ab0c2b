"""Facts in a sentence, normalised so that a paraphrase and its source compare equal.

:func:`normalize_facts` rewrites numbers written as words into digits ("four hours" -> "4
hours"), clock times into 24-hour ``HH:MM`` ("8 am" -> "08:00", "8 pm" -> "20:00"), dates into
``--MM-DD`` ("31 March", "March 31st" -> "--03-31", ISO 8601 without a year) and unit
spellings into one form ("wks" -> "week", "%" -> "percent", "€" -> "euro").
:func:`extract_facts` then returns what a claim asserts: quantities with their units, times,
dates, comparison words, negation and the roles (actors) it names.

Example:
    >>> f = extract_facts("Chat is open from 8 am to 8 pm, within four hours.")
    >>> sorted(f.times), sorted(f.quantities)
    (['08:00', '20:00'], [('4', 'hour')])
    >>> extract_facts("Leave is not approved by the finance team.").negated
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["COMPARATORS", "ROLES", "Facts", "extract_facts", "normalize_facts"]

_UNITS = {
    "second": "second",
    "seconds": "second",
    "sec": "second",
    "secs": "second",
    "minute": "minute",
    "minutes": "minute",
    "min": "minute",
    "mins": "minute",
    "hour": "hour",
    "hours": "hour",
    "hr": "hour",
    "hrs": "hour",
    "h": "hour",
    "day": "day",
    "days": "day",
    "week": "week",
    "weeks": "week",
    "wk": "week",
    "wks": "week",
    "month": "month",
    "months": "month",
    "year": "year",
    "years": "year",
    "yr": "year",
    "yrs": "year",
    "percent": "percent",
    "per cent": "percent",
    "%": "percent",
    "euro": "euro",
    "euros": "euro",
    "eur": "euro",
    "€": "euro",
    "dollar": "dollar",
    "dollars": "dollar",
    "usd": "dollar",
    "$": "dollar",
    "character": "character",
    "characters": "character",
    "chars": "character",
    "gb": "gigabyte",
    "gigabytes": "gigabyte",
    "mb": "megabyte",
    "megabytes": "megabyte",
    "tb": "terabyte",
    "employee": "employee",
    "employees": "employee",
    "user": "user",
    "users": "user",
    "seat": "seat",
    "seats": "seat",
    "device": "device",
    "devices": "device",
    "attempt": "attempt",
    "attempts": "attempt",
}
_ONES = {
    "zero": 0,
    "one": 1,
    "a single": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        (
            "january",
            "february",
            "march",
            "april",
            "may",
            "june",
            "july",
            "august",
            "september",
            "october",
            "november",
            "december",
        )
    )
}
_MONTHS.update({k[:3]: v for k, v in list(_MONTHS.items())})
_MONTHS["sept"] = 9

#: Comparison words and their opposites: a claim that says one where the evidence says the
#: other has changed a condition.
COMPARATORS: dict[str, str] = {
    "shorter": "longer",
    "longer": "shorter",
    "more": "less",
    "less": "more",
    "fewer": "more",
    "before": "after",
    "after": "before",
    "earlier": "later",
    "later": "earlier",
    "higher": "lower",
    "lower": "higher",
    "above": "below",
    "below": "above",
    "minimum": "maximum",
    "maximum": "minimum",
    "at least": "at most",
    "at most": "at least",
    "up to": "at least",
    "increase": "decrease",
    "decrease": "increase",
    "increases": "decreases",
    "decreases": "increases",
    "rises": "falls",
    "falls": "rises",
    "over": "under",
    "under": "over",
    "exceeds": "below",
    "mandatory": "optional",
    "optional": "mandatory",
    "required": "optional",
    "allowed": "forbidden",
    "forbidden": "allowed",
    "prohibited": "allowed",
    "permitted": "forbidden",
    "full": "partial",
    "partial": "full",
    "paid": "unpaid",
    "unpaid": "paid",
}
#: Actors a policy names; compared between a claim and its evidence.
ROLES: tuple[str, ...] = (
    "line manager",
    "department head",
    "head of department",
    "finance team",
    "finance department",
    "security team",
    "it team",
    "it department",
    "it helpdesk",
    "help desk",
    "helpdesk",
    "hr",
    "human resources",
    "people team",
    "legal team",
    "legal",
    "compliance",
    "ceo",
    "cfo",
    "cto",
    "board",
    "director",
    "supervisor",
    "manager",
    "team lead",
    "support staff",
    "support team",
    "account owner",
    "administrator",
    "admin",
    "customer",
    "employee",
    "contractor",
    "vendor",
    "data protection officer",
    "dpo",
    "auditor",
    "owner",
    "procurement",
)
_ROLE_ALIASES = {
    "head of department": "department head",
    "finance department": "finance team",
    "human resources": "hr",
    "people team": "hr",
    "it department": "it team",
    "it helpdesk": "help desk",
    "helpdesk": "help desk",
    "administrator": "admin",
    "legal team": "legal",
    "dpo": "data protection officer",
    "support team": "support staff",
}
_NEGATION = re.compile(
    r"\b(?:not|never|no|none|cannot|can't|won't|isn't|aren't|doesn't|don't|didn't|wasn't|"
    r"weren't|without|nor|neither|nobody|nothing)\b|n't\b",
    re.IGNORECASE,
)
_WORDNUM = re.compile(
    r"\b(?:(?P<tens>"
    + "|".join(_TENS)
    + r")(?:[\s-](?P<tone>"
    + "|".join(k for k in _ONES if " " not in k)
    + r"))?|(?P<one>"
    + "|".join(sorted(_ONES, key=len, reverse=True))
    + r"))(?P<hundred>\s+hundred)?\b",
    re.IGNORECASE,
)
_HALF = re.compile(r"\b(?:half an? hour|half-hour)\b", re.IGNORECASE)
_A_UNIT = re.compile(
    r"\b(?:a|an|one|per|each|every)\s+(second|minute|hour|day|week|month|year)\b", re.IGNORECASE
)
_TIME_AMPM = re.compile(
    r"\b(\d{1,2})(?:[:.](\d{2}))?\s*(a\.?m\.?|p\.?m\.?)(?![a-z])", re.IGNORECASE
)
_TIME_24 = re.compile(r"\b([01]?\d|2[0-4])[:.h]([0-5]\d)\b(?!\s*(?:percent|%))")
_NOON = re.compile(r"\b(noon|midday|midnight)\b", re.IGNORECASE)
_DATE_DM = re.compile(
    r"\b(\d{1,2})(?:st|nd|rd|th)?(?:\s+of)?\s+(" + "|".join(_MONTHS) + r")\b", re.IGNORECASE
)
_DATE_MD = re.compile(
    r"\b(" + "|".join(_MONTHS) + r")\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b", re.IGNORECASE
)
_UNIT_ALT = "|".join(
    re.escape(u) for u in sorted((u for u in _UNITS if u not in ("$", "€", "%")), key=len)[::-1]
)
_QUANTITY = re.compile(
    r"(?P<cur>[$€])?\s?(?P<num>\d+(?:[.,]\d+)?)\s*(?P<unit>%|(?:(?:business|working|calendar|"
    rf"consecutive|full)\s+)?(?:{_UNIT_ALT})\b)?",
    re.IGNORECASE,
)
_ORDINAL = re.compile(r"\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)\b")
_ORDINALS = {
    w: str(i + 1)
    for i, w in enumerate(
        ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
    )
}
_ORDINALS["tenth"] = "10"


def _wordnum(match: re.Match[str]) -> str:
    if match.group("one"):
        value = _ONES[match.group("one").lower()]
    else:
        value = _TENS[match.group("tens").lower()]
        if match.group("tone"):
            value += _ONES[match.group("tone").lower()]
    if match.group("hundred"):
        value *= 100
    return str(value)


def _ampm(match: re.Match[str]) -> str:
    hour = int(match.group(1)) % 12
    if match.group(3).lower().startswith("p"):
        hour += 12
    return f"{hour:02d}:{int(match.group(2) or 0):02d}"


def normalize_facts(text: str) -> str:
    """Return ``text`` with numbers, times, dates and units in one canonical form.

    >>> normalize_facts("Open 8 am-8 pm, twenty-eight days, half an hour, 31st of March.")
    'Open 08:00-20:00, 28 days, 30 minutes, --03-31.'
    >>> normalize_facts("from 8:00 to 20.00 on March 5th")
    'from 08:00 to 20:00 on --03-05'
    """
    out = _HALF.sub("30 minutes", text)
    out = _NOON.sub(lambda m: "00:00" if m.group(1).lower() == "midnight" else "12:00", out)
    out = _WORDNUM.sub(_wordnum, out)
    out = _A_UNIT.sub(lambda m: f"1 {m.group(1)}", out)
    out = _TIME_AMPM.sub(_ampm, out)
    out = _TIME_24.sub(lambda m: f"{int(m.group(1)):02d}:{m.group(2)}", out)
    out = _DATE_DM.sub(lambda m: f"--{_MONTHS[m.group(2).lower()]:02d}-{int(m.group(1)):02d}", out)
    out = _DATE_MD.sub(lambda m: f"--{_MONTHS[m.group(1).lower()]:02d}-{int(m.group(2)):02d}", out)
    return out


@dataclass
class Facts:
    """What one sentence asserts, normalised."""

    quantities: set[tuple[str, str]] = field(default_factory=set)
    numbers: set[str] = field(default_factory=set)
    times: set[str] = field(default_factory=set)
    dates: set[str] = field(default_factory=set)
    comparators: set[str] = field(default_factory=set)
    roles: set[str] = field(default_factory=set)
    negated: bool = False

    def merge(self, other: Facts) -> Facts:
        """Return the union of two sets of facts (evidence spread over two sentences).

        >>> a = extract_facts("5 days"); b = extract_facts("2 weeks")
        >>> sorted(a.merge(b).quantities)
        [('2', 'week'), ('5', 'day')]
        """
        return Facts(
            self.quantities | other.quantities,
            self.numbers | other.numbers,
            self.times | other.times,
            self.dates | other.dates,
            self.comparators | other.comparators,
            self.roles | other.roles,
            self.negated or other.negated,
        )


def _number(raw: str) -> str:
    value = raw.replace(",", ".") if raw.count(",") == 1 and len(raw.split(",")[1]) != 3 else raw
    value = value.replace(",", "")
    try:
        number = float(value)
    except ValueError:
        return raw
    return str(int(number)) if number.is_integer() else str(number)


def extract_facts(text: str) -> Facts:
    """Return the :class:`Facts` of one sentence (normalised first).

    >>> f = extract_facts("Requests are approved by the department head at least 2 weeks ahead.")
    >>> sorted(f.roles), sorted(f.comparators), sorted(f.quantities)
    (['department head'], ['at least'], [('2', 'week')])
    """
    norm = normalize_facts(text)
    lower = norm.lower()
    facts = Facts()
    facts.times = set(re.findall(r"\b\d{2}:\d{2}\b", norm))
    facts.dates = set(re.findall(r"--\d{2}-\d{2}\b", norm))
    stripped = re.sub(r"\b\d{2}:\d{2}\b|--\d{2}-\d{2}\b", " ", norm)
    stripped = _ORDINAL.sub(lambda m: _ORDINALS[m.group(1)] + " ", stripped.lower())
    for m in _QUANTITY.finditer(stripped):
        value = _number(m.group("num"))
        facts.numbers.add(value)
        unit = m.group("unit")
        if m.group("cur"):
            facts.quantities.add((value, _UNITS[m.group("cur")]))
        elif unit:
            words = unit.lower().split()
            facts.quantities.add((value, _UNITS.get(words[-1], words[-1])))
    for word in sorted(COMPARATORS, key=len, reverse=True):
        if re.search(rf"\b{re.escape(word)}\b", lower):
            facts.comparators.add(word)
    roles_text = lower
    for role in ROLES:
        if re.search(rf"\b{re.escape(role)}s?\b", roles_text):
            facts.roles.add(_ROLE_ALIASES.get(role, role))
            roles_text = re.sub(rf"\b{re.escape(role)}s?\b", " ", roles_text)
    facts.negated = bool(_NEGATION.search(lower))
    return facts
