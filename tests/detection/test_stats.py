from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from airsoc.detection import stats


def test_exact_ks_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    a, b = np.sort(rng.normal(size=700)), np.sort(rng.normal(0.1, 1, 500))
    ref = sps.ks_2samp(a, b)
    assert stats.ks_exact(a, b) == pytest.approx(ref.statistic)
    p = stats.ks_pvalue(np.array([ref.statistic]), 700, 500)[0]
    assert p == pytest.approx(ref.pvalue, rel=0.1)


def test_sketch_aware_pvalue_is_never_more_certain() -> None:
    d = np.array([0.01, 0.02, 0.05])
    plain = stats.ks_pvalue(d, 100_000, 100_000)
    aware = stats.ks_pvalue(d, 100_000, 100_000, rank_error=0.013)
    assert (aware >= plain).all()
    assert aware[0] == 1.0


def test_chi2_is_a_two_sample_test_matching_scipy_contingency() -> None:
    ref, cur = np.array([300.0, 200.0, 100.0]), np.array([250.0, 260.0, 90.0])
    stat, p, dof = stats.chi2_contingency(ref, cur)
    expected = sps.chi2_contingency(np.vstack([ref, cur]), correction=False)
    assert stat == pytest.approx(expected.statistic)
    assert p == pytest.approx(expected.pvalue)
    assert dof == expected.dof
    # Rare categories are pooled rather than left with tiny expected counts.
    _, _, pooled_dof = stats.chi2_contingency(
        np.array([500.0, 500.0, 1.0, 1.0]), np.array([500.0, 500.0, 0.0, 2.0])
    )
    assert pooled_dof == 1


def test_divergences_are_zero_on_identical_and_bounded_on_disjoint() -> None:
    same = np.array([[10.0, 20.0, 30.0]])
    apart = (np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]))
    assert stats.psi(same, same)[0] == 0
    assert stats.jensen_shannon(same, same)[0] == 0
    assert stats.hellinger(*apart)[0] == 1
    assert stats.total_variation(*apart)[0] == 1


def test_bh_matches_the_textbook_procedure() -> None:
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    q = stats.benjamini_hochberg(p)
    assert (q <= 0.05).sum() == 2
    assert stats.bonferroni(p)[0] == pytest.approx(0.01)


def test_cvm_matches_scipy_on_exact_cdfs() -> None:
    rng = np.random.default_rng(1)
    a, b = np.sort(rng.normal(size=300)), np.sort(rng.normal(0.3, 1, 200))
    pts = np.sort(np.concatenate([a, b]))
    cdf_ref = (np.searchsorted(a, pts, side="right") / len(a))[None]
    cdf_cur = (np.searchsorted(b, pts, side="right") / len(b))[None]
    t = stats.cramer_von_mises(cdf_ref, cdf_cur, np.array([300.0]), np.array([200.0]))[0]
    assert t == pytest.approx(sps.cramervonmises_2samp(a, b).statistic, rel=1e-6)
