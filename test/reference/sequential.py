# Reference values for test/unit/statistics/sequential.test.ts: an independent numpy implementation of the
# asymptotic confidence sequence of Waudby-Smith, Arnold, Wu, Howard & Ramdas (arXiv 2103.06476, Theorem 2.2),
# two-sample form: s2 = (n_c + n_t) * (v_c / n_c + v_t / n_t), n = n_c + n_t,
#   half-width = sqrt(s2) * sqrt(2 (n rho^2 + 1) / (n^2 rho^2) * log(sqrt(n rho^2 + 1) / alpha)),
#   rho = sqrt((-2 log alpha + log(-2 log alpha + 1)) / N*),
#   e-value E = exp(rho^2 n^2 diff^2 / (2 s2 (n rho^2 + 1))) / sqrt(n rho^2 + 1), p = min(1, 1/E).
# It also finds the exactly width-minimising rho at n = N* with scipy.optimize, to show the closed form is near it.
import json
import numpy as np
from scipy import optimize

rng = np.random.default_rng(2103)


def rho_of(alpha, n_star):
    return np.sqrt((-2 * np.log(alpha) + np.log(-2 * np.log(alpha) + 1)) / n_star)


def width(s2, n, alpha, rho):
    return np.sqrt(s2) * np.sqrt(2 * (n * rho**2 + 1) / (n**2 * rho**2) * np.log(np.sqrt(n * rho**2 + 1) / alpha))


def reference(xc, xt, alpha, n_star, bernoulli=False):
    nc, nt = xc.size, xt.size
    vc, vt = (xc.var(ddof=0), xt.var(ddof=0)) if bernoulli else (xc.var(ddof=1), xt.var(ddof=1))
    diff = xt.mean() - xc.mean()
    n = nc + nt
    s2 = n * (vc / nc + vt / nt)
    rho = rho_of(alpha, n_star)
    hw = width(s2, n, alpha, rho)
    log_e = rho**2 * n**2 * diff**2 / (2 * s2 * (n * rho**2 + 1)) - 0.5 * np.log(n * rho**2 + 1)
    return {"diff": diff, "halfWidth": hw, "low": diff - hw, "high": diff + hw, "pValue": min(1.0, np.exp(-log_e))}


def summary(xs):
    return {"n": int(xs.size), "sum": float(xs.sum()), "sumSq": float((xs * xs).sum())}


print("rho", json.dumps([[a, ns, rho_of(a, ns)] for a, ns in [(0.05, 5000), (0.05, 1000), (0.01, 20000)]]))
best = optimize.minimize_scalar(lambda r: width(1.0, 5000, 0.05, r), bounds=(1e-4, 1.0), method="bounded")
print("optimal rho at n = N* = 5000, alpha 0.05:", json.dumps([best.x, width(1.0, 5000, 0.05, best.x),
                                                               width(1.0, 5000, 0.05, rho_of(0.05, 5000))]))
print("means")
for (mc, mt, sd, nc, nt, alpha, n_star) in [(0.62, 0.66, 0.25, 800, 780, 0.05, 5000), (0.7, 0.7, 0.2, 40, 35, 0.05, 5000),
                                            (0.5, 0.45, 0.3, 20000, 5000, 0.01, 2000), (0.6, 0.61, 0.25, 3000, 3100, 0.05, 1000)]:
    xc, xt = np.clip(rng.normal(mc, sd, nc), 0, 1), np.clip(rng.normal(mt, sd, nt), 0, 1)
    print(json.dumps([summary(xc), summary(xt), {"alpha": alpha, "tuningN": n_star}, reference(xc, xt, alpha, n_star)]) + ",")
print("proportions")
for (pc, pt, nc, nt, alpha, n_star) in [(0.05, 0.03, 2000, 2100, 0.05, 5000), (0.1, 0.1, 300, 320, 0.05, 5000),
                                        (0.02, 0.04, 40000, 40000, 0.05, 5000)]:
    xc, xt = (rng.random(nc) < pc).astype(float), (rng.random(nt) < pt).astype(float)
    print(json.dumps([{"n": nc, "x": int(xc.sum())}, {"n": nt, "x": int(xt.sum())}, {"alpha": alpha, "tuningN": n_star},
                      reference(xc, xt, alpha, n_star, bernoulli=True)]) + ",")
