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
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

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
    return {"X_ref": flat[:n_ref], "y_ref": y[:n_ref], "X": flat[n_ref:], "y": y[n_ref:],
            "truth": truth[n_ref:]}  # fmt: skip


def fraud_set(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Return a synthetic fraud set with 2% positives."""
    X, y = make_classification(n_samples=n, n_features=12, n_informative=6, n_redundant=2,
                               weights=[0.98], class_sep=2.0, flip_y=0,
                               random_state=int(rng.integers(1 << 30)))  # fmt: skip
    return X, y


def vendor_batches(
    X: np.ndarray, y: np.ndarray, rng: np.random.Generator, *, vendors: int, bad: int,
    positive: int, flip_share: float,
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


def art_roni(data: dict[str, Any], n_classes: int, limit: int) -> tuple[float, float] | None:
    """Return RONI's (precision, recall) on the first ``limit`` batch rows, or None without ART."""
    if not HAVE_ART:
        return None
    from art.defences.detector.poison import RONIDefense
    from art.estimators.classification.scikitlearn import SklearnClassifier

    rows = slice(0, limit)
    eye = np.eye(n_classes)
    clf = SklearnClassifier(LogisticRegression(max_iter=2000))
    roni = RONIDefense(clf, data["X"][rows], eye[data["y"][rows]], data["X_ref"],
                       eye[data["y_ref"]], eps=0.01)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, is_clean = roni.detect_poison()
    flags = np.array(is_clean) == 0
    return prf(flags, data["truth"][rows])


def art_provenance(
    ref: tuple[np.ndarray, np.ndarray], batches: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
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
    clf = SklearnClassifier(LogisticRegression(max_iter=2000))
    defence = ProvenanceDefense(clf, X, eye_y[y], eye_p[p], x_val=ref[0], y_val=eye_y[ref[1]],
                                eps=0.01)  # fmt: skip
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
    roni = None if quick else art_roni(data, 10, len(data["X"]))
    rows.append(["digits backdoor 3%", auc(result.scores, data["truth"]), p, r,
                 result.verdict.decision, f"{took:.1f}s",
                 f"spectral-only AUC {spectral_auc:.3f}; RONI P/R "
                 + (f"{roni[0]:.2f}/{roni[1]:.2f}" if roni else "skipped")])  # fmt: skip
    # Label flips on breast_cancer and on a 2% fraud set.
    bc = load_breast_cancer()
    # breast_cancer: 0 = malignant. The vendor hides malignant cases as benign.
    sets: list[tuple[str, np.ndarray, np.ndarray, int]] = [
        ("breast_cancer", bc.data, bc.target, 0),
        ("fraud 2%", *fraud_set(rng, 6000 if quick else 12000), 1),
    ]
    for name, X, y, positive in sets:
        ref, batches = vendor_batches(X, y, rng, vendors=4, bad=2, positive=positive,
                                      flip_share=0.5)  # fmt: skip
        screen = PoisoningScreen(random_state=0).fit(*ref)
        decisions = []
        for i, (Xb, yb, truth) in enumerate(batches):
            res = screen.screen(Xb, yb, batch_id=f"vendor-{i}")
            decisions.append(res.verdict.decision)
            if i == 2:
                pb, rb = prf(res.flagged, truth)
                rows.append([f"{name} vendor flip", auc(res.scores, truth), pb, rb,
                             res.verdict.decision, "", ", ".join(
                                 k for k, v in res.signals.items() if v.decision == "drift")])  # fmt: skip
        found = [i for i, d in enumerate(decisions) if d == "drift"]
        prov = "skipped" if quick or name != "breast_cancer" else art_provenance(ref, batches, 2)
        batch_rows.append([name, "vendor-2", str(found), str(len([f for f in found if f != 2])),
                           prov])  # fmt: skip
        data = random_flips(X, y, rng, 0.10)
        screen = PoisoningScreen(random_state=0).fit(data["X_ref"], data["y_ref"])
        res = screen.screen(data["X"], data["y"], batch_id="random-10")
        pr, rr = prf(res.flagged, data["truth"])
        roni = None if quick or len(data["X"]) > 1000 else art_roni(data, 2, len(data["X"]))
        rows.append([f"{name} random 10%", auc(res.scores, data["truth"]), pr, rr,
                     res.verdict.decision, "", "RONI P/R " + (
                         f"{roni[0]:.2f}/{roni[1]:.2f}" if roni else "skipped")])  # fmt: skip
    table("Poisoning: per-sample detection (airsoc PoisoningScreen vs ART baselines)",
          ["scenario", "AUC", "precision", "recall", "batch", "time", "baseline / notes"], rows)  # fmt: skip
    table("Poisoning: batch detection (4 vendor batches, vendor-2 poisoned)",
          ["dataset", "poisoned", "alarmed batches", "false batches", "ART ProvenanceDefense"],
          batch_rows)  # fmt: skip


SECTIONS: dict[str, Callable[[bool, np.random.Generator], None]] = {
    "poisoning": bench_poisoning,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller, faster run")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    print(f"# bench_security (quick={args.quick}, seed={args.seed}, ART={'yes' if HAVE_ART else 'no'})")
    for name in args.only.split(","):
        SECTIONS[name.strip()](args.quick, np.random.default_rng(args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
