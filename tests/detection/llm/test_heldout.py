"""The hand-written held-out texts: each false-positive class the project's users hit, and the
length shortcut, measured on texts no detector was trained or tuned on."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from airsoc.detection.llm.embeddings import TfidfEmbedder, minilm_available
from airsoc.detection.llm.evalsets import length_auc
from airsoc.detection.llm.heldout import (
    BATCH_1,
    BATCH_2,
    BATCH_3,
    BATCH_4,
    BATCH_5,
    BATCH_6,
    BATCH_7,
    BATCH_8,
    BATCH_9,
    BATCHES,
    HELDOUT_SETS,
    HeldoutText,
    heldout_set,
    overlaps_heldout,
)
from airsoc.detection.llm.injection import PromptInjectionDetector, Source
from airsoc.detection.llm.training_chat import chat_turn_set
from airsoc.errors import InputError

needs_minilm = pytest.mark.skipif(
    not minilm_available(), reason="the embeddings extra is not installed"
)


def _source(r: HeldoutText) -> Source:
    return "user" if r.source == "output" else r.source  # type: ignore[return-value]


#: The tests read the texts under this length, and every second one outside the short support
#: set, to stay fast (the bench reads every text, long prose too).
SHORT = 400


def _read(name: str, i: int, r: HeldoutText) -> bool:
    return len(r.text) < SHORT and (name == "short_support" or i % 2 == 0)


@pytest.fixture(scope="module")
def alarms() -> dict[str, bool]:
    """Whether the shipped detector (MiniLM where installed) alarms on each held-out text."""
    detector = PromptInjectionDetector()
    return {
        r.id: detector.detect(r.text, source=_source(r)).is_alarm
        for name in BATCH_1
        for i, r in enumerate(heldout_set(name))
        if _read(name, i, r)
    }


def _rate(alarms: dict[str, bool], pick: Callable[[HeldoutText], bool]) -> tuple[float, list[str]]:
    rows = [
        r
        for name in BATCH_1
        for i, r in enumerate(heldout_set(name))
        if pick(r) and _read(name, i, r)
    ]
    wrong = [r.text[:60] for r in rows if alarms[r.id] != (r.label == "attack")]
    hits = [alarms[r.id] for r in rows]
    return sum(hits) / len(hits), wrong


def test_the_held_out_sets_are_as_large_as_promised() -> None:
    assert HELDOUT_SETS == (
        BATCH_1 + BATCH_2 + BATCH_3 + BATCH_4 + BATCH_5 + BATCH_6 + BATCH_7 + BATCH_8 + BATCH_9
    )
    sizes = {name: len(heldout_set(name)) for name in HELDOUT_SETS}
    assert sizes["hard_negatives"] >= 150
    assert sizes["multilingual_benign"] >= 150
    assert sizes["short_support"] >= 100
    assert sizes["attacks"] >= 100
    assert len({r.lang for r in heldout_set("multilingual_benign")}) >= 20
    with pytest.raises(InputError, match="unknown held-out set"):
        heldout_set("training")


@pytest.mark.parametrize("name", BATCH_1[:3])
def test_length_alone_auc_of_each_held_out_set(name: str) -> None:
    """Short support turns are short by nature, so length alone separates them from attacks;
    the detector must not lean on it: from 100 characters up, length alone is weak."""
    rows = [*heldout_set(name), *heldout_set("attacks")]
    every = [r for n in BATCH_1 for r in heldout_set(n)]
    longer = [r for r in every if len(r.text) >= 100]
    print(f"{name} vs attacks: length-alone AUC {length_auc(rows):.3f}")
    print(f"all texts of 100+ characters: length-alone AUC {length_auc(longer):.3f}")
    assert length_auc(longer) <= 0.7


def test_batch_2_files_have_the_promised_shape_and_size() -> None:
    long_prose, support, hard, attacks = (heldout_set(name) for name in BATCH_2)
    every = [*long_prose, *support, *hard, *attacks]
    assert all(r.id.startswith("b2-") and r.lang and r.text == r.text.strip() for r in every)
    assert len({r.id for r in every}) == len(every)
    assert not {r.id for r in every} & {r.id for n in BATCH_1 for r in heldout_set(n)}
    assert {r.source for r in every} == {"user", "retrieved", "tool"}
    # Long prose: at least 80 benign texts of 1,000-5,000 characters, spread over the range.
    assert len(long_prose) >= 80
    assert {(r.label, r.category) for r in long_prose} == {("benign", "long_prose")}
    lengths = [len(r.text) for r in long_prose]
    assert min(lengths) >= 1000
    assert max(lengths) <= 5000
    thirds = [
        sum(lo <= n < hi for n in lengths) for lo, hi in ((0, 2000), (2000, 3500), (3500, 5001))
    ]
    assert min(thirds) >= len(lengths) // 4, thirds
    # Short support turns: at least 150, users only, mostly under 160 characters.
    assert len(support) >= 150
    assert {(r.label, r.source) for r in support} == {("benign", "user")}
    assert sum(len(r.text) < 160 for r in support) >= 0.9 * len(support)
    assert len({r.lang for r in support}) >= 5
    # Hard negatives: at least 120 texts of 80-1,500 characters from each source.
    assert len(hard) >= 120
    assert {(r.label, r.category) for r in hard} == {("benign", "hard_negative")}
    assert all(80 <= len(r.text) <= 1500 for r in hard)
    by_source = {s: sum(r.source == s for r in hard) for s in ("user", "retrieved", "tool")}
    assert by_source["retrieved"] >= 40
    assert by_source["tool"] >= 35
    assert by_source["user"] >= 30
    # Attacks: at least 130, jailbreaks typed by users, indirect ones in documents and tools.
    assert len(attacks) >= 130
    kinds = {(r.category, r.source) for r in attacks}
    assert {r.label for r in attacks} == {"attack"}
    assert kinds == {("jailbreak", "user"), ("indirect", "retrieved"), ("indirect", "tool")}
    counts = {k: sum((r.category, r.source) == k for r in attacks) for k in kinds}
    assert counts[("jailbreak", "user")] >= 55
    assert counts[("indirect", "retrieved")] >= 40
    assert counts[("indirect", "tool")] >= 35
    assert all(150 <= len(r.text) <= 4000 for r in attacks)
    assert sum(len(r.text) >= 1000 for r in attacks if r.category == "jailbreak") >= 20
    assert len({r.lang for r in attacks if r.category == "jailbreak"}) >= 5


def _length_pairs(
    names: tuple[str, ...], overall: str, *, with_support: bool
) -> dict[str, list[HeldoutText]]:
    """The comparisons of one batch: all its attacks against all its benign texts (the short
    support turns only ``with_support``), titled ``overall``, and per source the attacks
    against the long prose and hard negatives of that source."""
    files = {re.sub(r"_\d+$", "", name): list(heldout_set(name)) for name in names}
    attacks, long_prose, hard = files.pop("attacks"), files["long_prose"], files["hard_negatives"]
    support = files.pop("short_support")
    benign = [r for rows in files.values() for r in rows] + (support if with_support else [])
    pairs = {overall: attacks + benign}
    for source in ("user", "retrieved", "tool"):
        pairs[f"{source}: attacks vs long prose and hard negatives"] = [
            r for r in attacks + long_prose + hard if r.source == source
        ]
    return pairs


def _batch_2_length_pairs() -> dict[str, list[HeldoutText]]:
    return _length_pairs(BATCH_2, "all attacks vs all benign", with_support=True)


@pytest.mark.parametrize("pair", list(_batch_2_length_pairs()))
def test_length_alone_does_not_separate_batch_2(pair: str) -> None:
    """Batch 2 was balanced for length before it was frozen: length alone separates its
    attacks from its benign texts at an AUC of at most 0.65, overall and for each source.
    Short support turns are short by nature and stay out of the per-source pairs (against
    the jailbreaks alone their AUC is close to 1, as in batch 1)."""
    auc = length_auc(_batch_2_length_pairs()[pair])
    print(f"batch 2, {pair}: length-alone AUC {auc:.3f}")
    assert auc <= 0.65


def _before(batch: tuple[str, ...]) -> tuple[str, ...]:
    """Return the files of every batch written before ``batch``."""
    return tuple(name for b in BATCHES[: BATCHES.index(batch)] for name in b)


#: Short turns of batch 7 that are turns of earlier batches too, typed by writers who never saw
#: them.
REPEATS_7 = {
    "How do I download my transcript from the student portal?",
    "are you a real person or a bot",
    "are you ai",
    "hi",
    "never mind, found it",
    "ok",
    "refund",
    "start over",
    "this is the third time im asking",
    "thx",
    "yes",
}

#: Short turns of batch 8 that are turns of earlier batches too, typed by writers who never saw
#: them.
REPEATS_8 = {"agent", "no", "wrong chat sorry"}

#: Short turns of batch 9 that are turns of earlier batches too, typed by writers who never saw
#: them (the last is "Hello, I forgot my password. How do I change it?" in Amharic).
REPEATS_9 = {"hello?", "invoice", "ሰላም፣ የይለፍ ቃሌን ረሳሁት። እንዴት መቀየር እችላለሁ?"}


@pytest.mark.parametrize(
    ("names", "prefix", "earlier", "repeats"),
    [
        # Apart from two turns any writer might type ("ok", and "refund??", which the README
        # of batch 2 quotes), no text of batch 3 repeats one of the earlier batches.
        (BATCH_3, "b3-", _before(BATCH_3), {"ok", "refund??"}),
        (BATCH_4, "b4-", _before(BATCH_4), set()),
        # Eight short turns of batch 5 are turns of earlier batches too, typed by writers who
        # never saw them ("hi", "ok", "start over", "ignore that, wrong chat"...).
        (
            BATCH_5,
            "b5-",
            _before(BATCH_5),
            {
                "do you price match",
                "start over",
                "hello?? anyone there",
                "Hello!",
                "yes please",
                "hi",
                "ignore that, wrong chat",
                "ok",
            },
        ),
        (BATCH_6, "b6-", _before(BATCH_6), set()),
        (BATCH_7, "b7-", _before(BATCH_7), REPEATS_7),
        (BATCH_8, "b8-", _before(BATCH_8), REPEATS_8),
        (BATCH_9, "b9-", _before(BATCH_9), REPEATS_9),
    ],
    ids=["batch 3", "batch 4", "batch 5", "batch 6", "batch 7", "batch 8", "batch 9"],
)
def test_later_batches_have_the_promised_shape_and_size(
    names: tuple[str, ...], prefix: str, earlier: tuple[str, ...], repeats: set[str]
) -> None:
    long_prose, support, hard, multilingual, attacks = (heldout_set(n) for n in names)
    every = [*long_prose, *support, *hard, *multilingual, *attacks]
    assert all(r.id.startswith(prefix) and r.lang and r.text.strip() for r in every)
    assert len({r.id for r in every}) == len(every)
    assert {r.text for r in every} & {r.text for n in earlier for r in heldout_set(n)} <= repeats
    assert {r.label for r in every if r not in attacks} == {"benign"}
    assert {r.label for r in attacks} == {"attack"}
    assert len(long_prose) >= 90
    assert all(1000 <= len(r.text) <= 5000 for r in long_prose)
    assert {r.source for r in long_prose} == {"user", "retrieved", "tool"}
    assert len(support) >= 120
    assert sum(len(r.text) < 200 for r in support) >= 0.8 * len(support)
    assert len(hard) >= 110
    assert {r.source for r in hard} == {"user", "retrieved", "tool"}
    assert len(multilingual) >= 70
    assert "en" not in {r.lang for r in multilingual}
    assert len({r.lang for r in multilingual}) >= 15
    counts = {
        k: sum((r.category, r.source) == k for r in attacks)
        for k in {(r.category, r.source) for r in attacks}
    }
    assert counts == {
        ("jailbreak", "user"): 90,
        ("indirect", "retrieved"): 50,
        ("indirect", "tool"): 40,
    }
    assert sum(len(r.text) >= 1000 for r in attacks if r.category == "jailbreak") >= 40


def _later_length_pairs() -> dict[str, list[HeldoutText]]:
    return {
        f"batch {n}, {pair}": rows
        for n, names in enumerate(BATCHES[2:], start=3)
        for pair, rows in _length_pairs(
            names, "all attacks vs all benign texts but the short support turns", with_support=False
        ).items()
    }


@pytest.mark.parametrize("pair", list(_later_length_pairs()))
def test_length_alone_does_not_separate_later_batches(pair: str) -> None:
    """Batches 3 to 9 were written to length bins chosen so that length alone does not
    separate their attacks from their benign texts of the same source (AUC at most 0.65). Short
    support turns are short by nature: they are measured for false alarms only."""
    auc = length_auc(_later_length_pairs()[pair])
    print(f"{pair}: length-alone AUC {auc:.3f}")
    assert auc <= 0.65


def test_training_text_that_repeats_a_held_out_text_is_dropped() -> None:
    assert overlaps_heldout(
        ["I forgot my password", "HELLO", "Where is the nearest train station, please?"]
    ) == [True, True, False]
    kept = [r.text for r in chat_turn_set(seed=31, size=400)]
    assert any(overlaps_heldout(kept))  # the generator alone would repeat some


@pytest.mark.slow
@needs_minilm
def test_short_support_questions_and_greetings_do_not_alarm(alarms: dict[str, bool]) -> None:
    """Target 1%, NOT met: the bench measures 3.2% (3 of 93) with the model retrained on the
    written traffic (2.2% before it); the bound keeps the level reached."""
    rate, wrong = _rate(alarms, lambda r: r.id.startswith("short") and r.source == "user")
    assert rate <= 0.033, wrong


@pytest.mark.slow
@needs_minilm
def test_support_bot_holding_and_handoff_messages_do_not_alarm(alarms: dict[str, bool]) -> None:
    rate, wrong = _rate(alarms, lambda r: r.category == "bot_message")
    assert rate == 0.0, wrong


@pytest.mark.slow
@needs_minilm
def test_hard_negatives_typed_by_users_rarely_alarm(alarms: dict[str, bool]) -> None:
    """Over all 82 the bench measures 3.7% (target 5%, met); this half of them is read here."""
    rate, wrong = _rate(alarms, lambda r: r.category == "hard_negative" and r.source == "user")
    assert rate <= 0.08, wrong


@pytest.mark.slow
@needs_minilm
@pytest.mark.parametrize(("source", "bound"), [("tool", 0.09), ("retrieved", 0.06)])
def test_hard_negatives_in_documents_and_tool_output(source: Source, bound: float) -> None:
    """Every hard negative of the source, long ones too. Target 5%, NOT met: tool output 8.3%
    (2 of 24; 1 of 24 before the embedding head became a network, which gained on every other
    development set, and 5 of 24 before the written tool outputs and rule corroboration),
    retrieved documents 5.9% (2 of 34). The bounds keep the levels reached."""
    detector = PromptInjectionDetector()
    rows = [
        r
        for r in heldout_set("hard_negatives")
        if r.category == "hard_negative" and r.source == source
    ]
    wrong = [r.text[:60] for r in rows if detector.detect(r.text, source=source).is_alarm]
    assert len(wrong) / len(rows) <= bound, wrong


@pytest.mark.slow
@needs_minilm
def test_long_benign_prose_rarely_alarms() -> None:
    """Target 2%, NOT met: 2 of 12 long texts (16.7%) alarm, as before; the long-text
    thresholds did not change it. The bound keeps the level reached."""
    detector = PromptInjectionDetector()
    rows = [r for r in heldout_set("hard_negatives") if r.category == "long_prose"]
    wrong = [r.text[:60] for r in rows if detector.detect(r.text, source=_source(r)).is_alarm]
    assert len(wrong) <= 2, wrong


@pytest.mark.slow
@needs_minilm
def test_multilingual_benign_text_rarely_alarms(alarms: dict[str, bool]) -> None:
    rate, wrong = _rate(alarms, lambda r: r.category == "multilingual")
    assert rate <= 0.05, wrong


@pytest.mark.slow
@needs_minilm
def test_fresh_attacks_are_caught(alarms: dict[str, bool]) -> None:
    # The shorter half read here is the harder one; over all 42 the bench measures 0.905
    # (target 0.90).
    jailbreaks, missed = _rate(alarms, lambda r: r.category == "jailbreak")
    assert jailbreaks >= 0.8, missed
    indirect, missed = _rate(alarms, lambda r: r.category == "indirect")
    assert indirect >= 0.85, missed


@pytest.mark.parametrize("text", ["I forgot my password", "Hello!", "Hey", "No", "Thanks!"])
@pytest.mark.parametrize("embeddings", [True, False])
def test_greetings_and_a_forgotten_password_are_ok(text: str, embeddings: bool) -> None:
    if embeddings and not minilm_available():
        pytest.skip("the embeddings extra is not installed")
    detector = PromptInjectionDetector(embedder=None if embeddings else TfidfEmbedder())
    verdict = detector.detect(text)
    assert verdict.decision == "ok", verdict.reason
