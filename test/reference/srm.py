# Reference values for test/unit/statistics/srm.test.ts. eps = 0: scipy.stats.chisquare (Pearson). eps > 0: the
# counter-aware statistic in numpy: d = O - N p, cov = N (diag p - p p^T) + (I - p 1^T) diag(eps^2 O^2) (I - p 1^T)^T,
# statistic = d[:k-1] @ solve(cov[:k-1, :k-1], d[:k-1]), p = scipy.stats.chi2.sf(statistic, k - 1).
import json
import numpy as np
from scipy import stats


def counter_aware(observed, shares, eps):
    o = np.asarray(observed, dtype=float)
    p = np.asarray(shares, dtype=float) / np.sum(shares)
    n, k = o.sum(), o.size
    d = o - n * p
    a = np.eye(k) - np.outer(p, np.ones(k))
    cov = n * (np.diag(p) - np.outer(p, p)) + a @ np.diag(eps**2 * o**2) @ a.T
    stat = float(d[: k - 1] @ np.linalg.solve(cov[: k - 1, : k - 1], d[: k - 1]))
    return stat, float(stats.chi2.sf(stat, k - 1))


print("pearson")
for observed, shares in [([5020, 4980], [1, 1]), ([5300, 4700], [0.5, 0.5]), ([9480, 520], [95, 5]),
                         ([3100, 2950, 4000], [0.3, 0.3, 0.4]), ([120, 80, 15, 5], [0.5, 0.3, 0.15, 0.05])]:
    p = np.asarray(shares) / np.sum(shares)
    r = stats.chisquare(observed, np.sum(observed) * p)
    assert np.isclose(counter_aware(observed, shares, 0.0)[0], r.statistic, rtol=1e-12)
    print(json.dumps([observed, shares, float(r.statistic), float(r.pvalue)]) + ",")
print("counter-aware")
for observed, shares, eps in [([502000, 498000], [1, 1], 0.0081), ([515000, 485000], [1, 1], 0.0081),
                              ([951500, 48500], [95, 5], 0.0081), ([5020, 4980], [1, 1], 0.0081),
                              ([310000, 296000, 399000], [0.3, 0.3, 0.4], 0.0081), ([530000, 470000], [1, 1], 0.02)]:
    stat, pv = counter_aware(observed, shares, eps)
    print(json.dumps([observed, shares, eps, stat, pv]) + ",")
