"""Support questions the demo's customers and employees ask the support bot.

Most are about the policies (the bot answers them from retrieval); the rest are account
requests the bot answers from a script, greetings, and requests for a person (handed off).

Example:
    >>> questions = support_questions(200, seed=3)
    >>> len(questions), questions == support_questions(200, seed=3)
    (200, True)
    >>> 100 < sum(q in POLICY_QUESTIONS for q in questions) < 140
    True
"""

from __future__ import annotations

import random

from airsoc.errors import InputError

__all__ = ["OTHER_QUESTIONS", "POLICY_QUESTIONS", "support_questions"]

#: Questions the policy documents answer.
POLICY_QUESTIONS: tuple[str, ...] = (
    "How long do I have to ask for a refund on a monthly plan?",
    "How many days until a refund reaches my card?",
    "Is there a fee if I cancel my subscription?",
    "What happens to my data after I cancel my account?",
    "What uptime do you promise for paid plans?",
    "Do I get a service credit when uptime is below target?",
    "When is chat support open?",
    "How fast does email support answer?",
    "How long is the password reset link valid?",
    "I lost my two-factor device, how do I get my account back?",
    "How long does shipping of a security key take in the EU?",
    "What does shipping a hardware key outside the EU cost?",
    "When are invoices issued and when are they due?",
    "Is there interest on late payments?",
    "How long can I download old invoices?",
    "How many days of annual leave do full-time employees get?",
    "How many unused leave days can I carry over?",
    "How many weeks of parental leave do birth parents get?",
    "When do I need a medical certificate for sick leave?",
    "How many days per week can I work remotely?",
    "How much is the home office allowance?",
    "What is the hotel limit in capital cities?",
    "Which class do I book for a short flight?",
    "How long do I have to submit an expense claim?",
    "What is the monthly limit of a corporate card?",
    "How many quotes do I need for a large purchase?",
    "How big is the yearly learning budget?",
    "How long must a password be?",
    "How quickly must a security incident be reported?",
    "How often are access rights reviewed?",
    "How is customer data encrypted?",
    "How fast are critical vulnerabilities patched?",
    "How often are laptops replaced?",
    "How often are production databases backed up?",
    "How long are backups kept?",
    "How long are support tickets retained?",
    "Where is the list of subprocessors published?",
    "How quickly do on-call engineers acknowledge pages?",
    "What is the recovery time objective of the platform?",
    "Can I get a copy of my personal data?",
)

#: Account requests answered from a script, greetings, and requests for a person.
OTHER_QUESTIONS: tuple[str, ...] = (
    "Where do I find my invoices?",
    "How do I reset my password?",
    "Hello!",
    "Thanks, that helps.",
    "Can I talk to a human please?",
    "I'd like to speak to an agent about my order.",
)


def support_questions(n: int, *, seed: int = 0, policy_share: float = 0.6) -> list[str]:
    """Return ``n`` questions drawn with ``seed``; about ``policy_share`` of them are about
    the policies, the rest account requests, greetings and requests for a person."""
    if not 0.0 <= policy_share <= 1.0:
        raise InputError(f"policy_share must be within [0, 1], got {policy_share}")
    rng = random.Random(seed)
    return [
        rng.choice(POLICY_QUESTIONS if rng.random() < policy_share else OTHER_QUESTIONS)
        for _ in range(n)
    ]
