# Reference values for test/unit/stats/segment-readout.test.ts: the per-segment readout's raw p-values
# (Welch from scipy, the pooled two-proportion z-test, the asymptotic confidence sequence's p-value as in
# sequential.py) and their Holm adjustment per (metric, canary) family across segments, from statsmodels'
# multipletests(method="holm"). Debian: apt-get install python3-statsmodels, then /usr/bin/python3 this file.
import json
import numpy as np
from scipy import stats
from statsmodels.stats.multitest import multipletests

ALPHA, N_STAR = 0.05, 5000
RHO = np.sqrt((-2 * np.log(ALPHA) + np.log(-2 * np.log(ALPHA) + 1)) / N_STAR)


def scores(n, mean, sd):
    """(n, sum, sumSq) of n scores with this mean and sample standard deviation."""
    return {"n": n, "sum": n * mean, "sumSq": (n - 1) * sd * sd + n * mean * mean}


def seq_p(diff, vc, nc, vt, nt):
    n = nc + nt
    s2 = n * (vc / nc + vt / nt)
    r = n * RHO**2 + 1
    log_e = RHO**2 * n**2 * diff**2 / (2 * s2 * r) - 0.5 * np.log(r)
    return min(1.0, float(np.exp(-log_e)))


def quality(c, t):
    mc, mt = c["sum"] / c["n"], t["sum"] / t["n"]
    vc = (c["sumSq"] - c["sum"] ** 2 / c["n"]) / (c["n"] - 1)
    vt = (t["sumSq"] - t["sum"] ** 2 / t["n"]) / (t["n"] - 1)
    p = stats.ttest_ind_from_stats(mc, np.sqrt(vc), c["n"], mt, np.sqrt(vt), t["n"], equal_var=False).pvalue
    return float(p), seq_p(mt - mc, vc, c["n"], vt, t["n"])


def rate(c, t):
    (nc, xc), (nt, xt) = c, t
    pc, pt, pooled = xc / nc, xt / nt, (xc + xt) / (nc + nt)
    z = (pt - pc) / np.sqrt(pooled * (1 - pooled) * (1 / nc + 1 / nt))
    return float(2 * stats.norm.sf(abs(z))), seq_p(pt - pc, pc * (1 - pc), nc, pt * (1 - pt), nt)


# segment -> (stable scores, canary scores, (stable requests, errors), (canary requests, errors))
SEGMENTS = {
    "en": (scores(2000, 0.70, 0.25), scores(2000, 0.75, 0.25), (4000, 80), (4000, 40)),
    "fr": (scores(1100, 0.70, 0.25), scores(1100, 0.735, 0.25), (3000, 60), (3000, 45)),
    "de": (scores(300, 0.70, 0.25), scores(300, 0.69, 0.25), (1000, 20), (1000, 30)),
}


def holm(ps):
    return [float(v) for v in multipletests(ps, method="holm")[1]]


print("segments", json.dumps({k: [v[0], v[1], list(v[2]), list(v[3])] for k, v in SEGMENTS.items()}))
for metric, fn, pick in [("quality", quality, (0, 1)), ("error_rate", rate, (2, 3))]:
    raw = [fn(v[pick[0]], v[pick[1]]) for v in SEGMENTS.values()]
    p, seq = [r[0] for r in raw], [r[1] for r in raw]
    print(metric, json.dumps({"p": p, "p_holm": holm(p), "seq": seq, "seq_holm": holm(seq)}))
