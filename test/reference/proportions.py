# Reference values for test/unit/statistics/proportions.test.ts: pooled two-proportion z-test (scipy.stats.norm)
# and Newcombe's hybrid score interval (method 10) built from scipy's Wilson intervals (binomtest.proportion_ci).
import json
from scipy import stats


def reference(c, t, alpha=0.05):
    pc, pt = c["x"] / c["n"], t["x"] / t["n"]
    diff = pt - pc
    pooled = (c["x"] + t["x"]) / (c["n"] + t["n"])
    se0 = (pooled * (1 - pooled) * (1 / c["n"] + 1 / t["n"])) ** 0.5
    p = 2 * stats.norm.sf(abs(diff / se0)) if se0 > 0 else 1.0
    wt = stats.binomtest(t["x"], t["n"]).proportion_ci(1 - alpha, method="wilson")
    wc = stats.binomtest(c["x"], c["n"]).proportion_ci(1 - alpha, method="wilson")
    low = diff - ((pt - wt.low) ** 2 + (wc.high - pc) ** 2) ** 0.5
    high = diff + ((wt.high - pt) ** 2 + (pc - wc.low) ** 2) ** 0.5
    return {"diff": diff, "pValue": p, "ciLow": low, "ciHigh": high}


cases = [
    ({"n": 1000, "x": 52}, {"n": 980, "x": 31}, 0.05),
    ({"n": 56, "x": 9}, {"n": 48, "x": 3}, 0.05),
    ({"n": 200, "x": 0}, {"n": 210, "x": 4}, 0.05),
    ({"n": 150, "x": 0}, {"n": 150, "x": 0}, 0.05),
    ({"n": 250000, "x": 12500}, {"n": 250000, "x": 13400}, 0.01),
    ({"n": 30, "x": 30}, {"n": 40, "x": 35}, 0.05),
]
for c, t, a in cases:
    print(json.dumps([c, t, a, reference(c, t, a)]) + ",")
