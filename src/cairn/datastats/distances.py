"""Drift scores computed from stored statistics alone: the 101-point quantile sketch of a numeric
column, the value counts of a categorical one. Pure Python over at most a few hundred numbers,
so drift between two versions whose stats exist costs microseconds per column.

The sketch approximates each distribution to 1% of its mass, which bounds the error of the KS
statistic and PSI bins by about 0.01; the Wasserstein distance is the area between the two
quantile functions, which the sketch gives directly."""

from __future__ import annotations

import math
from bisect import bisect_right
from itertools import pairwise

# PSI's bins: the reference's deciles; empty bins count as this share (log(0) is undefined)
PSI_BINS = 10
PSI_EPS = 1e-4


def cdf(sketch: list[float], v: float) -> float:
    """P(X <= v) for the distribution the sketch describes (linear between its points)."""
    n = len(sketch) - 1
    if v < sketch[0]:
        return 0.0
    if v >= sketch[-1]:
        return 1.0
    j = bisect_right(sketch, v) - 1
    lo, hi = sketch[j], sketch[j + 1]
    return (j + (v - lo) / (hi - lo)) / n


def ks(ref: list[float], cur: list[float]) -> float:
    """The Kolmogorov-Smirnov statistic: the largest gap between the two CDFs."""
    return max(abs(cdf(ref, v) - cdf(cur, v)) for v in set(ref) | set(cur))


def psi(ref: list[float], cur: list[float]) -> float:
    """Population stability index over bins cut at the reference's deciles."""
    n = len(ref) - 1
    edges = sorted({ref[round(k * n / PSI_BINS)] for k in range(1, PSI_BINS)})
    e = _shares(ref, edges)
    a = _shares(cur, edges)
    return sum((ai - ei) * math.log(ai / ei) for ai, ei in zip(a, e, strict=True))


def _shares(sketch: list[float], edges: list[float]) -> list[float]:
    cuts = [0.0, *(cdf(sketch, x) for x in edges), 1.0]
    return [max(hi - lo, PSI_EPS) for lo, hi in pairwise(cuts)]


def wasserstein(ref: list[float], cur: list[float], scale: float | None) -> float:
    """The earth mover's distance (area between the quantile functions), divided by the
    reference's standard deviation so one threshold fits every column (as Evidently does)."""
    n = len(ref) - 1
    gaps = [abs(a - b) for a, b in zip(ref, cur, strict=True)]
    area = sum((gaps[i] + gaps[i + 1]) / 2 for i in range(n)) / n
    return area / max(scale or 0.0, 1e-3)


def shares(counts: dict, total: int, distinct: int | None = None, keys: set | None = None) -> dict:
    """Value -> share of the non-null rows over `keys` (default: the counted values), with what
    they do not cover as one more bucket. When only the top values were kept (`distinct` more
    than counted), a key outside them gets the average share of the uncounted values, capped at
    the least counted one: left at 0, two versions' different tops would look like drift."""
    if not total:
        return {}
    out = {k: v / total for k, v in counts.items()}
    rest = total - sum(counts.values())
    unseen = (distinct or 0) - len(counts)
    if keys and unseen > 0 and rest > 0:
        guess = min(rest / unseen, min(counts.values(), default=rest)) / total
        for k in keys - counts.keys():
            out[k] = guess
    rest_share = 1.0 - sum(out.values())
    if rest_share > 1e-12:
        out[OTHER] = rest_share
    return out


OTHER = ("other",)  # a key no stored value can equal


def jensenshannon(p: dict, q: dict) -> float:
    """Jensen-Shannon distance (natural log; the square root of the divergence, as scipy and
    Evidently compute it): 0 for equal distributions, at most sqrt(ln 2) ~ 0.83."""
    div = 0.0
    for k in p.keys() | q.keys():
        a, b = p.get(k, 0.0), q.get(k, 0.0)
        m = (a + b) / 2
        if a:
            div += a * math.log(a / m) / 2
        if b:
            div += b * math.log(b / m) / 2
    return math.sqrt(max(div, 0.0))


def chisquare(ref: dict, cur: dict, n_cur: int) -> tuple[float, int]:
    """Pearson's statistic of the current counts against the reference's shares, and its degrees
    of freedom. A value the reference never had gets a tiny expected share."""
    keys = ref.keys() | cur.keys()
    stat = 0.0
    for k in keys:
        expected = max(ref.get(k, 0.0), PSI_EPS) * n_cur
        stat += (cur.get(k, 0.0) * n_cur - expected) ** 2 / expected
    return stat, max(len(keys) - 1, 1)


def ks_pvalue(d: float, n: int, m: int) -> float:
    """The asymptotic two-sample KS p-value (Kolmogorov's distribution)."""
    en = math.sqrt(n * m / (n + m))
    lam = (en + 0.12 + 0.11 / en) * d
    if lam < 1e-3:
        return 1.0
    total = sum((-1) ** (j - 1) * math.exp(-2 * j * j * lam * lam) for j in range(1, 101))
    return min(max(2 * total, 0.0), 1.0)


def chi2_pvalue(stat: float, dof: int) -> float:
    """P(X >= stat) for chi-squared with `dof` degrees of freedom: the regularized upper
    incomplete gamma Q(dof/2, stat/2)."""
    a, x = dof / 2, stat / 2
    if x <= 0:
        return 1.0
    if x < a + 1:  # series for P, then Q = 1 - P
        term = total = 1 / a
        k = a
        for _ in range(1000):
            k += 1
            term *= x / k
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1 - total * math.exp(-x + a * math.log(x) - math.lgamma(a)))
    # continued fraction for Q (Lentz)
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(-x + a * math.log(x) - math.lgamma(a)) * h)
