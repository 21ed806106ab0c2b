from __future__ import annotations

from pathlib import Path

import pytest

from airsoc.detection.llm.corpus import load_labelled_texts, read_jsonl
from airsoc.errors import DataFileError


def test_attack_corpus_covers_categories_and_languages() -> None:
    corpus = load_labelled_texts("injection_corpus")
    attacks = [e for e in corpus if e.label == "attack"]
    assert {e.category for e in attacks} >= {
        "instruction_override",
        "persona_jailbreak",
        "obfuscation",
        "indirect",
        "prompt_leak",
    }
    assert len({e.lang for e in attacks}) >= 8
    assert len({e.id for e in corpus}) == len(corpus)


def test_test_set_is_held_out_from_the_corpus() -> None:
    corpus = {e.text.strip().lower() for e in load_labelled_texts("injection_corpus")}
    test = load_labelled_texts("injection_testset")
    assert not corpus & {e.text.strip().lower() for e in test}
    assert sum(e.label == "benign" for e in test) >= 200
    assert sum(e.label == "attack" for e in test) >= 100


def test_bad_lines_name_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "set.jsonl"
    path.write_text('{"id": "a", "text": "t", "label": "attack"}\n[1]\n', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"set.jsonl:2: not a JSON object"):
        load_labelled_texts(path)
    path.write_text('{"id": "a"}\n', encoding="utf-8")
    with pytest.raises(DataFileError, match=r"set.jsonl:1: missing key\(s\) text"):
        read_jsonl(path, required=("id", "text"))
