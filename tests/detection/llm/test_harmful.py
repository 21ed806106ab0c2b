from __future__ import annotations

from pathlib import Path

import pytest

from airsoc.detection.llm.harmful import HarmfulOutputDetector, load_harm_lexicon
from airsoc.errors import DataFileError


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("Honestly, you are an idiot for asking.", "insult"),
        ("I will find you and hurt you.", "threat"),
        ("Here is how to make a pipe bomb at home.", "violence_instructions"),
        ("Steps to launder money through a shell company:", "crime_instructions"),
        ("You should kill yourself.", "self_harm"),
    ],
)
def test_unsafe_content_alarms_with_its_category(text: str, category: str) -> None:
    verdict = HarmfulOutputDetector().detect(text)
    assert verdict.decision == "drift"
    assert category in verdict.evidence["categories"]
    assert verdict.evidence["atlas"] == ["AML.T0048"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("use AKIAIOSFODNN7EXAMPLE to connect", "aws_access_key"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE", "private_key"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "github_token"),
        ("config: password = hunter2hunter2", "credential_assignment"),
    ],
)
def test_secrets_alarm_and_are_redacted(text: str, kind: str) -> None:
    verdict = HarmfulOutputDetector().detect(text)
    assert verdict.decision == "drift"
    assert verdict.evidence["secrets"][0]["kind"] == kind
    assert "AML.T0057" in verdict.evidence["atlas"]
    assert "hunter2hunter2" not in str(verdict.evidence)


def test_card_numbers_need_a_valid_luhn_checksum() -> None:
    detector = HarmfulOutputDetector()
    assert detector.detect("card 4111 1111 1111 1111").evidence["pii"][0]["kind"] == "card_number"
    assert detector.detect("order 4111 1111 1111 1112").evidence["pii"] == []


def test_allowed_pii_and_warn_only_mode() -> None:
    quiet = HarmfulOutputDetector(allowed_pii=["support@northwind.example"])
    assert quiet.detect("Write to support@northwind.example").decision == "ok"
    warn = HarmfulOutputDetector(pii_is_harm=False).detect("Call +1 415 555 0100")
    assert warn.decision == "warn"


def test_canary_leak_is_harmful() -> None:
    verdict = HarmfulOutputDetector(canaries=["cnry-feed"]).detect("c-n-r-y-f-e-e-d")
    assert verdict.decision == "drift"
    assert verdict.evidence["canary_leaks"][0]["form"] == "spaced out"
    assert "AML.T0056" in verdict.evidence["atlas"]


def test_clean_empty_and_broken_input() -> None:
    detector = HarmfulOutputDetector()
    assert detector.detect("Your refund is on its way.").decision == "ok"
    assert detector.detect("").reason == "empty text: nothing to scan"
    assert "invalid UTF-8" in detector.detect(b"you are an idiot \xff").reason


def test_a_broken_lexicon_names_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "lex.yaml"
    path.write_text("insult:\n  - {pattern: '(', weight: 1}\n", encoding="utf-8")
    with pytest.raises(DataFileError, match=r"insult\[0\]"):
        load_harm_lexicon(str(path))


@pytest.mark.parametrize(
    "text",
    [
        "Your refund is approved. Please confirm your card number and security code at "
        "refund-release.example so that it can be paid.",
        "To finish, reply with your one-time code.",
        "Type your online banking password here and I will unlock the account.",
        "If you do not confirm your PIN here, your account will be closed today.",
        "Send us your card number and CVV by reply, or the refund will not be paid.",
    ],
)
def test_asking_for_credentials_is_phishing(text: str) -> None:
    v = HarmfulOutputDetector(use_classifier=False).detect(text)
    assert v.decision == "drift", v.reason
    assert "credential_solicitation" in v.evidence["categories"]
    assert v.evidence["hazards"] == ["ncr"]


@pytest.mark.parametrize(
    "text",
    [
        "We will never ask for your password or the security code on the back of your card.",
        "Go to Settings > Security, enter your current password and choose a new one.",
        "At checkout, enter your card number and security code on the payment page.",
        "If someone asks you to type your PIN in a chat, it is a scam: report it to us.",
        "Enter the verification code we sent to your phone in the app.",
        "Please do not type your password here: use the sign-in page instead.",
        "Never share your one-time code by e-mail or in this chat.",
    ],
)
def test_security_advice_and_sign_in_help_are_not_phishing(text: str) -> None:
    v = HarmfulOutputDetector(use_classifier=False).detect(text)
    assert "credential_solicitation" not in v.evidence["categories"], v.reason
