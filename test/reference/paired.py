# Reference values for test/unit/statistics/paired.test.ts:
# - pairedT: scipy.stats.ttest_rel(candidate, baseline) and its confidence_interval();
# - wilcoxonSignedRank: scipy.stats.wilcoxon(d, zero_method="wilcox", correction=False, method=exact|approx);
# - signTestPValue: scipy.stats.binomtest(k, n, 0.5).pvalue;
# - pairedProportions: Newcombe's paired method 10 built from scipy's Wilson intervals
#   (binomtest(...).proportion_ci(method="wilson")), the sign test on the discordant pairs.
import json
import numpy as np
from scipy import stats

rng = np.random.default_rng(15)
r = lambda x: float(x)

print("// PAIRED_T")
tcases = []
base = rng.beta(6, 4, 40)
cand = np.clip(base + rng.normal(-0.01, 0.05, 40), 0, 1)
tcases.append((cand, base, 0.05))
base = rng.beta(2, 2, 12)
cand = np.clip(base + rng.normal(0.05, 0.1, 12), 0, 1)
tcases.append((cand, base, 0.10))
base = rng.uniform(0, 1, 60)
cand = np.clip(base - 0.03 + rng.normal(0, 0.02, 60), 0, 1)
tcases.append((cand, base, 0.05))
tcases.append((np.array([0.5, 0.75, 1.0]), np.array([0.5, 0.5, 0.5]), 0.05))
for cand, base, alpha in tcases:
    res = stats.ttest_rel(cand, base)
    ci = res.confidence_interval(1 - alpha)
    d = cand - base
    print(json.dumps([[r(x) for x in d], alpha, {"meanDiff": r(d.mean()), "t": r(res.statistic), "df": r(res.df),
                      "pValue": r(res.pvalue), "ciLow": r(ci.low), "ciHigh": r(ci.high)}]) + ",")

print("// WILCOXON")
wcases = [
    np.round(rng.normal(0.02, 0.1, 20), 6),                       # exact, no ties
    np.array([0.1, -0.2, 0.3, 0.0, 0.4, 0.5, -0.6, 0.7, 0.8, 0.9]),  # a zero: dropped; exact on 9
    np.round(rng.normal(-0.05, 0.1, 80), 6),                      # n > 50: approx
    np.array([0.25, 0.25, -0.25, 0.5, 0.5, 0.5, -0.5, 0.75, 0.25, 1.0, 0.25, -0.75]),  # ties: approx
]
for d in wcases:
    nz = d[d != 0]
    ties = len(np.unique(np.abs(nz))) != len(nz)
    method = "approx" if (len(nz) > 50 or ties) else "exact"
    res = stats.wilcoxon(d, zero_method="wilcox", correction=False, method=method)
    ranks = stats.rankdata(np.abs(nz))
    print(json.dumps([[r(x) for x in d], {"rPlus": r(ranks[nz > 0].sum()), "pValue": r(res.pvalue), "method": method}]) + ",")

print("// SIGN")
for k, n in [(0, 0), (3, 10), (10, 10), (5, 10), (40, 100), (1200, 2500), (0, 3)]:
    p = 1.0 if n == 0 else stats.binomtest(k, n, 0.5).pvalue
    print(json.dumps([k, n, r(p)]) + ",")

print("// PROPORTIONS")


def newcombe(e, f, g, h, alpha):
    n = e + f + g + h
    p1, p2 = (e + f) / n, (e + g) / n
    conf = 1 - alpha
    c1 = stats.binomtest(e + f, n).proportion_ci(conf, method="wilson")
    c2 = stats.binomtest(e + g, n).proportion_ci(conf, method="wilson")
    l1, u1, l2, u2 = c1.low, c1.high, c2.low, c2.high
    den = np.sqrt(float((e + f) * (g + h) * (e + g) * (f + h)))
    phi = (e * h - f * g) / den if den > 0 else 0.0
    d = (f - g) / n
    lo = d - np.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    hi = d + np.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    pv = 1.0 if f + g == 0 else stats.binomtest(f, f + g, 0.5).pvalue
    return {"diff": r(d), "pValue": r(pv), "ciLow": r(max(-1, lo)), "ciHigh": r(min(1, hi))}


for counts, alpha in [((30, 5, 2, 3), 0.05), ((40, 0, 0, 0), 0.05), ((20, 0, 6, 14), 0.05),
                      ((12, 3, 3, 12), 0.1), ((400, 11, 25, 64), 0.05), ((0, 0, 0, 10), 0.05)]:
    e, f, g, h = counts
    print(json.dumps([{"both": e, "candidateOnly": f, "baselineOnly": g, "neither": h}, alpha, newcombe(e, f, g, h, alpha)]) + ",")
