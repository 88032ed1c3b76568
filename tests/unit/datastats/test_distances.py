"""The drift maths against values scipy gives for the same inputs (scipy is not a dependency:
the expected numbers were computed with it once and written here)."""

from __future__ import annotations

import math
import random

import pytest

from cairn.datastats import distances as d


def sketch(values: list[float]) -> list[float]:
    s = sorted(values)
    return [s[round(p / 100 * (len(s) - 1))] for p in range(101)]


def test_identical_distributions_score_zero() -> None:
    rnd = random.Random(0)
    s = sketch([rnd.gauss(0, 1) for _ in range(5000)])
    assert d.ks(s, s) == 0
    assert d.psi(s, s) == pytest.approx(0, abs=1e-12)
    assert d.wasserstein(s, s, 1.0) == 0
    assert d.jensenshannon({"a": 0.3, "b": 0.7}, {"a": 0.3, "b": 0.7}) == 0


def test_scores_of_a_shift_match_the_sample_values() -> None:
    rnd = random.Random(1)
    a = [rnd.gauss(0, 1) for _ in range(20000)]
    b = [rnd.gauss(0.5, 1) for _ in range(20000)]
    sa, sb = sketch(a), sketch(b)
    # a shift of half a standard deviation: KS ~ 0.197, Wasserstein / std ~ 0.5
    assert d.ks(sa, sb) == pytest.approx(0.197, abs=0.015)
    assert d.wasserstein(sa, sb, 1.0) == pytest.approx(0.5, abs=0.03)
    assert d.psi(sa, sb) > 0.1


def test_cdf() -> None:
    s = [float(i) for i in range(101)]
    assert d.cdf(s, -1) == 0 and d.cdf(s, 100) == 1 and d.cdf(s, 50) == 0.5 and d.cdf(s, 25.5) == 0.255


def test_jensenshannon_matches_scipy() -> None:
    # scipy.spatial.distance.jensenshannon([0.5, 0.5], [0.9, 0.1])
    assert d.jensenshannon({"a": 0.5, "b": 0.5}, {"a": 0.9, "b": 0.1}) == pytest.approx(0.31898154347735663)
    assert d.jensenshannon({"a": 1.0}, {"b": 1.0}) == pytest.approx(math.sqrt(math.log(2)))


@pytest.mark.parametrize(
    ("stat", "dof", "expected"),  # scipy.stats.chi2.sf(stat, dof)
    [
        (3.0, 2, 0.22313016014842982),
        (10.0, 5, 0.07523524614651217),
        (50.0, 30, 0.01240206071890054),
        (0.5, 1, 0.47950012218695337),
        (200, 150, 0.003973185970821635),
    ],
)
def test_chi2_pvalue_matches_scipy(stat: float, dof: int, expected: float) -> None:
    assert d.chi2_pvalue(stat, dof) == pytest.approx(expected, rel=1e-9)


def test_ks_pvalue() -> None:
    # scipy.stats.kstwo.sf(0.05, 150) = 0.829; the asymptotic form is close at this size
    assert d.ks_pvalue(0.05, 300, 300) == pytest.approx(0.83, abs=0.02)
    # at a million rows a trivial gap is "significant": the reason verdicts use distances
    assert d.ks_pvalue(0.01, 1_000_000, 1_000_000) < 1e-30


def test_shares_keep_the_rest_as_one_bucket() -> None:
    assert d.shares({"a": 6, "b": 2}, 10) == pytest.approx({"a": 0.6, "b": 0.2, d.OTHER: 0.2})
    # 4 values beyond the kept 2: an unseen key gets their average share, capped by the least kept
    assert d.shares({"a": 6, "b": 2}, 10, distinct=6, keys={"a", "b", "z"}) == pytest.approx(
        {"a": 0.6, "b": 0.2, "z": 0.05, d.OTHER: 0.15}
    )
