"""Development numbers of the prompt-injection detector, on texts kept apart from training.

Reads ``bench/data/injection_dev.yaml`` (hand-written long prose in five languages, short
support questions, long jailbreaks, late injections and indirect injections) and, as a second
kind of long prose, excerpts of the package descriptions (``METADATA``) of the installed
distributions, which no training source reads. Prints the alarm rate per kind and source at
the default thresholds. Never reads the held-out evaluation texts.

    PYTHONPATH=src python bench/dev_injection.py [--model PATH] [--verbose]
"""

from __future__ import annotations

import argparse
import importlib.metadata
import random
import re
import time
from pathlib import Path

import yaml

from airsoc.detection.llm.injection import PromptInjectionDetector

HERE = Path(__file__).parent
#: (kind, source, label) of each list of the YAML file.
KINDS = {
    "long_prose": ("user", "benign"),
    "short_support": ("user", "benign"),
    "long_about_attacks": ("user", "benign"),
    "jailbreak": ("user", "attack"),
    "long_jailbreak": ("user", "attack"),
    "late_injection": ("user", "attack"),
    "indirect": ("retrieved", "attack"),
}


def package_descriptions(count: int = 80, seed: int = 5) -> list[str]:
    """Return excerpts of 1,000-5,000 characters of installed packages' long descriptions,
    cut at blank lines."""
    texts: list[str] = []
    for dist in sorted(importlib.metadata.distributions(), key=lambda d: d.metadata["Name"] or ""):
        body = dist.metadata.get_payload() or ""  # type: ignore[attr-defined]
        body = re.sub(r"\n{3,}", "\n\n", str(body)).strip()
        if len(body) >= 1000:
            texts.append(body)
    rng = random.Random(seed)
    rng.shuffle(texts)
    out = []
    for body in texts[:count]:
        paras = body.split("\n\n")
        start = rng.randrange(0, max(1, len(paras) // 3))
        target = rng.randint(1000, 4800)
        piece: list[str] = []
        for p in paras[start:]:
            piece.append(p)
            if sum(len(x) + 2 for x in piece) >= target:
                break
        text = "\n\n".join(piece)[:5000]
        if len(text) >= 1000:
            out.append(text)
    return out


def late_jailbreaks(data: dict[str, list[str]], seed: int = 7) -> list[str]:
    """Return each jailbreak placed after a long benign text (a preamble of 1,000+ chars)."""
    rng = random.Random(seed)
    return [f"{rng.choice(data['long_prose']).strip()}\n\n{j}" for j in data["jailbreak"]]


def planted_documents(data: dict[str, list[str]], seed: int = 8) -> list[str]:
    """Return long benign texts with one planted instruction inserted between two paragraphs
    in their second half (two documents per instruction)."""
    rng = random.Random(seed)
    out = []
    for line in data["planted"]:
        for doc in rng.sample(data["long_prose"], 2):
            paras = doc.strip().split("\n\n")
            at = rng.randint(len(paras) // 2, len(paras))
            out.append("\n\n".join([*paras[:at], line, *paras[at:]]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default=None)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    data = yaml.safe_load((HERE / "data" / "injection_dev.yaml").read_text(encoding="utf-8"))
    detector = PromptInjectionDetector(model_path=args.model)
    cases: list[tuple[str, str, str, str]] = []
    for kind, (source, label) in KINDS.items():
        cases += [(kind, source, label, t) for t in data[kind]]
    cases += [("long_prose", "retrieved", "benign", t) for t in data["long_prose"]]
    cases += [("long_about_attacks", "retrieved", "benign", t) for t in data["long_about_attacks"]]
    cases += [("late_jailbreak", "user", "attack", t) for t in late_jailbreaks(data)]
    cases += [("planted", "retrieved", "attack", t) for t in planted_documents(data)]
    readmes = package_descriptions()
    cases += [("package_readme", "user", "benign", t) for t in readmes]
    cases += [("package_readme", "retrieved", "benign", t) for t in readmes]
    stats: dict[tuple[str, str, str], list[int]] = {}
    times: list[float] = []
    for kind, source, label, text in cases:
        started = time.perf_counter()
        v = detector.detect(text, source=source)  # type: ignore[arg-type]
        times.append(time.perf_counter() - started)
        alarm = v.decision == "drift"
        stats.setdefault((kind, source, label), []).append(int(alarm))
        if args.verbose and (alarm == (label == "benign") or label == "attack"):
            ev = v.evidence
            print(
                f"  [{kind}/{source}] {v.decision} score {v.statistic} alarm_at {ev['alarm_at']} "
                f"s1 {ev['stage1_score']} s2 {ev['stage2_score']} windows {ev['windows']} "
                f"rules {[m['rule'] for m in ev['matches']]} :: {text[:70]!r}"
            )
    print(f"{'kind':16} {'source':10} {'label':7} {'n':>4} {'alarm rate':>10}")
    for (kind, source, label), hits in stats.items():
        name = "TPR" if label == "attack" else "FPR"
        rate = sum(hits) / len(hits)
        print(f"{kind:16} {source:10} {label:7} {len(hits):4d} {name} {rate:6.3f}")


if __name__ == "__main__":
    main()
