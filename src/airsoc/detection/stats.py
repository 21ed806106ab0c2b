"""Return two-sample statistics, vectorised over columns, computed from summaries.

Every function takes the two empirical distributions as arrays with one row per column, so a
whole table is tested with a handful of numpy calls:

* numeric columns arrive as CDFs evaluated at shared points (``cdf_ref``, ``cdf_cur`` of shape
  ``(columns, points)``) plus the cell widths between the points;
* categorical columns arrive as counts over the union of their categories.

Statistics: Kolmogorov-Smirnov (with an asymptotic p-value that stays fast at n = 1M and a
sketch-aware variant that removes the sketch's rank-error bound from the statistic before
computing the p-value, so a sketch never looks more certain than it is), a two-sample chi-square
contingency test (both windows are samples; neither is taken as the truth), PSI with the usual
0.1 / 0.25 bands, Jensen-Shannon distance, Hellinger distance, Wasserstein-1 normalised by the
reference standard deviation, Cramer-von Mises and Anderson-Darling statistics, and the
Benjamini-Hochberg and Bonferroni corrections.

Example:
    >>> import numpy as np
    >>> cdf_ref = np.array([[0.2, 0.5, 1.0]]); cdf_cur = np.array([[0.1, 0.3, 1.0]])
    >>> ks_statistic(cdf_ref, cdf_cur).tolist()
    [0.2]
    >>> round(float(ks_pvalue(np.array([0.2]), 100, 100)[0]), 4)
    0.0314
"""

from __future__ import annotations

from typing import TypeAlias, cast

import numpy as np
import numpy.typing as npt
from scipy import special, stats

__all__ = [
    "PSI_BANDS",
    "anderson_darling",
    "benjamini_hochberg",
    "bonferroni",
    "chi2_contingency",
    "cramer_von_mises",
    "hellinger",
    "jensen_shannon",
    "ks_exact",
    "ks_pvalue",
    "ks_statistic",
    "psi",
    "psi_band",
    "total_variation",
    "wasserstein",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]

#: PSI below 0.1: no significant change; 0.1-0.25: moderate; above 0.25: major.
PSI_BANDS = (0.1, 0.25)
_EPS = 1e-4


def ks_statistic(cdf_ref: FloatArray, cdf_cur: FloatArray) -> FloatArray:
    """Return the KS distance ``max |cdf_ref - cdf_cur|`` per row.

    >>> ks_statistic(np.array([[0.0, 1.0]]), np.array([[0.5, 1.0]])).tolist()
    [0.5]
    """
    return cast(FloatArray, np.abs(cdf_ref - cdf_cur).max(axis=-1))


def ks_pvalue(
    d: FloatArray,
    n: int | npt.NDArray[np.int64],
    m: int | npt.NDArray[np.int64],
    rank_error: float | FloatArray = 0.0,
) -> FloatArray:
    """Return the two-sided KS p-value for distances ``d`` (sketch-aware with ``rank_error``).

    With a rank-error bound ``e`` the statistic is only known to lie in ``d +- e``; the p-value
    is computed for ``max(d - e, 0)``, the least extreme value consistent with the sketch.
    Small samples use the exact Kolmogorov distribution, large ones its limit.

    >>> ks_pvalue(np.array([0.05]), 10_000, 10_000, rank_error=0.05).tolist()
    [1.0]
    """
    d = np.maximum(np.asarray(d, dtype=np.float64) - rank_error, 0.0)
    nn = np.broadcast_to(np.asarray(n, dtype=np.float64), d.shape)
    mm = np.broadcast_to(np.asarray(m, dtype=np.float64), d.shape)
    en = np.where((nn > 0) & (mm > 0), nn * mm / np.maximum(nn + mm, 1), 0.0)
    out = np.ones_like(d)
    small = (en > 0) & (en < 1_000)
    large = en >= 1_000
    if small.any():
        out[small] = stats.kstwo.sf(d[small], np.round(en[small]))
    if large.any():
        out[large] = special.kolmogorov(np.sqrt(en[large]) * d[large])
    return cast(FloatArray, np.clip(out, 0.0, 1.0))


def ks_exact(a: FloatArray, b: FloatArray) -> float:
    """Return the exact KS distance between two sorted samples.

    >>> ks_exact(np.array([1.0, 2.0, 3.0]), np.array([2.5, 3.5, 4.5]))
    0.6666666666666667
    """
    if len(a) == 0 or len(b) == 0:
        return 0.0
    points = np.concatenate([a, b])
    fa = np.searchsorted(a, points, side="right") / len(a)
    fb = np.searchsorted(b, points, side="right") / len(b)
    return float(np.abs(fa - fb).max())


def _shares(p: FloatArray) -> FloatArray:
    total = p.sum(axis=-1, keepdims=True)
    return p / np.where(total > 0, total, 1)


def psi(p: FloatArray, q: FloatArray) -> FloatArray:
    """Return the population stability index of ``q`` (current) against ``p`` (reference).

    Bins with no mass on one side are smoothed with a share of 1e-4.

    >>> round(float(psi(np.array([[50, 50]]), np.array([[60, 40]]))[0]), 4)
    0.0405
    """
    ps = np.maximum(_shares(np.asarray(p, dtype=np.float64)), _EPS)
    qs = np.maximum(_shares(np.asarray(q, dtype=np.float64)), _EPS)
    return cast(FloatArray, ((qs - ps) * np.log(qs / ps)).sum(axis=-1))


def psi_band(value: float) -> str:
    """Return the conventional reading of a PSI value: ``none``, ``moderate`` or ``major``.

    >>> psi_band(0.05), psi_band(0.2), psi_band(0.4)
    ('none', 'moderate', 'major')
    """
    if value < PSI_BANDS[0]:
        return "none"
    return "moderate" if value < PSI_BANDS[1] else "major"


def jensen_shannon(p: FloatArray, q: FloatArray) -> FloatArray:
    """Return the Jensen-Shannon distance (base 2, in [0, 1]) between count rows.

    >>> jensen_shannon(np.array([[1, 0]]), np.array([[0, 1]])).tolist()
    [1.0]
    """
    ps, qs = _shares(np.asarray(p, np.float64)), _shares(np.asarray(q, np.float64))
    mid = (ps + qs) / 2

    def kl(a: FloatArray) -> FloatArray:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(a > 0, a * np.log2(a / np.where(mid > 0, mid, 1)), 0.0)
        return cast(FloatArray, terms.sum(axis=-1))

    return cast(FloatArray, np.sqrt(np.clip((kl(ps) + kl(qs)) / 2, 0.0, 1.0)))


def hellinger(p: FloatArray, q: FloatArray) -> FloatArray:
    """Return the Hellinger distance (in [0, 1]) between count rows.

    >>> hellinger(np.array([[1, 1]]), np.array([[1, 1]])).tolist()
    [0.0]
    """
    ps, qs = _shares(np.asarray(p, np.float64)), _shares(np.asarray(q, np.float64))
    bc = np.sqrt(ps * qs).sum(axis=-1)
    return cast(FloatArray, np.sqrt(np.clip(1.0 - bc, 0.0, 1.0)))


def total_variation(p: FloatArray, q: FloatArray) -> FloatArray:
    """Return the total variation distance (half the L1 distance of the shares).

    >>> total_variation(np.array([[50, 50]]), np.array([[70, 30]])).tolist()
    [0.2]
    """
    ps, qs = _shares(np.asarray(p, np.float64)), _shares(np.asarray(q, np.float64))
    return cast(FloatArray, np.round(np.abs(ps - qs).sum(axis=-1) / 2, 12))


def wasserstein(
    cdf_ref: FloatArray, cdf_cur: FloatArray, widths: FloatArray, scale: FloatArray
) -> FloatArray:
    """Return Wasserstein-1 (the area between the CDFs) divided by ``scale`` (reference sd).

    ``widths`` are the distances between consecutive evaluation points. A zero scale gives NaN,
    which callers turn into a reason, never a decision.

    >>> wasserstein(np.array([[0.0, 1.0]]), np.array([[1.0, 1.0]]), np.array([[2.0, 0.0]]),
    ...             np.array([1.0])).tolist()
    [2.0]
    """
    area = (np.abs(cdf_ref - cdf_cur) * widths).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return cast(FloatArray, np.where(scale > 0, area / np.where(scale > 0, scale, 1), np.nan))


def cramer_von_mises(
    cdf_ref: FloatArray, cdf_cur: FloatArray, n: FloatArray, m: FloatArray
) -> FloatArray:
    """Return the two-sample Cramer-von Mises statistic ``T`` from CDFs at shared points.

    >>> float(cramer_von_mises(np.array([[0.5, 1.0]]), np.array([[0.5, 1.0]]),
    ...                        np.array([10.0]), np.array([10.0]))[0])
    0.0
    """
    cdf_pool = (n[:, None] * cdf_ref + m[:, None] * cdf_cur) / (n + m)[:, None]
    d_pool = np.diff(cdf_pool, axis=-1, prepend=0.0)
    return cast(FloatArray, (n * m / (n + m)) * ((cdf_ref - cdf_cur) ** 2 * d_pool).sum(axis=-1))


def anderson_darling(
    cdf_ref: FloatArray, cdf_cur: FloatArray, n: FloatArray, m: FloatArray
) -> FloatArray:
    """Return the two-sample Anderson-Darling statistic (tail-weighted CvM) from CDFs.

    >>> float(anderson_darling(np.array([[0.5, 1.0]]), np.array([[0.5, 1.0]]),
    ...                        np.array([10.0]), np.array([10.0]))[0])
    0.0
    """
    cdf_pool = (n[:, None] * cdf_ref + m[:, None] * cdf_cur) / (n + m)[:, None]
    d_pool = np.diff(cdf_pool, axis=-1, prepend=0.0)
    weight = cdf_pool * (1 - cdf_pool)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(
            weight > 0, (cdf_ref - cdf_cur) ** 2 / np.where(weight > 0, weight, 1), 0.0
        )
    return cast(FloatArray, (n * m / (n + m)) * (terms * d_pool).sum(axis=-1))


def chi2_contingency(ref: FloatArray, cur: FloatArray) -> tuple[float, float, int]:
    """Return ``(statistic, p_value, dof)`` of the two-sample chi-square test on two count rows.

    Both rows are samples: expected counts come from the pooled shares. Categories expected
    fewer than 5 times in either window are pooled into one cell (and that cell into the
    smallest other one if it is still too small), so the chi-square approximation holds.

    >>> stat, p, dof = chi2_contingency(np.array([50.0, 50.0]), np.array([50.0, 50.0]))
    >>> stat, p, dof
    (0.0, 1.0, 1)
    """
    ref = np.asarray(ref, np.float64)
    cur = np.asarray(cur, np.float64)
    nr, nc = ref.sum(), cur.sum()
    if nr == 0 or nc == 0:
        return 0.0, 1.0, 0
    pooled = (ref + cur) / (nr + nc)
    keep = pooled > 0
    ref, cur, pooled = ref[keep], cur[keep], pooled[keep]
    small = pooled * min(nr, nc) < 5
    if small.any() and small.sum() < len(pooled):
        ref = np.append(ref[~small], ref[small].sum())
        cur = np.append(cur[~small], cur[small].sum())
        pooled = np.append(pooled[~small], pooled[small].sum())
        if pooled[-1] * min(nr, nc) < 5 and len(pooled) > 2:
            j = int(np.argmin(pooled[:-1]))
            ref[j] += ref[-1]
            cur[j] += cur[-1]
            pooled[j] += pooled[-1]
            ref, cur, pooled = ref[:-1], cur[:-1], pooled[:-1]
    dof = len(pooled) - 1
    if dof < 1:
        return 0.0, 1.0, 0
    er, ec = nr * pooled, nc * pooled
    stat = float((((ref - er) ** 2) / er + ((cur - ec) ** 2) / ec).sum())
    return stat, float(stats.chi2.sf(stat, dof)), dof


def benjamini_hochberg(p: FloatArray) -> FloatArray:
    """Return Benjamini-Hochberg q-values (false discovery rate adjusted p-values).

    >>> benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5])).round(3).tolist()
    [0.04, 0.053, 0.053, 0.5]
    """
    p = np.asarray(p, dtype=np.float64)
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.clip(q, 0, 1)
    return out


def bonferroni(p: FloatArray) -> FloatArray:
    """Return Bonferroni-adjusted p-values (family-wise error control).

    >>> bonferroni(np.array([0.01, 0.5])).tolist()
    [0.02, 1.0]
    """
    p = np.asarray(p, dtype=np.float64)
    return cast(FloatArray, np.clip(p * len(p), 0, 1))
