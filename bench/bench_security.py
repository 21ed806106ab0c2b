"""Security detectors benchmark: poisoning, evasion, prompt injection and hallucination.

One command: ``python bench/bench_security.py`` (``--quick`` for a smaller, faster run,
``--only poisoning,evasion`` to pick sections). Attacks come from IBM's Adversarial Robustness
Toolbox (the ``bench`` extra) where it is installed; without it the same attacks are generated
here (pattern backdoor, label flips, gradient-sign evasion) and ART's defences are skipped.
Every table prints the detector next to a baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from airsoc.detection.attacks.poisoning import PoisoningScreen

HAVE_ART = importlib.util.find_spec("art") is not None


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Print a fixed-width table."""
    cells = [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    print(f"\n## {title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))


def prf(flags: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    tp = float((flags & truth).sum())
    return tp / max(flags.sum(), 1), tp / max(truth.sum(), 1)


def auc(scores: np.ndarray, truth: np.ndarray) -> float:
    return float(roc_auc_score(truth, scores)) if 0 < truth.sum() < len(truth) else float("nan")


# ---------------------------------------------------------------- poisoning attacks
def backdoor_digits(rng: np.random.Generator, rate: float) -> dict[str, Any]:
    """Return digits with a pixel-pattern backdoor on ``rate`` of the training set (target 0)."""
    digits = load_digits()
    X = digits.images / 16.0
    y = digits.target.copy()
    order = rng.permutation(len(X))
    X, y = X[order], y[order]
    n_ref = int(0.3 * len(X))
    n_poison = int(rate * len(X))
    candidates = np.flatnonzero(y[n_ref:] != 0) + n_ref
    chosen = rng.choice(candidates, n_poison, replace=False)
    if HAVE_ART:
        from art.attacks.poisoning import PoisoningAttackBackdoor
        from art.attacks.poisoning.perturbations import add_pattern_bd

        attack = PoisoningAttackBackdoor(lambda x: add_pattern_bd(x, pixel_value=1.0))
        poisoned, _ = attack.poison(X[chosen], y=np.eye(10)[np.zeros(n_poison, dtype=int)])
        X[chosen] = poisoned
    else:
        X[np.ix_(chosen, [-1, -2, -3, -1, -3], [-1, -2, -3, -3, -1])] = 1.0
    y[chosen] = 0
    truth = np.zeros(len(X), dtype=bool)
    truth[chosen] = True
    flat = X.reshape(len(X), -1)
    return {
        "X_ref": flat[:n_ref],
        "y_ref": y[:n_ref],
        "X": flat[n_ref:],
        "y": y[n_ref:],
        "truth": truth[n_ref:],
    }


def fraud_set(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return a synthetic fraud set with 2% positives."""
    X, y = make_classification(
        n_samples=n,
        n_features=12,
        n_informative=6,
        n_redundant=2,
        weights=[0.98],
        class_sep=2.0,
        flip_y=0,
        random_state=int(rng.integers(1 << 30)),
    )
    return X, y


def vendor_batches(
    X: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    *,
    vendors: int,
    bad: int,
    positive: int,
    flip_share: float,
) -> tuple[tuple[np.ndarray, np.ndarray], list[tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Split into a trusted reference and vendor batches; vendor ``bad`` relabels
    ``flip_share`` of its ``positive`` rows as negatives (fraud hidden as legit)."""
    order = rng.permutation(len(X))
    X, y = X[order], y[order]
    n_ref = int(0.25 * len(X))
    parts = np.array_split(np.arange(n_ref, len(X)), vendors)
    batches = []
    for v, rows in enumerate(parts):
        yb = y[rows].copy()
        truth = np.zeros(len(rows), dtype=bool)
        if v == bad:
            pos = np.flatnonzero(yb == positive)
            flip = rng.choice(pos, int(flip_share * len(pos)), replace=False)
            yb[flip] = 1 - positive
            truth[flip] = True
        batches.append((X[rows], yb, truth))
    return (X[:n_ref], y[:n_ref]), batches


def random_flips(
    X: np.ndarray, y: np.ndarray, rng: np.random.Generator, share: float
) -> dict[str, Any]:
    order = rng.permutation(len(X))
    X, y = X[order], y[order].copy()
    n_ref = int(0.25 * len(X))
    yb = y[n_ref:].copy()
    flip = rng.random(len(yb)) < share
    yb[flip] = 1 - yb[flip]
    return {"X_ref": X[:n_ref], "y_ref": y[:n_ref], "X": X[n_ref:], "y": yb, "truth": flip}


def _accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Accuracy on one-hot labels and probability outputs (ART's own 'accuracy' expects labels)."""
    return float((np.argmax(y_true, axis=1) == np.argmax(y_pred, axis=1)).mean())


def art_roni(data: dict[str, Any], n_classes: int, limit: int) -> tuple[float, float] | None:
    """Return RONI's (precision, recall) on the first ``limit`` batch rows, or None without ART."""
    if not HAVE_ART:
        return None
    from art.defences.detector.poison import RONIDefense
    from art.estimators.classification.scikitlearn import SklearnClassifier

    rows = slice(0, limit)
    eye = np.eye(n_classes)
    clf = SklearnClassifier(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)))
    roni = RONIDefense(
        clf,
        data["X"][rows],
        eye[data["y"][rows]],
        data["X_ref"],
        eye[data["y_ref"]],
        perf_func=_accuracy,
        eps=0.01,
    )
    np.random.seed(0)  # RONI visits rows in np.random order
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, is_clean = roni.detect_poison()
    flags = np.array(is_clean) == 0
    return prf(flags, data["truth"][rows])


def art_provenance(
    ref: tuple[np.ndarray, np.ndarray],
    batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    bad: int,
) -> str:
    """Return which vendors ART's ProvenanceDefense flags, or a note without ART."""
    if not HAVE_ART:
        return "n/a (ART not installed)"
    from art.defences.detector.poison import ProvenanceDefense
    from art.estimators.classification.scikitlearn import SklearnClassifier

    X = np.vstack([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    p = np.concatenate([np.full(len(b[1]), i) for i, b in enumerate(batches)])
    eye_y, eye_p = np.eye(2), np.eye(len(batches))
    clf = SklearnClassifier(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)))
    defence = ProvenanceDefense(
        clf,
        X,
        eye_y[y],
        eye_p[p],
        x_val=ref[0],
        y_val=eye_y[ref[1]],
        perf_func=_accuracy,
        eps=0.01,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report, _ = defence.detect_poison()
    found = sorted(int(k) for k in report)
    return f"flagged vendors {found} (bad: {bad})"


def bench_poisoning(quick: bool, rng: np.random.Generator) -> None:
    rows: list[list[Any]] = []
    batch_rows: list[list[Any]] = []
    # Backdoor on digits at 3%.
    data = backdoor_digits(rng, 0.03)
    t = time.perf_counter()
    screen = PoisoningScreen(random_state=0).fit(data["X_ref"], data["y_ref"])
    result = screen.screen(data["X"], data["y"], batch_id="digits-backdoor")
    took = time.perf_counter() - t
    p, r = prf(result.flagged, data["truth"])
    spectral_auc = auc(result.signal_scores["spectral_signature"], data["truth"])
    roni = None if quick else art_roni(data, 10, 60)
    rows.append(
        [
            "digits backdoor 3%",
            auc(result.scores, data["truth"]),
            p,
            r,
            result.verdict.decision,
            f"{took:.1f}s",
            f"spectral-only AUC {spectral_auc:.3f}; RONI P/R (first 60 rows) "
            + (f"{roni[0]:.2f}/{roni[1]:.2f}" if roni else "skipped"),
        ]
    )
    # Label flips on breast_cancer and on a 2% fraud set.
    bc = load_breast_cancer()
    # breast_cancer: 0 = malignant. The vendor hides malignant cases as benign.
    sets: list[tuple[str, np.ndarray, np.ndarray, int]] = [
        ("breast_cancer", bc.data, bc.target, 0),
        ("fraud 2%", *fraud_set(rng, 6000 if quick else 12000), 1),
    ]
    for name, X, y, positive in sets:
        ref, batches = vendor_batches(
            X, y, rng, vendors=4, bad=2, positive=positive, flip_share=0.5
        )
        screen = PoisoningScreen(random_state=0).fit(*ref)
        decisions = []
        for i, (Xb, yb, truth) in enumerate(batches):
            res = screen.screen(Xb, yb, batch_id=f"vendor-{i}")
            decisions.append(res.verdict.decision)
            if i == 2:
                pb, rb = prf(res.flagged, truth)
                rows.append(
                    [
                        f"{name} vendor flip",
                        auc(res.scores, truth),
                        pb,
                        rb,
                        res.verdict.decision,
                        "",
                        ", ".join(k for k, v in res.signals.items() if v.decision == "drift"),
                    ]
                )
        found = [i for i, d in enumerate(decisions) if d == "drift"]
        prov = "skipped" if quick else art_provenance(ref, batches, 2)
        batch_rows.append(
            [name, "vendor-2", str(found), str(len([f for f in found if f != 2])), prov]
        )
        data = random_flips(X, y, rng, 0.10)
        screen = PoisoningScreen(random_state=0).fit(data["X_ref"], data["y_ref"])
        res = screen.screen(data["X"], data["y"], batch_id="random-10")
        pr, rr = prf(res.flagged, data["truth"])
        roni = None if quick else art_roni(data, 2, 60)
        rows.append(
            [
                f"{name} random 10%",
                auc(res.scores, data["truth"]),
                pr,
                rr,
                res.verdict.decision,
                "",
                "RONI P/R (first 60 rows) "
                + (f"{roni[0]:.2f}/{roni[1]:.2f}" if roni else "skipped"),
            ]
        )
    table(
        "Poisoning: per-sample detection (airsoc PoisoningScreen vs ART baselines)",
        ["scenario", "AUC", "precision", "recall", "batch", "time", "baseline / notes"],
        rows,
    )
    table(
        "Poisoning: batch detection (4 vendor batches, vendor-2 poisoned)",
        ["dataset", "poisoned", "alarmed batches", "false batches", "ART ProvenanceDefense"],
        batch_rows,
    )


# ---------------------------------------------------------------- evasion
def fgm_linear(model: Any, X: np.ndarray, y: np.ndarray, eps: float) -> np.ndarray:
    """Return fast-gradient-sign examples for a linear model (used when ART is missing)."""
    grads = []
    for x, label in zip(X, y, strict=True):
        p = model.predict_proba(x[None])[0]
        onehot = np.eye(len(p))[label]
        grads.append((p - onehot) @ model.coef_)
    return np.clip(X + eps * np.sign(np.array(grads)), 0.0, 1.0)


def bench_evasion(quick: bool, rng: np.random.Generator) -> None:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    from airsoc.detection.attacks.evasion import EvasionDetector

    digits = load_digits()
    X, y = digits.data / 16.0, digits.target
    order = rng.permutation(len(X))
    X, y = X[order], y[order]
    X_train, y_train, X_test, y_test = X[:1100], y[:1100], X[1100:], y[1100:]
    n_attack = 60 if quick else 200
    rows: list[list[Any]] = []
    models: list[tuple[str, Any]] = [
        ("logistic regression", LogisticRegression(max_iter=3000).fit(X_train, y_train)),
        (
            "SVC (rbf)",
            CalibratedClassifierCV(SVC(random_state=0), ensemble=False).fit(X_train, y_train),
        ),
    ]
    for model_name, model in models:
        detector = EvasionDetector(model, random_state=0).fit(X_train)
        clean = detector.score(X_test)
        attacks: list[tuple[str, np.ndarray, np.ndarray]] = []
        src, labels = X_test[:n_attack], y_test[:n_attack]
        if HAVE_ART:
            from art.attacks.evasion import FastGradientMethod, HopSkipJump
            from art.estimators.classification.scikitlearn import SklearnClassifier

            art_model = SklearnClassifier(model, clip_values=(0.0, 1.0))
            if model_name.startswith("logistic"):
                fgm = FastGradientMethod(art_model, eps=0.15, norm=np.inf)
                attacks.append(("FGM eps=0.15", fgm.generate(src), labels))
            n_hsj = 15 if quick else 40
            hsj = HopSkipJump(
                art_model, max_iter=10 if quick else 20, max_eval=1000, init_eval=20, verbose=False
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                attacks.append(("HopSkipJump", hsj.generate(src[:n_hsj]), labels[:n_hsj]))
        elif model_name.startswith("logistic"):
            attacks.append(("FGM eps=0.15 (own)", fgm_linear(model, src, labels, 0.15), labels))
        for attack_name, adv, truth in attacks:
            success = model.predict(adv) != truth
            if not success.any():
                continue
            scored = detector.score(adv[success])
            oracle = float(np.quantile(clean.combined, 0.99))
            margin_oracle = float(np.quantile(clean.margin, 0.99))
            knn_oracle = float(np.quantile(clean.manifold, 0.99))
            rows.append(
                [
                    model_name,
                    attack_name,
                    f"{int(success.sum())}/{len(adv)}",
                    float(scored.flagged.mean()),
                    float(clean.flagged.mean()),
                    float((scored.combined > oracle).mean()),
                    float((scored.margin > margin_oracle).mean()),
                    float((scored.manifold > knn_oracle).mean()),
                ]
            )
    table(
        "Evasion: detection rate of successful adversarial inputs (digits)",
        [
            "model",
            "attack",
            "successful",
            "detected (own thr)",
            "clean FPR (own thr)",
            "detected @1% FPR",
            "margin-only @1%",
            "kNN-only @1%",
        ],
        rows,
    )


# ---------------------------------------------------------------- prompt injection
def bench_injection(quick: bool, rng: np.random.Generator) -> None:
    from airsoc.detection.llm.corpus import load_labelled_texts
    from airsoc.detection.llm.embeddings import TfidfEmbedder, minilm_available
    from airsoc.detection.llm.injection import PromptInjectionDetector

    test = load_labelled_texts("injection_testset")
    if quick:
        test = test[::3]
    truth = np.array([e.label == "attack" for e in test])
    variants: list[tuple[str, PromptInjectionDetector]] = [
        ("tf-idf char n-grams (fallback)", PromptInjectionDetector(embedder=TfidfEmbedder()))
    ]
    if minilm_available():
        variants.append(("tf-idf + MiniLM (embeddings extra)", PromptInjectionDetector()))
    rows: list[list[Any]] = []
    base_latency = None
    for name, detector in variants:
        detector.detect("warm up")
        scores, rules, latencies = [], [], []
        for e in test:
            source = "retrieved" if e.category == "indirect" else "user"
            t = time.perf_counter()
            verdict = detector.detect(e.text, source=source)
            latencies.append(time.perf_counter() - t)
            scores.append(verdict.statistic or 0.0)
            rules.append(verdict.evidence["rule_score"])
        s, r = np.array(scores), np.array(rules)
        p50 = statistics.median(latencies) * 1000
        base_latency = base_latency or p50

        def tpr_at(values: np.ndarray, fpr: float) -> float:
            thr = np.quantile(values[~truth], 1 - fpr)
            return float((values[truth] > thr).mean())

        rows.append(
            [
                name,
                tpr_at(s, 0.01),
                tpr_at(s, 0.05),
                tpr_at(r, 0.01),
                tpr_at(r, 0.05),
                float((s[truth] >= 0.5).mean()),
                float((s[~truth] >= 0.5).mean()),
                f"{p50:.2f}",
                f"{p50 / base_latency:.1f}x",
            ]
        )
    table(
        f"Prompt injection on the held-out set ({int(truth.sum())} attacks, "
        f"{int((~truth).sum())} benign)",
        [
            "detector",
            "TPR@1%FPR",
            "TPR@5%FPR",
            "rules-only TPR@1%",
            "rules-only TPR@5%",
            "TPR@0.5",
            "FPR@0.5",
            "p50 ms/text",
            "latency vs tf-idf",
        ],
        rows,
    )


# ---------------------------------------------------------------- hallucination
def bench_hallucination(quick: bool, rng: np.random.Generator) -> None:
    from importlib import resources

    from airsoc.detection.llm.corpus import read_jsonl
    from airsoc.detection.llm.grounding import GroundingChecker, RetrievedChunk
    from airsoc.fleet.rag.policies import policy_index

    index = policy_index()
    path = resources.files("airsoc.detection.llm") / "data" / "hallucination_testset.jsonl"
    items = read_jsonl(str(path), required=("answer", "label", "retrieved"))
    checker = GroundingChecker(index)
    kinds = ["grounded", "fabricated_citation", "altered_number", "unsupported_claim"]
    found: dict[str, list[set[str]]] = {"airsoc": [], "overlap baseline": []}
    labels: list[str] = []
    for item in items:
        refs: Any = item["retrieved"]
        chunks = [
            RetrievedChunk(
                r["doc_id"],
                index.get(r["doc_id"]).sections[r["section"]],  # type: ignore[union-attr]
                r["section"],
            )
            for r in refs
        ]
        verdict = checker.check(str(item["answer"]), chunks)
        got = set(verdict.evidence["issue_kinds"])
        if "fabricated_citation" in got:
            got.discard("unsupported_claim")
        found["airsoc"].append(got or {"grounded"})
        # Baseline: an answer is "ungrounded" when its words are not in the chunks.
        support = min(s["support"] for s in verdict.evidence["sentences"])
        found["overlap baseline"].append({"unsupported_claim"} if support < 0.45 else {"grounded"})
        labels.append(str(item["label"]))
    rows: list[list[Any]] = []
    for kind in kinds:
        truth = np.array([lab == kind for lab in labels])
        row: list[Any] = [kind, int(truth.sum())]
        for name in found:
            pred = np.array([kind in g for g in found[name]])
            precision, recall = prf(pred, truth)
            row += [recall, precision]
        rows.append(row)
    table(
        f"Hallucination on the labelled RAG answers ({len(labels)} answers)",
        ["kind", "n", "recall", "precision", "baseline recall", "baseline precision"],
        rows,
    )


SECTIONS: dict[str, Callable[[bool, np.random.Generator], None]] = {
    "injection": bench_injection,
    "hallucination": bench_hallucination,
    "poisoning": bench_poisoning,
    "evasion": bench_evasion,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller, faster run")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    print(
        f"# bench_security (quick={args.quick}, seed={args.seed}, "
        f"ART={'yes' if HAVE_ART else 'no'}, load average {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} CPUs)"
    )
    for name in args.only.split(","):
        SECTIONS[name.strip()](args.quick, np.random.default_rng(args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
