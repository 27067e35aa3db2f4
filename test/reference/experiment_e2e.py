# Reference values for test/experiment.test.ts: the feedback the end-to-end test sends is drawn from
# mulberry32 (test/support/random.ts) over five score levels, reproduced here bit for bit, and compared
# with scipy: Welch's t-test (scipy.stats.ttest_ind, equal_var=False) with the Welch-Satterthwaite
# interval, and the pooled two-proportion z-test with Newcombe's interval (as in proportions.py).
import json
import numpy as np
from scipy import stats

LEVELS = [0, 0.25, 0.5, 0.75, 1]
M32 = 0xFFFFFFFF


def mulberry32(seed):
    a = seed & M32

    def next_uniform():
        nonlocal a
        a = (a + 0x6D2B79F5) & M32
        t = a
        t = ((t ^ (t >> 15)) * (t | 1)) & M32
        t = (t ^ ((t + (((t ^ (t >> 7)) * (t | 61)) & M32)) & M32)) & M32
        return ((t ^ (t >> 14)) & M32) / 4294967296

    return next_uniform


def levels(seed, n, probs):
    u = mulberry32(seed)
    out = []
    for _ in range(n):
        x = u()
        c = 0.0
        k = 0
        while k < len(probs) - 1:
            c += probs[k]
            if x < c:
                break
            k += 1
        out.append(LEVELS[k])
    return out


def welch(c, t, alpha=0.05):
    c, t = np.asarray(c, dtype=float), np.asarray(t, dtype=float)
    r = stats.ttest_ind(t, c, equal_var=False)
    vc, vt = c.var(ddof=1) / c.size, t.var(ddof=1) / t.size
    df = (vc + vt) ** 2 / (vc**2 / (c.size - 1) + vt**2 / (t.size - 1))
    half = stats.t.ppf(1 - alpha / 2, df) * np.sqrt(vc + vt)
    diff = t.mean() - c.mean()
    return {"control_mean": c.mean(), "treatment_mean": t.mean(), "diff": diff, "p_value": float(r.pvalue),
            "ci_low": diff - half, "ci_high": diff + half}


def proportions(c, t, alpha=0.05):
    pc, pt = c["x"] / c["n"], t["x"] / t["n"]
    diff = pt - pc
    pooled = (c["x"] + t["x"]) / (c["n"] + t["n"])
    se0 = (pooled * (1 - pooled) * (1 / c["n"] + 1 / t["n"])) ** 0.5
    p = 2 * stats.norm.sf(abs(diff / se0))
    wt = stats.binomtest(t["x"], t["n"]).proportion_ci(1 - alpha, method="wilson")
    wc = stats.binomtest(c["x"], c["n"]).proportion_ci(1 - alpha, method="wilson")
    low = diff - ((pt - wt.low) ** 2 + (wc.high - pc) ** 2) ** 0.5
    high = diff + ((wt.high - pt) ** 2 + (pc - wc.low) ** 2) ** 0.5
    return {"diff": diff, "p_value": float(p), "ci_low": low, "ci_high": high}


# The constants of test/experiment.test.ts.
CONTROL = [0.1, 0.2, 0.3, 0.25, 0.15]
BETTER = [0.05, 0.1, 0.25, 0.35, 0.25]
N = 300
print("ab quality", json.dumps(welch(levels(1401, N, CONTROL), levels(1402, N, BETTER))))
print("aa quality", json.dumps(welch(levels(1403, N, CONTROL), levels(1406, N, CONTROL))))
print("ab thumbs_down_rate", json.dumps(proportions({"n": 200, "x": 20}, {"n": 200, "x": 60})))
