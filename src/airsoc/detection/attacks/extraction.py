"""Model extraction and probing, read from the gateway's request log.

Per client, over the window given:

* query volume: queries per hour against the other clients (robust z) and an optional hard
  limit;
* near-duplicate queries: the share of a client's queries whose nearest other query of the same
  client is closer than the 1st percentile of nearest-neighbour distances in the reference
  (sweeps and small perturbations of one input);
* boundary probing: the share of queries whose predicted probability sits within ``margin`` of
  the decision boundary, against the share in the reference traffic;
* grid-like probing: features whose values in a client's queries sit on a regular lattice
  (few distinct values, evenly spaced) where the same number of reference queries takes many
  more distinct values: a sweep of the input space.

The near-duplicate and boundary shares are judged against what is expected of any client: the
reference's share, or the other clients' share in the same window when they sent at least
``min_peer_queries`` and it is higher (when all traffic sits nearer the boundary, the model or
the traffic changed; that is not one client probing). A signal needs its excess over that
expectation to be significant and at least ``min_excess``.

The reference fit (scaling, neighbour distances, boundary share) is cached by a hash of the
reference, so a monitor run only scores the window.

Example:
    >>> import numpy as np
    >>> from datetime import datetime, timedelta, timezone
    >>> rng = np.random.default_rng(0)
    >>> X_ref = rng.normal(size=(500, 4)); p_ref = 1 / (1 + np.exp(-3 * X_ref[:, 0]))
    >>> detector = ExtractionDetector().fit(X_ref, p_ref)
    >>> t0 = datetime(2026, 3, 1, tzinfo=timezone.utc)
    >>> normal = rng.normal(size=(60, 4))
    >>> probe = np.repeat(rng.normal(size=(1, 4)), 300, axis=0)
    >>> probe[:, 0] = np.linspace(-0.05, 0.05, 300)
    >>> X = np.vstack([normal, probe])
    >>> scores = 1 / (1 + np.exp(-3 * X[:, 0]))
    >>> clients = ["shop"] * 60 + ["scraper"] * 300
    >>> times = [t0 + timedelta(seconds=30 * i) for i in range(60)] + [
    ...     t0 + timedelta(seconds=2 * i) for i in range(300)]
    >>> [(v.subject, v.decision) for v in detector.detect(clients=clients, X=X, scores=scores,
    ...                                                   times=times)]
    [('client:shop', 'ok'), ('client:scraper', 'drift')]
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import cKDTree
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from airsoc.detection._cache import FITTED, fingerprint, one_thread
from airsoc.detection.attacks._stats import robust_z
from airsoc.detection.verdict import Decision, Verdict
from airsoc.errors import DetectionError, InputError

__all__ = ["ExtractionDetector"]

EXTRACT = "AML.T0024.002"
API_ACCESS = "AML.T0040"


def _margin(scores: np.ndarray) -> np.ndarray:
    """Return the gap between the two likeliest classes (binary scores: |2p - 1|)."""
    if scores.ndim == 1:
        return np.asarray(np.abs(2 * scores - 1))
    top2 = np.sort(scores, axis=1)[:, -2:]
    return np.asarray(top2[:, 1] - top2[:, 0])


class ExtractionDetector:
    """Judge each client's queries for extraction and probing; return one verdict per client.

    ``margin`` is the probability gap that counts as "near the boundary" (queries near the
    boundary are boundary probing); ``max_per_hour`` an
    optional hard volume limit; ``min_queries`` the fewest queries a client needs to be judged;
    ``min_excess`` the least excess of a share over its expectation that counts as a signal;
    ``min_peer_queries`` the fewest queries of the other clients that set an expectation.
    """

    name = "model_extraction"

    def __init__(
        self,
        *,
        margin: float = 0.1,
        max_per_hour: float | None = None,
        volume_z: float = 5.0,
        min_queries: int = 20,
        alpha: float = 0.01,
        min_excess: float = 0.05,
        min_peer_queries: int = 100,
    ) -> None:
        if not 0 <= min_excess < 1:
            raise InputError(f"min_excess must be in [0, 1), got {min_excess}", loc="min_excess")
        self.min_excess = min_excess
        self.min_peer_queries = min_peer_queries
        self.margin = margin
        self.max_per_hour = max_per_hour
        self.volume_z = volume_z
        self.min_queries = min_queries
        self.alpha = alpha

    def fit(self, X_ref: Any, scores_ref: Any) -> ExtractionDetector:
        """Learn typical query spacing and boundary share from normal traffic."""
        X_ref = np.asarray(X_ref, dtype=float)
        scores_ref = np.asarray(scores_ref, dtype=float)
        if X_ref.ndim != 2 or len(X_ref) < 10 or len(scores_ref) != len(X_ref):
            raise InputError(
                "the reference needs at least 10 rows of features and one score per row",
                loc="reference",
            )
        key = fingerprint("extraction", X_ref, scores_ref, self.margin)
        fitted = FITTED.get_or_fit(key, lambda: self._fit(X_ref, scores_ref))
        self.scaler_, self.dup_radius_, self.boundary_rate_, self.X_ref_ = fitted
        self.dup_rate_ = 0.02  # by construction 1% of reference rows; doubled for tolerance
        return self

    def _fit(
        self, X_ref: np.ndarray, scores_ref: np.ndarray
    ) -> tuple[StandardScaler, float, float, np.ndarray]:
        scaler = StandardScaler().fit(X_ref)
        Z = scaler.transform(X_ref)
        with one_thread():
            dist, _ = NearestNeighbors(n_neighbors=2).fit(Z).kneighbors(Z)
        boundary = max(float((_margin(scores_ref) < self.margin).mean()), 1 / len(X_ref))
        return scaler, float(np.quantile(dist[:, 1], 0.01)), boundary, X_ref

    def grid_features(self, X: Any) -> list[int]:
        """Return the features whose values in ``X`` lie on a regular lattice unlike the reference.

        A feature is grid-like when its distinct values number at most a third of the queries
        and less than half of what as many reference queries take, and the gaps between
        consecutive distinct values are nearly equal (coefficient of variation below 0.1).

        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> ref = rng.normal(size=(500, 3)); detector = ExtractionDetector().fit(ref, ref[:, 0] > 0)
        >>> sweep = rng.normal(size=(100, 3)); sweep[:, 1] = np.repeat(np.linspace(-2, 2, 10), 10)
        >>> detector.grid_features(sweep)
        [1]
        """
        X = np.asarray(X, dtype=float)
        n = len(X)
        if n < self.min_queries:
            return []
        rows = np.random.default_rng(0).choice(len(self.X_ref_), min(n, len(self.X_ref_)), False)
        out = []
        for j in range(X.shape[1]):
            values = np.unique(X[:, j])
            expected = len(np.unique(self.X_ref_[rows, j]))
            if len(values) < 3 or len(values) > n / 3 or len(values) >= expected / 2:
                continue
            gaps = np.diff(values)
            if float(gaps.std() / max(gaps.mean(), 1e-12)) < 0.1:
                out.append(j)
        return out

    def detect(
        self,
        *,
        clients: Sequence[str],
        X: Any,
        scores: Any,
        times: Sequence[datetime],
    ) -> list[Verdict]:
        """Return one verdict per client seen in the log."""
        if not hasattr(self, "scaler_"):
            raise DetectionError("ExtractionDetector.detect called before fit")
        X = np.asarray(X, dtype=float)
        scores = np.asarray(scores, dtype=float)
        n = len(clients)
        if not (len(X) == len(scores) == len(times) == n):
            raise InputError(
                f"clients, X, scores and times differ in length ({n}, {len(X)}, "
                f"{len(scores)}, {len(times)})",
                loc="query_log",
            )
        if n == 0:
            return []
        codes, names = pd.factorize(pd.Series(list(clients), dtype=object))
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(names) + 1))
        groups = {str(c): order[bounds[i] : bounds[i + 1]] for i, c in enumerate(names)}
        Z = self.scaler_.transform(X)
        boundary = _margin(scores) < self.margin
        rates = {c: self._per_hour([times[int(i)] for i in rows]) for c, rows in groups.items()}
        all_rates = np.array(list(rates.values()))
        duplicate = np.zeros(n, dtype=bool)
        # The search stops just beyond the radius (a neighbour farther away is reported at an
        # infinite distance): only whether one lies within it counts, and its distance is the
        # one the full search finds.
        bound = self.dup_radius_ * (1 + 1e-6) + 1e-300
        for rows in groups.values():
            if len(rows) >= 2:
                dist, _ = cKDTree(Z[rows]).query(Z[rows], k=2, distance_upper_bound=bound)
                duplicate[rows] = dist[:, 1] <= self.dup_radius_
        return [
            self._verdict(c, rows, X, duplicate, boundary, rates[c], all_rates)
            for c, rows in groups.items()
        ]

    def _expected(self, own: float, flags: np.ndarray, rows: np.ndarray) -> tuple[float, str]:
        """Return the share expected of a client for a signal: ``own`` (the reference's), or
        the upper 99% bound of the other clients' share when that is higher."""
        peers_n = len(flags) - len(rows)
        if peers_n >= self.min_peer_queries:
            peers_k = int(flags.sum() - flags[rows].sum())
            upper = float(stats.beta.ppf(0.99, peers_k + 1, peers_n - peers_k))
            if upper > own:
                return upper, "other clients"
        return own, "reference"

    def _signal(self, k: int, n: int, expected: float) -> tuple[bool, float]:
        """Return whether ``k`` of ``n`` is significantly and materially above ``expected``."""
        p = float(stats.binomtest(k, n, expected, alternative="greater").pvalue)
        large = k / n >= max(2 * expected, expected + self.min_excess)
        return p < self.alpha and large, p

    @staticmethod
    def _per_hour(times: Sequence[datetime]) -> float:
        span = (max(times) - min(times)).total_seconds() / 3600
        return len(times) / max(span, 1 / 60)

    def _verdict(
        self,
        client: str,
        rows: np.ndarray,
        X: np.ndarray,
        duplicate: np.ndarray,
        boundary: np.ndarray,
        rate: float,
        all_rates: np.ndarray,
    ) -> Verdict:
        n = len(rows)
        subject = f"client:{client}"
        if n < self.min_queries:
            return Verdict(
                detector=self.name,
                method="volume+duplicates+boundary",
                subject=subject,
                failure_mode="model_extraction",
                decision="ok",
                n_current=n,
                reason=f"only {n} queries: too few to judge",
            )
        k_dup = int(duplicate[rows].sum())
        dup_share = k_dup / n
        dup_expected, _ = self._expected(self.dup_rate_, duplicate, rows)
        dup_hit, p_dup = self._signal(k_dup, n, dup_expected)
        k_b = int(boundary[rows].sum())
        boundary_expected, basis = self._expected(self.boundary_rate_, boundary, rows)
        boundary_hit, p_boundary = self._signal(k_b, n, boundary_expected)
        z_volume = float(robust_z(np.array([rate]), all_rates)[0]) if len(all_rates) > 2 else 0.0
        volume_hit = (self.max_per_hour is not None and rate > self.max_per_hour) or (
            z_volume >= self.volume_z
        )
        grid = self.grid_features(X[rows])
        hits = {
            "volume": volume_hit,
            "near_duplicates": dup_hit,
            "boundary_probing": boundary_hit,
            "grid_probing": bool(grid),
        }
        found = [k for k, v in hits.items() if v]
        decision: Decision = (
            "drift" if len(found) >= 2 or hits["boundary_probing"] else ("warn" if found else "ok")
        )
        return Verdict(
            detector=self.name,
            method="volume+duplicates+boundary",
            subject=subject,
            failure_mode="model_extraction",
            statistic=round(k_b / n, 4),
            p_value=min(p_dup, p_boundary),
            threshold=self.alpha,
            threshold_source="fixed",
            decision=decision,
            n_current=n,
            reason=(
                f"{n} queries at {rate:.0f}/h; near-duplicates {dup_share:.0%}; "
                f"near the boundary {k_b / n:.0%} (expected at most {boundary_expected:.0%}, "
                f"from the {basis})" + (f"; signals: {', '.join(found)}" if found else "")
            ),
            evidence={
                "atlas": [EXTRACT, API_ACCESS] if decision != "ok" else [],
                "signals": hits,
                "queries_per_hour": round(rate, 2),
                "volume_z": round(z_volume, 2),
                "near_duplicate_share": round(dup_share, 4),
                "boundary_share": round(k_b / n, 4),
                "boundary_expected": round(boundary_expected, 4),
                "near_duplicate_expected": round(dup_expected, 4),
                "grid_features": grid,
            },
        )
