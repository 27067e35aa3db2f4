# Reference values for test/unit/statistics/welch.test.ts:
# scipy.stats.ttest_ind_from_stats(equal_var=False) and the Welch-Satterthwaite interval.
import json
import numpy as np
from scipy import stats

rng = np.random.default_rng(14)


def summary(xs):
    xs = np.asarray(xs, dtype=float)
    return {"n": int(xs.size), "sum": float(xs.sum()), "sumSq": float((xs * xs).sum())}


def reference(c, t, alpha=0.05):
    def mean_std(s):
        m = s["sum"] / s["n"]
        return m, np.sqrt((s["sumSq"] - s["sum"] ** 2 / s["n"]) / (s["n"] - 1))

    (mc, sc), (mt, st) = mean_std(c), mean_std(t)
    r = stats.ttest_ind_from_stats(mt, st, t["n"], mc, sc, c["n"], equal_var=False)
    vc, vt = sc**2 / c["n"], st**2 / t["n"]
    se = np.sqrt(vc + vt)
    df = (vc + vt) ** 2 / (vc**2 / (c["n"] - 1) + vt**2 / (t["n"] - 1))
    half = stats.t.ppf(1 - alpha / 2, df) * se
    diff = mt - mc
    return {"diff": diff, "df": df, "t": float(r.statistic), "pValue": float(r.pvalue),
            "ciLow": diff - half, "ciHigh": diff + half}


cases = []
# Quality scores in [0, 1]; the interval is checked against scipy's own on the raw rows.
qc, qt = rng.beta(6, 4, 400), rng.beta(6.4, 3.6, 380)
raw = stats.ttest_ind(qt, qc, equal_var=False)
ci = raw.confidence_interval(0.95)
c, t = summary(qc), summary(qt)
ref = reference(c, t)
assert abs(ref["pValue"] - raw.pvalue) < 1e-12 and abs(ref["ciLow"] - ci.low) < 1e-12 and abs(ref["ciHigh"] - ci.high) < 1e-12
cases.append([c, t, 0.05, ref])
# Tiny arms, unequal variances.
cases.append([{"n": 3, "sum": 1.5, "sumSq": 0.89}, {"n": 5, "sum": 4.1, "sumSq": 3.55}, 0.05,
              reference({"n": 3, "sum": 1.5, "sumSq": 0.89}, {"n": 5, "sum": 4.1, "sumSq": 3.55})])
# A million per arm, a small effect: large degrees of freedom.
c = {"n": 1_000_000, "sum": 700_000.0, "sumSq": 700_000.0 * 0.7 + 0.04 * 999_999}
t = {"n": 1_000_000, "sum": 700_500.0, "sumSq": 700_500.0 * 0.7005 + 0.0401 * 999_999}
cases.append([c, t, 0.05, reference(c, t)])
# Worse treatment, alpha 0.01, very different sizes.
c = summary(rng.beta(8, 2, 2000))
t = summary(rng.beta(5, 3, 45))
cases.append([c, t, 0.01, reference(c, t, 0.01)])
# A p-value far in the tail.
c = summary(rng.normal(0.5, 0.1, 300))
t = summary(rng.normal(0.6, 0.1, 300))
cases.append([c, t, 0.05, reference(c, t)])
for case in cases:
    print(json.dumps(case) + ",")
