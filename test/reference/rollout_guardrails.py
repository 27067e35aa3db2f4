# Reference values for test/unit/rollouts/guardrails.test.ts: the guardrails' intervals recomputed with numpy from
# the asymptotic confidence sequence (same formula as test/reference/sequential.py), at the level the one-sided
# test spends: per test a = alpha / (compared steps x enabled metrics), interval level 2a / (1 + a).
# Rates use the smoothed variance p(1 - p) with p = (x + 0.5) / (n + 1); means the sample variance (ddof = 1).
import json
import numpy as np


def rho_of(alpha, n_star):
    return np.sqrt((-2 * np.log(alpha) + np.log(-2 * np.log(alpha) + 1)) / n_star)


def width(s2, n, alpha, rho):
    return np.sqrt(s2) * np.sqrt(2 * (n * rho**2 + 1) / (n**2 * rho**2) * np.log(np.sqrt(n * rho**2 + 1) / alpha))


def interval(diff, vc, vt, nc, nt, alpha, n_star):
    n = nc + nt
    hw = width(n * (vc / nc + vt / nt), n, alpha, rho_of(alpha, n_star))
    return [diff - hw, diff + hw]


a = 0.05 / (3 * 4)
ia = 2 * a / (1 + a)
N_STAR = 2000
out = {"a": a, "interval_alpha": ia}


def rate(xc, nc, xt, nt):
    sv = lambda x, n: ((x + 0.5) / (n + 1)) * (1 - (x + 0.5) / (n + 1))
    return interval(xt / nt - xc / nc, sv(xc, nc), sv(xt, nt), nc, nt, ia, N_STAR)


def mean(c, t):
    var = lambda s: (s["sumSq"] - s["sum"] ** 2 / s["n"]) / (s["n"] - 1)
    return interval(t["sum"] / t["n"] - c["sum"] / c["n"], var(c), var(t), c["n"], t["n"], ia, N_STAR)


out["error_rate"] = rate(8, 950, 14, 50)
out["latency_share"] = rate(40, 900, 10, 100)  # requests above the pooled threshold, per arm
out["cost"] = mean({"n": 400, "sum": 0.8, "sumSq": 0.0017}, {"n": 40, "sum": 0.12, "sumSq": 0.00038})
out["quality"] = mean({"n": 300, "sum": 240, "sumSq": 200}, {"n": 60, "sum": 39, "sumSq": 27})
print(json.dumps(out, indent=1))
