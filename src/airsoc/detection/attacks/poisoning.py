"""Training-data poisoning screening, run on every new batch before it reaches training.

:class:`PoisoningScreen` is fitted on a trusted reference (features and labels). ``screen`` judges
a new batch with five signals and returns a batch :class:`Verdict` plus a suspicion score per
sample:

* feature drift: two-sample Kolmogorov-Smirnov per feature against the reference, BH-corrected;
* label-prior shift: chi-square of the batch's label counts against the reference's proportions;
* cross-fitted label disagreement (confident-learning style): each batch fold is predicted by a
  model fitted on the reference and the other folds, averaged with a model fitted on the trusted
  reference alone (so a backdoor spread over the batch cannot teach itself); a label is suspect
  when its probability is below ``flag_prob`` and, measured against each class's own
  self-confidence on the reference, another class is likelier;
* spectral signatures: per class, the squared projection of the centred representation on its
  top singular vector, as a robust z-score against the same class of the reference, so small
  classes weigh as much as large ones;
* activation clustering: per class, 2-means on the hidden layer of a small network; a cluster
  that the trusted reference barely populates is a backdoor candidate.

Example:
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> X, y = make_classification(n_samples=900, n_features=8, class_sep=2.0, random_state=1)
    >>> screen = PoisoningScreen(random_state=0).fit(X[:500], y[:500])
    >>> clean = screen.screen(X[500:700], y[500:700], batch_id="vendor-a")
    >>> flipped = y[700:].copy(); flipped[:60] = 1 - flipped[:60]
    >>> bad = screen.screen(X[700:], flipped, batch_id="vendor-b")
    >>> clean.verdict.decision, bad.verdict.decision
    ('ok', 'drift')
    >>> float(bad.scores[:60].mean()) > float(bad.scores[60:].mean())
    True
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats
from sklearn.base import ClassifierMixin, clone
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from airsoc.detection.attacks._stats import robust_z
from airsoc.detection.stats import benjamini_hochberg
from airsoc.detection.verdict import Decision, Verdict
from airsoc.errors import DetectionError, InputError

__all__ = ["PoisoningScreen", "ScreeningResult"]

POISON = "AML.T0020"
SUPPLY_DATA = "AML.T0010.002"
BACKDOOR = "AML.T0018"


@dataclass
class ScreeningResult:
    """A batch's verdict, the per-signal verdicts, and per-sample suspicion and flags."""

    verdict: Verdict
    scores: np.ndarray
    flagged: np.ndarray
    signals: dict[str, Verdict] = field(default_factory=dict)
    signal_scores: dict[str, np.ndarray] = field(default_factory=dict)


def _as_arrays(X: Any, y: Any, where: str) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=float)
    y = np.asarray(y)
    if X.ndim != 2 or len(X) != len(y):
        raise InputError(
            f"expected a 2-D feature matrix and one label per row, got {X.shape} and {y.shape}",
            loc=where,
        )
    if not np.isfinite(X).all():
        row = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
        raise InputError(f"row {row} has a missing or infinite feature value", loc=where)
    return X, y


class PoisoningScreen:
    """Screen training batches against a trusted reference; see the module docstring.

    ``estimator`` is the model for label disagreement (default: standardised logistic
    regression); ``alpha`` the family-wise error rate of a batch alarm; ``z_flag`` the robust
    z-score at which spectral and clustering scores flag a sample; ``flag_prob`` the model
    probability of the given label below which a disagreeing label is flagged.
    """

    name = "data_poisoning"

    def __init__(
        self,
        *,
        estimator: ClassifierMixin | None = None,
        n_folds: int = 5,
        alpha: float = 0.01,
        z_flag: float = 6.0,
        flag_prob: float = 0.3,
        hidden_units: int = 32,
        min_class_size: int = 8,
        random_state: int = 0,
    ) -> None:
        self.estimator = estimator
        self.n_folds = n_folds
        self.alpha = alpha
        self.z_flag = z_flag
        self.flag_prob = flag_prob
        self.hidden_units = hidden_units
        self.min_class_size = min_class_size
        self.random_state = random_state

    def _model(self) -> Any:
        if self.estimator is not None:
            return clone(self.estimator)
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=3000))

    def fit(self, X: Any, y: Any) -> PoisoningScreen:
        """Learn the trusted reference: label priors, out-of-fold confidences, scaling."""
        X, y = _as_arrays(X, y, "reference")
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise DetectionError("the trusted reference needs at least two classes")
        self.X_ref_, self.y_ref_ = X, y
        self.prior_ = np.array([(y == c).mean() for c in self.classes_])
        self.scaler_ = StandardScaler().fit(X)
        proba = self._cross_fit(X, y, None, None)
        idx = np.searchsorted(self.classes_, y)
        self.thresholds_ = np.array(
            [
                proba[idx == j, j].mean() if (idx == j).any() else 0.5
                for j in range(len(self.classes_))
            ]
        )
        self.ref_disagreement_ = self._disagreement(proba, idx)
        self.ref_flags_ = self._cl_flags(proba, idx)
        self.ref_flag_rate_ = float(self.ref_flags_.mean())
        self.ref_model_ = self._model().fit(X, y)
        return self

    def _cross_fit(
        self, X: np.ndarray, y: np.ndarray, X_extra: np.ndarray | None, y_extra: np.ndarray | None
    ) -> np.ndarray:
        """Return out-of-fold class probabilities of (X, y), training with the extra rows too."""
        proba = np.zeros((len(X), len(self.classes_)))
        counts = np.bincount(np.searchsorted(self.classes_, y), minlength=len(self.classes_))
        folds = max(2, min(self.n_folds, int(counts[counts > 0].min()) if counts.any() else 2))
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        try:
            splits = list(splitter.split(X, y))
        except ValueError:
            splits = list(StratifiedKFold(n_splits=2).split(X, np.zeros(len(X))))
        for train, test in splits:
            Xt, yt = X[train], y[train]
            if X_extra is not None and y_extra is not None:
                Xt, yt = np.vstack([X_extra, Xt]), np.concatenate([y_extra, yt])
            model = self._model().fit(Xt, yt)
            cols = np.searchsorted(self.classes_, model.classes_)
            proba[np.ix_(test, cols)] = model.predict_proba(X[test])
        return proba

    def _disagreement(self, proba: np.ndarray, idx: np.ndarray) -> np.ndarray:
        """Return how much more confident the model is in another class than in the given one,
        each class measured against its own threshold."""
        norm = proba / np.maximum(self.thresholds_, 1e-6)
        given = norm[np.arange(len(idx)), idx]
        other = norm.copy()
        other[np.arange(len(idx)), idx] = -np.inf
        return np.asarray(other.max(axis=1) - given)

    def _cl_flags(self, proba: np.ndarray, idx: np.ndarray) -> np.ndarray:
        given = proba[np.arange(len(idx)), idx]
        return np.asarray((given < self.flag_prob) & (self._disagreement(proba, idx) > 0))

    def screen(self, X: Any, y: Any, *, batch_id: str = "batch") -> ScreeningResult:
        """Return the screening result of one batch (verdict, scores and flags per sample)."""
        if not hasattr(self, "classes_"):
            raise DetectionError("PoisoningScreen.screen called before fit")
        X, y = _as_arrays(X, y, batch_id)
        if X.shape[1] != self.X_ref_.shape[1]:
            raise InputError(
                f"batch has {X.shape[1]} features, the reference {self.X_ref_.shape[1]}",
                loc=batch_id,
            )
        unknown = sorted(set(np.unique(y).tolist()) - set(self.classes_.tolist()))
        if unknown:
            raise InputError(f"labels not in the reference: {unknown}", loc=batch_id)
        if len(X) < 2:
            verdict = Verdict(
                detector=self.name,
                method="screen",
                subject=batch_id,
                failure_mode="data_poisoning",
                decision="ok",
                n_current=len(X),
                n_reference=len(self.X_ref_),
                reason="batch too small to screen",
            )
            return ScreeningResult(verdict, np.zeros(len(X)), np.zeros(len(X), dtype=bool))
        idx = np.searchsorted(self.classes_, y)
        signals: dict[str, Verdict] = {}
        signals["feature_drift"] = self._drift(X, batch_id)
        signals["label_prior"] = self._label_prior(idx, batch_id)
        anchored = np.zeros((len(X), len(self.classes_)))
        cols = np.searchsorted(self.classes_, self.ref_model_.classes_)
        anchored[:, cols] = self.ref_model_.predict_proba(X)
        proba = (self._cross_fit(X, y, self.X_ref_, self.y_ref_) + anchored) / 2
        disagreement = self._disagreement(proba, idx)
        cl_flags = self._cl_flags(proba, idx)
        # Reference flags from models fitted on the same data as the batch's (reference folds
        # plus this batch), so both flag rates come from equally strong models.
        ref_idx = np.searchsorted(self.classes_, self.y_ref_)
        ref_flags = self._cl_flags(self._cross_fit(self.X_ref_, self.y_ref_, X, y), ref_idx)
        signals["label_disagreement"] = self._excess_flags(cl_flags, idx, ref_flags, batch_id)
        spectral, spectral_rate = self._spectral(X, idx)
        clusters, cluster_verdict = self._activation_clusters(X, y, idx, batch_id)
        signals["spectral_signature"] = self._tail_verdict(
            spectral, spectral_rate, "spectral_signature", batch_id
        )
        signals["activation_clustering"] = cluster_verdict
        z_dis = robust_z(disagreement, self.ref_disagreement_)
        # Evidence adds up across signals: a poisoned sample is usually odd in more than one,
        # a clean outlier in one. Each signal contributes at most 10 robust z units.
        stacked = np.clip(np.vstack([z_dis, spectral, clusters]), 0.0, 10.0)
        scores = stacked.sum(axis=0) / 30.0
        flagged = cl_flags | (spectral >= self.z_flag) | (clusters >= self.z_flag)
        alarms = [name for name, v in signals.items() if v.decision == "drift"]
        decision: Decision = (
            "drift"
            if alarms
            else ("warn" if any(v.decision == "warn" for v in signals.values()) else "ok")
        )
        atlas = [POISON, SUPPLY_DATA] if alarms else []
        if signals["activation_clustering"].decision == "drift" or (
            signals["spectral_signature"].decision == "drift"
        ):
            atlas.append(BACKDOOR)
        reason = (
            f"batch {batch_id}: {', '.join(alarms)} significant; {int(flagged.sum())} of "
            f"{len(X)} samples flagged"
            if alarms
            else f"batch {batch_id}: no poisoning signal; {int(flagged.sum())} of {len(X)} samples "
            "flagged, as expected from the reference"
        )
        p_values = [v.p_value for v in signals.values() if v.p_value is not None]
        verdict = Verdict(
            detector=self.name,
            method="screen[drift,label_prior,confident_learning,spectral,activation_clustering]",
            subject=batch_id,
            failure_mode="data_poisoning",
            statistic=float(flagged.mean()),
            p_value=min(p_values) if p_values else None,
            threshold=self.alpha,
            threshold_source="fixed",
            decision=decision,
            effect_size=float(flagged.mean() - self.ref_flag_rate_),
            n_reference=len(self.X_ref_),
            n_current=len(X),
            reason=reason,
            evidence={
                "atlas": atlas,
                "signals": {
                    k: {"decision": v.decision, "reason": v.reason} for k, v in signals.items()
                },
                "flagged_rows": np.flatnonzero(flagged)[:200].tolist(),
                "top_suspects": np.argsort(-scores)[:20].tolist(),
            },
        )
        return ScreeningResult(
            verdict,
            scores,
            flagged,
            signals,
            {
                "label_disagreement": z_dis,
                "spectral_signature": spectral,
                "activation_clustering": clusters,
            },
        )

    # Signals with a batch-level test. Each is tested at alpha / 5 (Bonferroni over signals).
    def _signal(
        self, name: str, batch_id: str, p: float, statistic: float, reason: str, **extra: Any
    ) -> Verdict:
        level = self.alpha / 5
        decision: Decision = "drift" if p < level else "warn" if p < 5 * level else "ok"
        return Verdict(
            detector=f"{self.name}.{name}",
            method=name,
            subject=batch_id,
            failure_mode="data_poisoning",
            statistic=statistic,
            p_value=p,
            threshold=level,
            threshold_source="fixed",
            decision=decision,
            n_reference=len(self.X_ref_),
            reason=reason,
            evidence=extra,
        )

    def _drift(self, X: np.ndarray, batch_id: str) -> Verdict:
        p = np.array(
            [
                stats.ks_2samp(self.X_ref_[:, j], X[:, j], method="asymp").pvalue
                for j in range(X.shape[1])
            ]
        )
        q = benjamini_hochberg(np.nan_to_num(p, nan=1.0))
        worst = int(np.argmin(q))
        return self._signal(
            "feature_drift",
            batch_id,
            float(q[worst]),
            float(q[worst]),
            f"KS q={q[worst]:.2g} on feature {worst}; {int((q < self.alpha).sum())} "
            f"feature(s) drifted",
            drifted=np.flatnonzero(q < self.alpha).tolist(),
        )

    def _label_prior(self, idx: np.ndarray, batch_id: str) -> Verdict:
        counts = np.bincount(idx, minlength=len(self.classes_))
        ref_counts = np.bincount(
            np.searchsorted(self.classes_, self.y_ref_), minlength=len(self.classes_)
        )
        # Two-sample: the reference's own label shares are an estimate too.
        keep = (counts + ref_counts) > 0
        table = np.vstack([ref_counts[keep], counts[keep]])
        p = float(stats.chi2_contingency(table).pvalue) if keep.sum() > 1 else 1.0
        shares = (counts / counts.sum()).round(4).tolist()
        return self._signal(
            "label_prior",
            batch_id,
            p,
            float(counts.max() / counts.sum()),
            f"label shares {shares} vs reference {self.prior_.round(4).tolist()}",
            batch_shares=shares,
        )

    def _excess_flags(
        self, flags: np.ndarray, idx: np.ndarray, ref_flags: np.ndarray, batch_id: str
    ) -> Verdict:
        """Fisher's exact test of the batch's flag rate against the reference's, overall and
        class by class (Bonferroni over the tests)."""
        ref_idx = np.searchsorted(self.classes_, self.y_ref_)
        groups = [(np.ones(len(idx), bool), np.ones(len(ref_idx), bool))]
        groups += [(idx == j, ref_idx == j) for j in range(len(self.classes_))]
        p = 1.0
        for rows, ref_rows in groups:
            kb, nb = int(flags[rows].sum()), int(rows.sum())
            kr, nr = int(ref_flags[ref_rows].sum()), int(ref_rows.sum())
            if nb and nr:
                table = [[kb, nb - kb], [kr, nr - kr]]
                p = min(p, float(stats.fisher_exact(table, alternative="greater").pvalue))
        p = min(1.0, p * len(groups))
        k, n = int(flags.sum()), len(flags)
        return self._signal(
            "label_disagreement",
            batch_id,
            p,
            k / n,
            f"{k}/{n} labels contradicted by the cross-fitted model (reference "
            f"{int(ref_flags.sum())}/{len(ref_flags)})",
        )

    def _tail_verdict(self, z: np.ndarray, rate: float, name: str, batch_id: str) -> Verdict:
        """Test whether more samples sit beyond ``z_flag`` than the reference's ``rate``."""
        k = int((z >= self.z_flag).sum())
        p = float(stats.binomtest(k, len(z), rate, alternative="greater").pvalue)
        return self._signal(
            name, batch_id, p, k / len(z), f"{k}/{len(z)} samples beyond robust z {self.z_flag}"
        )

    def _spectral(self, X: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, float]:
        """Return per-sample spectral-signature robust z-scores, computed class by class, and
        the share of reference samples beyond ``z_flag`` (add-one smoothed)."""
        Xs, Rs = self.scaler_.transform(X), self.scaler_.transform(self.X_ref_)
        ref_idx = np.searchsorted(self.classes_, self.y_ref_)
        out = np.zeros(len(X))
        ref_beyond = 0
        for j in range(len(self.classes_)):
            rows, ref_rows = idx == j, ref_idx == j
            if rows.sum() < self.min_class_size or ref_rows.sum() < self.min_class_size:
                continue
            centre = Xs[rows].mean(axis=0)
            _, _, vt = np.linalg.svd(Xs[rows] - centre, full_matrices=False)
            # Absolute projections (not squared) keep the tail near-Gaussian for the robust z.
            score = np.abs((Xs[rows] - centre) @ vt[0])
            ref_score = np.abs((Rs[ref_rows] - centre) @ vt[0])
            out[rows] = robust_z(score, ref_score)
            ref_beyond += int((robust_z(ref_score, ref_score) >= self.z_flag).sum())
        return out, (1 + ref_beyond) / (1 + len(self.X_ref_))

    def _activation_clusters(
        self, X: np.ndarray, y: np.ndarray, idx: np.ndarray, batch_id: str
    ) -> tuple[np.ndarray, Verdict]:
        """Return per-sample cluster scores and the batch verdict of activation clustering."""
        Xall = self.scaler_.transform(np.vstack([self.X_ref_, X]))
        yall = np.concatenate([self.y_ref_, y])
        net = MLPClassifier(
            hidden_layer_sizes=(self.hidden_units,), max_iter=300, random_state=self.random_state
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            net.fit(Xall, yall)
        hidden = np.maximum(Xall @ net.coefs_[0] + net.intercepts_[0], 0.0)
        n_ref = len(self.X_ref_)
        ref_idx = np.searchsorted(self.classes_, self.y_ref_)
        out = np.zeros(len(X))
        suspicious: list[dict[str, Any]] = []
        worst_p = 1.0
        for j in range(len(self.classes_)):
            rows, ref_rows = np.flatnonzero(idx == j), np.flatnonzero(ref_idx == j)
            if len(rows) < self.min_class_size or len(ref_rows) < self.min_class_size:
                continue
            acts = np.vstack([hidden[ref_rows], hidden[n_ref + rows]])
            dims = min(3, acts.shape[1], len(acts) - 1)
            reduced = PCA(n_components=dims, random_state=self.random_state).fit_transform(acts)
            labels = KMeans(n_clusters=2, n_init=4, random_state=self.random_state).fit_predict(
                reduced
            )
            ref_lab, new_lab = labels[: len(ref_rows)], labels[len(ref_rows) :]
            share_ref = len(ref_rows) / len(acts)
            # The cluster the trusted reference populates least is the candidate poison cluster.
            ref_frac = np.array(
                [(ref_lab == c).sum() / max((labels == c).sum(), 1) for c in (0, 1)]
            )
            cand = int(np.argmin(ref_frac))
            size = int((labels == cand).sum())
            p = float(
                stats.binomtest(
                    int((ref_lab == cand).sum()), size, share_ref, alternative="less"
                ).pvalue
            )
            worst_p = min(worst_p, p)
            centres = np.array([reduced[labels == c].mean(axis=0) for c in (0, 1)])
            d = np.linalg.norm(reduced[:, None, :] - centres[None], axis=2)
            lean = d[:, 1 - cand] - d[:, cand]
            ref_lean = lean[: len(ref_rows)]
            out[rows] = robust_z(lean[len(ref_rows) :], ref_lean) if p < self.alpha else 0.0
            if p < self.alpha:
                suspicious.append(
                    {
                        "label": self.classes_[j].item(),
                        "cluster_size": size,
                        "batch_members": int((new_lab == cand).sum()),
                        "p_value": p,
                    }
                )
        verdict = self._signal(
            "activation_clustering",
            batch_id,
            worst_p,
            float(len(suspicious)),
            f"{len(suspicious)} class(es) with a cluster the reference lacks",
            clusters=suspicious,
        )
        return out, verdict
